//! The `tick` workload: a table of breaker-like rows (failure counter,
//! success counter, state byte, timestamp) updated by a system that trips
//! rows over a threshold and re-closes rows whose reset timeout passed.
//! The peer is the same update over an array of structs.

use bytemuck::{Pod, Zeroable};
use keel_engine::{Col, Scheduler, System, TableId, World};

/// State byte: closed.
pub const CLOSED: u8 = 0;
/// State byte: open.
pub const OPEN: u8 = 1;

/// The trip rule's constants.
#[derive(Debug, Clone, Copy)]
pub struct TripRule {
    /// Failures in the window that open a closed row.
    pub failure_threshold: u32,
    /// Calls in the window before a row may open.
    pub minimum_calls: u32,
    /// Time after which an open row closes again, ns.
    pub reset_ns: u64,
}

impl Default for TripRule {
    fn default() -> Self {
        TripRule {
            failure_threshold: 50,
            minimum_calls: 20,
            reset_ns: 1_000_000,
        }
    }
}

/// One row's update, branch-free: returns the new state and opened-at time.
///
/// A closed row over the thresholds opens (and records `now_ns`); an open
/// row whose reset timeout passed closes. Written with masks rather than
/// branches so the column loop vectorises.
#[inline(always)]
pub fn trip(
    failures: u32,
    successes: u32,
    state: u8,
    opened_at_ns: u64,
    now_ns: u64,
    rule: &TripRule,
) -> (u8, u64) {
    let calls = failures.wrapping_add(successes);
    let closed = u8::from(state == CLOSED);
    let trips = closed
        & u8::from(failures >= rule.failure_threshold)
        & u8::from(calls >= rule.minimum_calls);
    let recloses = (closed ^ 1) & u8::from(now_ns.wrapping_sub(opened_at_ns) >= rule.reset_ns);
    // trips and recloses exclude each other: open on trip, close on reclose.
    let state = (state | trips) & (recloses ^ 1);
    let take_now = 0u64.wrapping_sub(u64::from(trips));
    let opened_at_ns = opened_at_ns ^ ((opened_at_ns ^ now_ns) & take_now);
    (state, opened_at_ns)
}

/// The update over columns (struct of arrays).
#[inline]
pub fn trip_columns(
    failures: &[u32],
    successes: &[u32],
    state: &mut [u8],
    opened_at_ns: &mut [u64],
    now_ns: u64,
    rule: &TripRule,
) {
    let n = state
        .len()
        .min(opened_at_ns.len())
        .min(failures.len())
        .min(successes.len());
    let (failures, successes, state, opened_at_ns) = (
        &failures[..n],
        &successes[..n],
        &mut state[..n],
        &mut opened_at_ns[..n],
    );
    for i in 0..n {
        let (s, t) = trip(
            failures[i],
            successes[i],
            state[i],
            opened_at_ns[i],
            now_ns,
            rule,
        );
        state[i] = s;
        opened_at_ns[i] = t;
    }
}

/// One row as a struct (the peer's layout).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AosRow {
    /// Failures in the window.
    pub failures: u32,
    /// Successes in the window.
    pub successes: u32,
    /// When the row last opened, ns.
    pub opened_at_ns: u64,
    /// State byte.
    pub state: u8,
    /// Padding to the struct's alignment.
    pub pad: [u8; 7],
}

/// The update over an array of structs: the peer.
#[inline]
pub fn trip_aos(rows: &mut [AosRow], now_ns: u64, rule: &TripRule) {
    for r in rows {
        let (s, t) = trip(
            r.failures,
            r.successes,
            r.state,
            r.opened_at_ns,
            now_ns,
            rule,
        );
        r.state = s;
        r.opened_at_ns = t;
    }
}

/// Columns of the breaker table.
#[derive(Debug, Clone, Copy)]
pub struct BreakerColumns {
    /// The table.
    pub table: TableId,
    /// Failures in the window.
    pub failures: Col<u32>,
    /// Successes in the window.
    pub successes: Col<u32>,
    /// State byte.
    pub state: Col<u8>,
    /// When the row last opened, ns.
    pub opened_at_ns: Col<u64>,
}

/// Deterministic pseudo-random counters (xorshift), so runs compare.
fn counters(rows: usize) -> impl Iterator<Item = (u32, u32)> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..rows).map(move |_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ((x % 100) as u32, ((x >> 32) % 100) as u32)
    })
}

/// A world holding one breaker table of `rows` live rows.
pub fn breaker_world(rows: usize) -> (World, BreakerColumns) {
    let mut world = World::new();
    let table = world
        .add_table("breakers", rows)
        .expect("capacity in range");
    let cols = BreakerColumns {
        table,
        failures: world.add_column(table, "failures").expect("new column"),
        successes: world.add_column(table, "successes").expect("new column"),
        state: world.add_column(table, "state").expect("new column"),
        opened_at_ns: world.add_column(table, "opened_at_ns").expect("new column"),
    };
    let t = world.table_mut(table).expect("table exists");
    for _ in 0..rows {
        t.insert().expect("capacity is rows");
    }
    for (i, (f, s)) in counters(rows).enumerate() {
        t.column_mut(cols.failures).expect("u32 column")[i] = f;
        t.column_mut(cols.successes).expect("u32 column")[i] = s;
    }
    (world, cols)
}

/// The same rows as structs.
pub fn aos_rows(rows: usize) -> Vec<AosRow> {
    counters(rows)
        .map(|(failures, successes)| AosRow {
            failures,
            successes,
            ..AosRow::zeroed()
        })
        .collect()
}

/// The trip system, split over all participating workers.
pub fn trip_system(cols: BreakerColumns, rule: TripRule) -> System {
    System::new("trip", move |ctx| {
        let (failures, successes) = (ctx.read(cols.failures)?, ctx.read(cols.successes)?);
        let (state, opened) = (ctx.write(cols.state)?, ctx.write(cols.opened_at_ns)?);
        trip_columns(failures, successes, state, opened, ctx.now_ns(), &rule);
        Ok(())
    })
    .reads(cols.failures)
    .reads(cols.successes)
    .writes(cols.state)
    .writes(cols.opened_at_ns)
    .split_rows(cols.table, 16_384)
}

/// Registers `n` systems that declare nothing and do nothing.
pub fn add_empty_systems(scheduler: &mut Scheduler, n: usize) {
    for i in 0..n {
        scheduler
            .add_system(System::new(format!("empty-{i}"), |_| Ok(())))
            .expect("distinct names");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_structs_give_the_same_result() {
        let rule = TripRule::default();
        let (mut world, cols) = breaker_world(1_000);
        let mut aos = aos_rows(1_000);
        for now in [0, 10, 2_000_000, 2_000_010] {
            let t = world.table_mut(cols.table).unwrap();
            let f = t.column(cols.failures).unwrap().to_vec();
            let s = t.column(cols.successes).unwrap().to_vec();
            let mut state = t.column(cols.state).unwrap().to_vec();
            let mut opened = t.column(cols.opened_at_ns).unwrap().to_vec();
            trip_columns(&f, &s, &mut state, &mut opened, now, &rule);
            t.column_mut(cols.state).unwrap().copy_from_slice(&state);
            t.column_mut(cols.opened_at_ns)
                .unwrap()
                .copy_from_slice(&opened);
            trip_aos(&mut aos, now, &rule);
            for (i, r) in aos.iter().enumerate() {
                assert_eq!((r.state, r.opened_at_ns), (state[i], opened[i]));
            }
        }
        let open = aos.iter().filter(|r| r.state == OPEN).count();
        assert!(
            open > 0 && open < 1_000,
            "the rule trips some rows, not all: {open}"
        );
    }
}
