//! The breaker table: one row per strategy, or per strategy and key.
//!
//! Columns the hot path touches are atomics: the state byte (one load per
//! call), the half-open probe counters (touched only while half-open), and
//! the per-slot outcome counters (a plain load and store into this
//! thread's own column, see `slots.rs`). Everything else about a row (its
//! window, when it opened, its Lamport clock) lives in the control-plane
//! columns of `control.rs`, which only the tick writes.
//!
//! Rows are never removed, so a [`BreakerId`] stays valid for the life of
//! its `Resilience`; the table's capacity is fixed at start-up.

use crate::sync::{AtomicU32, AtomicU8, Ordering};

/// A breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BreakerState {
    /// Calls pass; outcomes are counted.
    Closed = 0,
    /// Calls are refused until the reset timeout passes.
    Open = 1,
    /// Up to `half_open_max` probe calls pass; all must succeed to close.
    HalfOpen = 2,
}

impl BreakerState {
    pub(crate) fn from_u8(v: u8) -> Option<BreakerState> {
        match v {
            0 => Some(BreakerState::Closed),
            1 => Some(BreakerState::Open),
            2 => Some(BreakerState::HalfOpen),
            _ => None,
        }
    }

    /// Lower-case name, for metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// A breaker row: its strategy and its row in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BreakerId {
    pub(crate) strategy: u16,
    pub(crate) row: u32,
}

impl BreakerId {
    /// The strategy's index in its `Resilience`.
    pub fn strategy_index(self) -> usize {
        usize::from(self.strategy)
    }

    /// The row in the breaker table.
    pub fn row(self) -> usize {
        self.row as usize
    }
}

/// What the breaker said to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Closed: run, count the outcome.
    Pass,
    /// Half-open, and this call is one of the admitted probes.
    Probe,
    /// Open, or half-open with every probe place taken.
    Refuse,
}

/// One thread's counters and state byte for one breaker row.
#[derive(Clone, Copy)]
pub(crate) struct Site<'a> {
    ok: &'a AtomicU32,
    failed: &'a AtomicU32,
    /// The strategy's keyed-row counters, for a keyed row.
    keyed: Option<(&'a AtomicU32, &'a AtomicU32)>,
    /// Whether this thread is the slot's only writer.
    exclusive: bool,
    state: &'a AtomicU8,
    row: usize,
}

/// Most counter slots a table has (exclusive ones plus the shared one).
pub(crate) const MAX_SLOTS: usize = 64;

pub(crate) struct BreakerTable {
    state: Box<[AtomicU8]>,
    probes_admitted: Box<[AtomicU32]>,
    probes_ok: Box<[AtomicU32]>,
    probes_failed: Box<[AtomicU32]>,
    /// Per slot, per row: successes and failures, cumulative, wrapping,
    /// one flat array each (slot `s`, row `r` at `s * stride + r`), so a
    /// record is one address computation away. The last slot is shared
    /// (written with `fetch_add`).
    successes: Box<[AtomicU32]>,
    failures: Box<[AtomicU32]>,
    stride: usize,
    /// Per slot, per strategy: the counts of the strategy's keyed rows
    /// (its own row's are in the row counters), so the tick gets
    /// per-strategy rates without reading every row. Same flat layout.
    keyed_successes: Box<[AtomicU32]>,
    keyed_failures: Box<[AtomicU32]>,
    keyed_stride: usize,
    slots: usize,
    /// Whether a slot has ever been written, so the tick reads only the
    /// columns in use.
    seen: Box<[AtomicU8]>,
}

/// Slot regions are padded to whole cache lines (16 counters), so two
/// slots' counters never share a line.
const LINE: usize = 16;

fn zeroed<T>(n: usize, f: impl Fn() -> T) -> Box<[T]> {
    (0..n).map(|_| f()).collect()
}

/// Adds one to a counter: a plain load and store when this thread is the
/// slot's only writer (slots.rs), a read-modify-write in the shared slot.
#[inline(always)]
fn bump(counter: &AtomicU32, exclusive: bool) {
    if exclusive {
        // Relaxed load and store: single writer; the tick reads with a
        // Relaxed load and only needs some recent value, since counts are
        // cumulative.
        counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    } else {
        // Relaxed: many writers; the RMW keeps every count.
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl BreakerTable {
    /// A table of `capacity` rows with `exclusive` single-writer slots.
    pub(crate) fn new(capacity: usize, strategies: usize, exclusive: usize) -> BreakerTable {
        let slots = exclusive.clamp(1, MAX_SLOTS - 1) + 1;
        let column = || zeroed(capacity, || AtomicU32::new(0));
        let stride = capacity.next_multiple_of(LINE);
        let keyed_stride = strategies.next_multiple_of(LINE);
        let flat = |n| zeroed(n, || AtomicU32::new(0));
        BreakerTable {
            state: zeroed(capacity, || AtomicU8::new(BreakerState::Closed as u8)),
            probes_admitted: column(),
            probes_ok: column(),
            probes_failed: column(),
            successes: flat(slots * stride),
            failures: flat(slots * stride),
            stride,
            keyed_successes: flat(slots * keyed_stride),
            keyed_failures: flat(slots * keyed_stride),
            keyed_stride,
            slots,
            seen: zeroed(slots, || AtomicU8::new(0)),
        }
    }

    /// The state column (the tick reads it in bulk).
    pub(crate) fn states(&self) -> &[AtomicU8] {
        &self.state
    }

    pub(crate) fn capacity(&self) -> usize {
        self.state.len()
    }

    pub(crate) fn slots(&self) -> usize {
        self.slots
    }

    #[inline]
    pub(crate) fn state(&self, row: usize) -> BreakerState {
        // Acquire: pairs with the Release store in `set_state`, so a call
        // that sees HalfOpen also sees the probe counters it reset.
        let v = self.state[row].load(Ordering::Acquire);
        BreakerState::from_u8(v).unwrap_or(BreakerState::Open)
    }

    /// The breaker check by row (tests).
    #[cfg(test)]
    pub(crate) fn admit(&self, row: usize, half_open_max: &AtomicU32) -> Admission {
        self.admit_at(&self.site(0, row, None), half_open_max)
    }

    #[cold]
    fn admit_probe(&self, row: usize, half_open_max: u32) -> Admission {
        // A CAS increment capped at the maximum: at most `half_open_max`
        // calls are admitted per half-open episode, however many threads
        // race here (the failsafe-rs bug this guards against lets them
        // all through). Relaxed: the count itself is the only shared
        // fact; the state byte's Acquire above ordered the reset.
        let admitted =
            self.probes_admitted[row].fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < half_open_max).then_some(n + 1)
            });
        if admitted.is_ok() {
            Admission::Probe
        } else {
            Admission::Refuse
        }
    }

    /// Where a thread with `slot` counts outcomes of `row` (and, for a
    /// keyed row, of its strategy), and the row's state byte: resolved
    /// once per call, or once per [`super::Guard`].
    #[inline(always)]
    pub(crate) fn site(&self, slot: u32, row: usize, keyed: Option<u16>) -> Site<'_> {
        let shared = self.slots - 1;
        let s = (slot as usize).min(shared);
        let at = s * self.stride + row;
        Site {
            ok: &self.successes[at],
            failed: &self.failures[at],
            keyed: keyed.map(|strategy| {
                let k = s * self.keyed_stride + usize::from(strategy);
                (&self.keyed_successes[k], &self.keyed_failures[k])
            }),
            exclusive: s < shared,
            state: &self.state[row],
            row,
        }
    }

    /// The breaker check at a resolved site: one load of the state byte
    /// when closed.
    #[inline(always)]
    pub(crate) fn admit_at(&self, site: &Site<'_>, half_open_max: &AtomicU32) -> Admission {
        // Acquire: see `state`.
        match site.state.load(Ordering::Acquire) {
            0 => Admission::Pass,
            // Relaxed: a setting; a call racing a change sees either value.
            2 => self.admit_probe(site.row, half_open_max.load(Ordering::Relaxed)),
            _ => Admission::Refuse,
        }
    }

    /// Counts one outcome at a resolved site.
    #[inline(always)]
    pub(crate) fn record_at(&self, site: &Site<'_>, ok: bool, admission: Admission) {
        bump(if ok { site.ok } else { site.failed }, site.exclusive);
        if let Some((k_ok, k_failed)) = site.keyed {
            bump(if ok { k_ok } else { k_failed }, site.exclusive);
        }
        if admission == Admission::Probe {
            self.record_probe(site.row, ok);
        }
    }

    /// Counts one outcome in this thread's slot (tests and cold paths).
    #[cfg(test)]
    pub(crate) fn record(
        &self,
        slot: u32,
        row: usize,
        keyed: Option<u16>,
        ok: bool,
        admission: Admission,
    ) {
        self.record_at(&self.site(slot, row, keyed), ok, admission);
    }

    #[cold]
    fn record_probe(&self, row: usize, ok: bool) {
        let c = if ok {
            &self.probes_ok[row]
        } else {
            &self.probes_failed[row]
        };
        // Release: pairs with the Acquire loads in `probe_outcomes`, read
        // by the tick.
        c.fetch_add(1, Ordering::Release);
    }

    /// Marks this thread's slot as written, so the tick reads its columns.
    /// Called from the bulkhead's slow path, which every thread takes on
    /// its first call through a strategy (stripes start without quota),
    /// so the hot path never checks. A slot seen a tick late loses
    /// nothing: its counts are cumulative from zero.
    pub(crate) fn mark_seen(&self, slot: u32) {
        let s = (slot as usize).min(self.slots - 1);
        // Relaxed: see above.
        if self.seen[s].load(Ordering::Relaxed) == 0 {
            self.seen[s].store(1, Ordering::Relaxed);
        }
    }

    /// Probe successes and failures of this half-open episode.
    pub(crate) fn probe_outcomes(&self, row: usize) -> (u32, u32) {
        // Acquire: pairs with `record_probe`.
        (
            self.probes_ok[row].load(Ordering::Acquire),
            self.probes_failed[row].load(Ordering::Acquire),
        )
    }

    /// Sets a row's state (tick only). Entering half-open resets the probe
    /// counters first.
    pub(crate) fn set_state(&self, row: usize, state: BreakerState) {
        if state == BreakerState::HalfOpen {
            // Relaxed: published by the Release store of the state below.
            self.probes_admitted[row].store(0, Ordering::Relaxed);
            self.probes_ok[row].store(0, Ordering::Relaxed);
            self.probes_failed[row].store(0, Ordering::Relaxed);
        }
        // Release: pairs with the Acquire loads in `admit` and `state`.
        self.state[row].store(state as u8, Ordering::Release);
    }

    /// The success and failure columns of the slots written so far, into
    /// `ok` and `failed`; returns how many.
    pub(crate) fn seen_columns<'a>(
        &'a self,
        ok: &mut [&'a [AtomicU32]; MAX_SLOTS],
        failed: &mut [&'a [AtomicU32]; MAX_SLOTS],
    ) -> usize {
        let mut n = 0;
        for s in 0..self.slots {
            // Relaxed: see `record`.
            if self.seen[s].load(Ordering::Relaxed) != 0 {
                let at = s * self.stride;
                ok[n] = &self.successes[at..at + self.capacity()];
                failed[n] = &self.failures[at..at + self.capacity()];
                n += 1;
            }
        }
        n
    }

    /// Cumulative successes and failures of a strategy: its own row's
    /// plus its keyed rows', over all slots.
    pub(crate) fn strategy_totals(&self, strategy: u16, own_row: usize) -> (u32, u32) {
        let own = self.totals(own_row);
        let (ok, failed) = (&self.keyed_successes, &self.keyed_failures);
        let keyed = self.sum_slots((ok, failed), self.keyed_stride, usize::from(strategy));
        (own.0.wrapping_add(keyed.0), own.1.wrapping_add(keyed.1))
    }

    /// Cumulative successes and failures of one row over all slots.
    pub(crate) fn totals(&self, row: usize) -> (u32, u32) {
        self.sum_slots((&self.successes, &self.failures), self.stride, row)
    }

    /// Index `at` of a pair of slot-major columns (`stride` per slot),
    /// summed over the slots.
    fn sum_slots(
        &self,
        (ok, failed): (&[AtomicU32], &[AtomicU32]),
        stride: usize,
        at: usize,
    ) -> (u32, u32) {
        (0..self.slots).fold((0u32, 0u32), |t, s| {
            let i = s * stride + at;
            // Relaxed: see `record`.
            (
                t.0.wrapping_add(ok[i].load(Ordering::Relaxed)),
                t.1.wrapping_add(failed[i].load(Ordering::Relaxed)),
            )
        })
    }

    /// Bytes the table holds.
    pub(crate) fn footprint_bytes(&self) -> u64 {
        let counters = (self.successes.len() + self.keyed_successes.len()) * 8;
        (self.capacity() * (1 + 3 * 4) + counters) as u64
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn half_open_admits_exactly_the_maximum_under_concurrency() {
        let table = Arc::new(BreakerTable::new(4, 1, 2));
        table.set_state(1, BreakerState::HalfOpen);
        let admitted: usize = (0..8)
            .map(|_| {
                let t = Arc::clone(&table);
                std::thread::spawn(move || {
                    (0..1000)
                        .filter(|_| t.admit(1, &AtomicU32::new(3)) == Admission::Probe)
                        .count()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(admitted, 3);
        // A new episode admits again.
        table.set_state(1, BreakerState::Open);
        table.set_state(1, BreakerState::HalfOpen);
        assert_eq!(table.admit(1, &AtomicU32::new(3)), Admission::Probe);
    }

    #[test]
    fn shared_slot_keeps_every_count_from_many_threads() {
        let table = Arc::new(BreakerTable::new(2, 1, 1));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let t = Arc::clone(&table);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        // Slot numbers past the exclusive ones share.
                        t.record(1_000, 1, Some(0), false, Admission::Pass);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(table.totals(1), (0, 40_000));
        assert_eq!(table.strategy_totals(0, 0), (0, 40_000));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// Two callers race for one probe place while half-open: exactly one
    /// is admitted.
    #[test]
    fn loom_half_open_admits_one_probe_of_two() {
        loom::model(|| {
            let table = Arc::new(BreakerTable::new(1, 1, 1));
            table.set_state(0, BreakerState::HalfOpen);
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let t = Arc::clone(&table);
                    loom::thread::spawn(move || t.admit(0, &AtomicU32::new(1)) == Admission::Probe)
                })
                .collect();
            let n = hs
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|a| *a)
                .count();
            assert_eq!(n, 1);
        });
    }
}
