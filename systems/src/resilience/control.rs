//! The control plane: per-row window and timing columns that only the
//! tick writes, per-strategy settings and totals, and the tick itself.
//!
//! Each row keeps a base: its cumulative success and failure counts when
//! its current window began. The failures in the window are then the
//! cumulative count (summed over the per-slot counters) minus the base,
//! so the tick writes nothing for a closed row that cannot open: it reads
//! the failure counters, the base, the previous window's failures and
//! the state byte (15 bytes a row with one slot in use), and moves on.
//! The sliding window is the current window plus the previous one
//! weighted by how much of it still overlaps (the two-bucket
//! approximation). When a strategy's window rolls over, each of its rows
//! moves its base forward once, at the first tick in the new window; the
//! calls made between the previous tick and that one count in the old
//! window, so windows are exact to one tick period. A closed breaker opens when the window
//! holds at least `minimum_calls` calls and `failure_threshold` failures;
//! an open one half-opens after `reset_timeout`; a half-open one closes
//! when `half_open_max` probes succeeded and reopens on any failed probe.
//! Per-strategy rates come from per-strategy counters the hot path keeps
//! beside the row counters, not from the rows.

use std::collections::HashMap;

use super::adaptive::{Adaptive, Values};
use super::breaker::{BreakerId, BreakerState, BreakerTable, MAX_SLOTS};
use super::config::StrategyConfig;
use super::retry::MIN_RETRY_TOKENS;
use super::share::{RemoteTransition, Share};
use super::{Resilience, ResilienceError, ResilienceOptions};
use crate::sync::{AtomicU32, AtomicU8, Ordering};

/// Transitions kept per tick for publishing (more are applied, counted,
/// and not published).
const MAX_TRANSITIONS_PER_TICK: usize = 65_536;

/// Control-plane columns, one entry per row.
#[derive(Default)]
struct Rows {
    strategy: Vec<u16>,
    base_ok: Vec<u32>,
    base_failed: Vec<u32>,
    prev_calls: Vec<u32>,
    prev_failed: Vec<u32>,
    /// The failure count at which the row's window reaches its threshold:
    /// `base_failed + threshold - prev_failed` (wrapping), so the scan
    /// compares one column with the counters.
    trip_at: Vec<u32>,
    opened_at_ns: Vec<u64>,
    first_open_ns: Vec<u64>,
    probes_failed: Vec<bool>,
    lamport: Vec<u64>,
    writer: Vec<u32>,
}

impl Rows {
    fn with_capacity(n: usize) -> Rows {
        Rows {
            strategy: Vec::with_capacity(n),
            base_ok: Vec::with_capacity(n),
            base_failed: Vec::with_capacity(n),
            prev_calls: Vec::with_capacity(n),
            prev_failed: Vec::with_capacity(n),
            trip_at: Vec::with_capacity(n),
            opened_at_ns: Vec::with_capacity(n),
            first_open_ns: Vec::with_capacity(n),
            probes_failed: Vec::with_capacity(n),
            lamport: Vec::with_capacity(n),
            writer: Vec::with_capacity(n),
        }
    }

    /// A new row; with no threshold known yet it is a candidate until the
    /// next full scan sets `trip_at`.
    fn push(&mut self, strategy: u16, totals: (u32, u32), threshold: Option<u32>) {
        self.strategy.push(strategy);
        self.base_ok.push(totals.0);
        self.base_failed.push(totals.1);
        self.prev_calls.push(0);
        self.prev_failed.push(0);
        self.trip_at
            .push(totals.1.wrapping_add(threshold.unwrap_or(0)));
        self.opened_at_ns.push(0);
        self.first_open_ns.push(0);
        self.probes_failed.push(false);
        self.lamport.push(0);
        self.writer.push(0);
    }

    fn len(&self) -> usize {
        self.strategy.len()
    }

    /// Recomputes where the row trips after its base, previous window or
    /// threshold changed.
    fn set_trip(&mut self, row: usize, threshold: u32) {
        self.trip_at[row] =
            self.base_failed[row].wrapping_add(threshold.saturating_sub(self.prev_failed[row]));
    }

    /// (calls, failures) of the row since its window's base.
    fn since_base(&self, row: usize, (ok, failed): (u32, u32)) -> (u32, u32) {
        let calls = ok
            .wrapping_add(failed)
            .wrapping_sub(self.base_ok[row].wrapping_add(self.base_failed[row]));
        (calls, failed.wrapping_sub(self.base_failed[row]))
    }

    /// Starts a fresh window at the row's current totals.
    fn reset_window(&mut self, row: usize, totals: (u32, u32)) {
        self.base_ok[row] = totals.0;
        self.base_failed[row] = totals.1;
        self.prev_calls[row] = 0;
        self.prev_failed[row] = 0;
    }

    /// Moves the base to the current totals; the window just ended becomes
    /// the previous one if it was the one right before (`lag` 1).
    fn roll(&mut self, row: usize, totals: (u32, u32), lag: u32) {
        let (calls, failed) = self.since_base(row, totals);
        (self.prev_calls[row], self.prev_failed[row]) =
            if lag == 1 { (calls, failed) } else { (0, 0) };
        self.base_ok[row] = totals.0;
        self.base_failed[row] = totals.1;
    }
}

/// Rows the scan's first pass looks at before handling candidates.
const CHUNK: usize = 4_096;

/// One chunk of the columns the scan's first pass reads.
struct Chunk<'a> {
    trip_at: &'a [u32],
    states: &'a [AtomicU8],
}

impl Chunk<'_> {
    /// Writes the chunk offsets of candidate rows (not closed, or failures
    /// at the trip point) into `out`; returns how many. `failed(i)` is
    /// row `i`'s cumulative failure count.
    #[inline(always)]
    fn candidates(&self, failed: impl Fn(usize) -> u32, out: &mut [u32; CHUNK]) -> usize {
        let n = self.trip_at.len().min(CHUNK);
        let (trip_at, states) = (&self.trip_at[..n], &self.states[..n]);
        let mut found = 0;
        for i in 0..n {
            // Window failures stay far below 2^31, so the wrapping
            // difference's sign says which side of the trip point the
            // counter is on.
            let reached = failed(i).wrapping_sub(trip_at[i]) as i32 >= 0;
            // Relaxed: the tick is the only writer of the state byte.
            let closed = states[i].load(Ordering::Relaxed) == BreakerState::Closed as u8;
            out[found] = i as u32;
            found += usize::from(!closed || reached);
        }
        found
    }
}

/// A row's cumulative count over the given slot columns.
#[inline]
fn sum(columns: &[&[AtomicU32]], row: usize) -> u32 {
    // Relaxed: see `BreakerTable::record`.
    columns
        .iter()
        .fold(0u32, |t, c| t.wrapping_add(c[row].load(Ordering::Relaxed)))
}

/// What the row scan needs of a strategy, copied once per tick.
#[derive(Debug, Clone, Copy, Default)]
struct TickParams {
    threshold: u32,
    minimum_calls: u32,
    half_open_max: u32,
    reset_timeout_ns: u64,
    /// Windows rolled since the last tick (0: none).
    roll_lag: u32,
    /// 1024ths of the previous window still inside the sliding one.
    prev_weight: u32,
}

/// One strategy's control-plane state.
pub(crate) struct StrategyControl {
    pub(crate) config: StrategyConfig,
    /// Values in force (adapted when adaptation is on).
    pub(crate) values: Values,
    pub(crate) calls_total: u64,
    pub(crate) failures_total: u64,
    pub(crate) by_state: [u64; 3],
    pub(crate) adaptive: Adaptive,
    budget_credit: f64,
    recent_calls: u64,
    epoch: u64,
    last_totals: (u32, u32),
}

/// A transition made this tick.
#[derive(Debug, Clone, Copy)]
struct Transition {
    row: u32,
    to: BreakerState,
    local: bool,
}

pub(crate) struct Control {
    rows: Rows,
    pub(crate) strategies: Vec<StrategyControl>,
    pub(crate) names: HashMap<Box<str>, u16>,
    /// Keyed rows, per strategy: looked up by `&[u8]` without allocating.
    keys: Vec<HashMap<Box<[u8]>, u32>>,
    row_keys: HashMap<u32, Box<[u8]>>,
    transitions: Vec<Transition>,
    pub(crate) unpublished_transitions: u64,
    pub(crate) share: Option<Share>,
    pub(crate) max_entries: usize,
    pub(crate) max_concurrent_operations: u32,
    pub(crate) max_queue_depth: u32,
    node: u32,
    adaptive_interval: std::time::Duration,
    pub(crate) ticks: u64,
    remote: Vec<RemoteTransition>,
    params: Vec<TickParams>,
    gates: Vec<u32>,
    decisions: Vec<(u32, BreakerState)>,
}

impl Control {
    pub(crate) fn new(o: &ResilienceOptions) -> Control {
        Control {
            rows: Rows::with_capacity(o.max_breakers),
            strategies: Vec::with_capacity(o.max_strategies),
            names: HashMap::new(),
            keys: Vec::with_capacity(o.max_strategies),
            row_keys: HashMap::new(),
            transitions: Vec::with_capacity(1024),
            unpublished_transitions: 0,
            share: None,
            max_entries: o.max_breakers,
            max_concurrent_operations: o.max_concurrent_operations,
            max_queue_depth: o.max_queue_depth,
            node: o.node_id,
            adaptive_interval: o.adaptive_interval,
            ticks: 0,
            remote: Vec::with_capacity(256),
            params: Vec::with_capacity(o.max_strategies),
            gates: Vec::with_capacity(o.max_strategies),
            decisions: Vec::with_capacity(1024),
        }
    }

    pub(crate) fn rows_in_use(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn add_row(
        &mut self,
        table: &BreakerTable,
        strategy: u16,
    ) -> Result<u32, ResilienceError> {
        let row = self.rows.len();
        if row >= self.max_entries.min(table.capacity()) {
            return Err(ResilienceError::TableFull {
                rows: row,
                max: self.max_entries,
            });
        }
        // Rows are never reused, so a new row's counters are zero; read
        // them anyway so its window starts at its true totals.
        let threshold = self
            .strategies
            .get(usize::from(strategy))
            .map(|s| s.values.failure_threshold);
        self.rows.push(strategy, table.totals(row), threshold);
        if let Some(s) = self.strategies.get_mut(usize::from(strategy)) {
            s.by_state[BreakerState::Closed as usize] += 1;
        }
        Ok(row as u32)
    }

    pub(crate) fn add_strategy(
        &mut self,
        name: &str,
        config: StrategyConfig,
        capacity: u32,
        now_ns: u64,
    ) {
        let index = self.strategies.len() as u16;
        self.names.insert(name.into(), index);
        self.strategies.push(StrategyControl {
            values: Values::from_config(&config, capacity),
            config,
            calls_total: 0,
            failures_total: 0,
            by_state: [1, 0, 0],
            adaptive: Adaptive::new(now_ns),
            budget_credit: 0.0,
            recent_calls: 0,
            epoch: now_ns / window_ns(&config),
            last_totals: (0, 0),
        });
    }

    pub(crate) fn strategy_index(&self, name: &str) -> Result<u16, ResilienceError> {
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| ResilienceError::UnknownStrategy(name.to_owned()))
    }

    pub(crate) fn keyed_row(
        &mut self,
        table: &BreakerTable,
        strategy: u16,
        key: &[u8],
    ) -> Result<BreakerId, ResilienceError> {
        let index = usize::from(strategy);
        if let Some(&row) = self.keys.get(index).and_then(|k| k.get(key)) {
            return Ok(BreakerId { strategy, row });
        }
        let row = self.add_row(table, strategy)?;
        if self.keys.len() <= index {
            self.keys.resize_with(index + 1, HashMap::new);
        }
        self.keys[index].insert(key.into(), row);
        self.row_keys.insert(row, key.into());
        Ok(BreakerId { strategy, row })
    }

    /// A strategy's bulkhead (capacity, queue depth): its own, else the
    /// limits; never above them.
    pub(crate) fn bulkhead_limits(&self, config: &StrategyConfig) -> (u32, u32) {
        let limit = self.max_concurrent_operations;
        let capacity = config.bulkhead.max_concurrent.unwrap_or(limit).min(limit);
        (
            capacity,
            config.bulkhead.max_queue.min(self.max_queue_depth),
        )
    }

    pub(crate) fn set_config(&mut self, index: usize, config: StrategyConfig, capacity: u32) {
        let s = &mut self.strategies[index];
        s.config = config;
        s.values = Values::from_config(&config, capacity);
    }

    pub(crate) fn effective_config(&self, index: usize) -> StrategyConfig {
        let s = &self.strategies[index];
        let mut c = s.config;
        c.breaker.failure_threshold = s.values.failure_threshold;
        c.breaker.reset_timeout = std::time::Duration::from_nanos(s.values.reset_timeout_ns);
        if c.bulkhead.max_concurrent.is_some() || c.adaptive.enabled {
            c.bulkhead.max_concurrent = Some(s.values.bulkhead);
        }
        c
    }

    /// One pass: counters → transitions → budgets → adaptation → sharing.
    pub(crate) fn tick(&mut self, r: &Resilience, now_ns: u64) {
        self.ticks += 1;
        self.transitions.clear();
        self.params.clear();
        for s in &mut self.strategies {
            let window = window_ns(&s.config);
            let epoch = now_ns / window;
            let lag = epoch.saturating_sub(s.epoch).min(u64::from(u32::MAX)) as u32;
            s.epoch = s.epoch.max(epoch);
            self.params.push(TickParams {
                threshold: s.values.failure_threshold,
                minimum_calls: s.config.breaker.minimum_calls,
                half_open_max: s.config.breaker.half_open_max,
                reset_timeout_ns: s.values.reset_timeout_ns,
                roll_lag: lag,
                prev_weight: (1024 - (now_ns % window) * 1024 / window) as u32,
            });
        }
        self.scan_rows(&r.table, now_ns);
        let mut decisions = std::mem::take(&mut self.decisions);
        for (row, to) in decisions.drain(..) {
            self.transition(&r.table, row as usize, to, now_ns, true);
        }
        self.decisions = decisions;
        self.merge_remote(r, now_ns);
        self.publish(r);
        self.after_rows(r, now_ns);
    }

    /// The row scan, a chunk at a time: a tight read-only pass finds the
    /// rows that may change (not closed, or failures at the trip point),
    /// then `step_row` handles only those. The first pass is the whole
    /// cost of a closed row that cannot open: its failure counters, its
    /// trip point and its state byte (9 bytes with one slot in use).
    ///
    /// A full pass (every row through `step_row`, trip points recomputed)
    /// runs instead when a strategy's window rolled or its threshold
    /// changed: about once per window.
    fn scan_rows(&mut self, table: &BreakerTable, now_ns: u64) {
        let empty: &[AtomicU32] = &[];
        let (mut ok, mut failed) = ([empty; MAX_SLOTS], [empty; MAX_SLOTS]);
        let k = table.seen_columns(&mut ok, &mut failed);
        let (ok, failed) = (&ok[..k], &failed[..k]);
        let thresholds = self.params.iter().map(|p| p.threshold);
        let full = self.params.iter().any(|p| p.roll_lag > 0)
            || !self.gates.iter().copied().eq(thresholds.clone());
        self.gates.clear();
        self.gates.extend(thresholds);
        let n = self.rows.len();
        let mut candidates = [0u32; CHUNK];
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            let found = if full {
                for (i, c) in candidates.iter_mut().enumerate().take(end - start) {
                    *c = i as u32;
                }
                end - start
            } else {
                let chunk = Chunk {
                    trip_at: &self.rows.trip_at[start..end],
                    states: &table.states()[start..end],
                };
                match failed {
                    [] => chunk.candidates(|_| 0, &mut candidates),
                    [a] => {
                        let a = &a[start..end];
                        // Relaxed: see `BreakerTable::record`.
                        chunk.candidates(|i| a[i].load(Ordering::Relaxed), &mut candidates)
                    }
                    [a, b] => {
                        let (a, b) = (&a[start..end], &b[start..end]);
                        chunk.candidates(
                            |i| {
                                a[i].load(Ordering::Relaxed)
                                    .wrapping_add(b[i].load(Ordering::Relaxed))
                            },
                            &mut candidates,
                        )
                    }
                    many => chunk.candidates(|i| sum(many, start + i), &mut candidates),
                }
            };
            for &i in &candidates[..found] {
                let row = start + i as usize;
                let si = usize::from(self.rows.strategy[row]);
                let p = &self.params[si];
                let totals = (sum(ok, row), sum(failed, row));
                let state = table.state(row);
                if let Some(to) = step_row(&mut self.rows, table, row, p, state, totals, now_ns) {
                    self.decisions.push((row as u32, to));
                }
                if full {
                    self.rows.set_trip(row, self.gates[si]);
                }
            }
            start = end;
        }
    }

    /// Moves a row to `to`; `local` if this node decided it (and should
    /// publish it), not a merge of a remote one.
    fn transition(
        &mut self,
        table: &BreakerTable,
        row: usize,
        to: BreakerState,
        now_ns: u64,
        local: bool,
    ) {
        let from = table.state(row);
        if from == to {
            return;
        }
        table.set_state(row, to);
        let si = usize::from(self.rows.strategy[row]);
        let s = &mut self.strategies[si];
        s.by_state[from as usize] -= 1;
        s.by_state[to as usize] += 1;
        let rows = &mut self.rows;
        match to {
            BreakerState::Open => {
                rows.opened_at_ns[row] = now_ns;
                if from == BreakerState::Closed {
                    rows.first_open_ns[row] = now_ns;
                    rows.probes_failed[row] = false;
                }
            }
            BreakerState::HalfOpen => {}
            BreakerState::Closed => {
                if from == BreakerState::HalfOpen && local {
                    let took = now_ns.saturating_sub(rows.first_open_ns[row]);
                    s.adaptive.observe_recovery(took, rows.probes_failed[row]);
                }
                // Outcomes before the close do not count against the
                // closed breaker.
                rows.reset_window(row, table.totals(row));
                rows.set_trip(row, s.values.failure_threshold);
            }
        }
        if local {
            rows.lamport[row] += 1;
            rows.writer[row] = self.node;
        }
        if self.transitions.len() < MAX_TRANSITIONS_PER_TICK {
            self.transitions.push(Transition {
                row: row as u32,
                to,
                local,
            });
        } else if local {
            self.unpublished_transitions += 1;
        }
    }

    fn publish(&mut self, r: &Resilience) {
        let Some(share) = self.share.as_mut() else {
            return;
        };
        for t in &self.transitions {
            let row = t.row as usize;
            let si = self.rows.strategy[row];
            let shared = self.strategies[usize::from(si)].config.shared;
            if !t.local || !shared {
                continue;
            }
            let Some(strategy) = r.strategy_at(si) else {
                continue;
            };
            let key = self.row_keys.get(&t.row).map_or(&[][..], |k| &k[..]);
            share.publish(&strategy.name, key, t.to, self.node, self.rows.lamport[row]);
        }
    }

    fn merge_remote(&mut self, r: &Resilience, now_ns: u64) {
        let Some(share) = self.share.as_mut() else {
            return;
        };
        let mut remote = std::mem::take(&mut self.remote);
        remote.clear();
        share.poll(self.node, &mut remote);
        for m in &remote {
            let Some(&si) = self.names.get(m.strategy.as_str()) else {
                if let Some(s) = self.share.as_mut() {
                    s.unknown_strategy += 1;
                }
                continue;
            };
            if !self.strategies[usize::from(si)].config.shared {
                continue;
            }
            let row = if m.key.is_empty() {
                r.strategy_at(si).map(|s| s.row as usize)
            } else {
                self.keyed_row(&r.table, si, &m.key).ok().map(|id| id.row())
            };
            let Some(row) = row else {
                continue;
            };
            self.merge_one(&r.table, row, m, now_ns);
        }
        self.remote = remote;
    }

    fn merge_one(&mut self, table: &BreakerTable, row: usize, m: &RemoteTransition, now_ns: u64) {
        let rows = &mut self.rows;
        // Lamport: every later local transition is stamped after this one.
        let newer = (m.lamport, m.node) > (rows.lamport[row], rows.writer[row]);
        let share = self.share.as_mut().expect("merge runs only when sharing");
        share.received += 1;
        match share.mode {
            super::ShareMode::LastWriterWins => {
                if newer {
                    rows.lamport[row] = m.lamport;
                    rows.writer[row] = m.node;
                    share.applied += 1;
                    self.transition(table, row, m.state, now_ns, false);
                }
            }
            super::ShareMode::Quorum { .. } => {
                rows.lamport[row] = rows.lamport[row].max(m.lamport);
                if share.vote(row as u32, m.node, m.state, now_ns)
                    && table.state(row) == BreakerState::Closed
                {
                    share.applied += 1;
                    self.transition(table, row, BreakerState::Open, now_ns, false);
                }
            }
        }
    }

    fn after_rows(&mut self, r: &Resilience, now_ns: u64) {
        let interval = self.adaptive_interval;
        let ceiling = self.max_concurrent_operations;
        for (i, s) in self.strategies.iter_mut().enumerate() {
            let own_row = r.strategy_at(i as u16).map_or(0, |s| s.row as usize);
            let totals = r.table.strategy_totals(i as u16, own_row);
            let d_ok = totals.0.wrapping_sub(s.last_totals.0);
            let d_failed = totals.1.wrapping_sub(s.last_totals.1);
            s.last_totals = totals;
            let (calls, failures) = (u64::from(d_ok) + u64::from(d_failed), u64::from(d_failed));
            s.calls_total += calls;
            s.failures_total += failures;
            let Some(strategy) = r.strategy_at(i as u16) else {
                continue;
            };
            // Retry budget: `permille` of the calls counted, up to that
            // share of the recent ones (plus a floor).
            s.recent_calls = s.recent_calls - s.recent_calls / 64 + calls;
            let share = f64::from(s.config.retry.budget_permille) / 1000.0;
            s.budget_credit += share * calls as f64;
            let whole = s.budget_credit.floor();
            s.budget_credit -= whole;
            let cap = MIN_RETRY_TOKENS + (share * s.recent_calls as f64) as i64;
            strategy.budget.refill(whole as i64, cap);

            s.adaptive.add(calls, failures);
            s.adaptive.advance(now_ns, || {
                strategy.latency.with(|p| {
                    let out = (p.interval.value_at_quantile(0.99), p.interval.len());
                    p.interval.reset();
                    out
                })
            });
            if s.config.adaptive.enabled && s.adaptive.due(now_ns, interval) {
                let before = s.values;
                s.values = s
                    .adaptive
                    .recompute(now_ns, before, &s.config.adaptive, ceiling);
                if s.values.bulkhead != before.bulkhead {
                    strategy.bulkhead.resize(s.values.bulkhead);
                }
            }
        }
    }

    /// Total calls and failures, per strategy.
    pub(crate) fn totals(&self, index: usize) -> (u64, u64) {
        let s = &self.strategies[index];
        (s.calls_total, s.failures_total)
    }
}

/// A row that may change state: rolls its window if due, and decides.
#[inline]
fn step_row(
    rows: &mut Rows,
    table: &BreakerTable,
    row: usize,
    p: &TickParams,
    state: BreakerState,
    totals: (u32, u32),
    now_ns: u64,
) -> Option<BreakerState> {
    if p.roll_lag > 0 {
        rows.roll(row, totals, p.roll_lag);
        rows.set_trip(row, p.threshold);
    }
    match state {
        BreakerState::Closed => {
            let (calls, failed) = rows.since_base(row, totals);
            let w = u64::from(p.prev_weight);
            let window_calls = u64::from(calls) + ((u64::from(rows.prev_calls[row]) * w) >> 10);
            let window_failed = u64::from(failed) + ((u64::from(rows.prev_failed[row]) * w) >> 10);
            (window_calls >= u64::from(p.minimum_calls) && window_failed >= u64::from(p.threshold))
                .then_some(BreakerState::Open)
        }
        BreakerState::Open => (now_ns.saturating_sub(rows.opened_at_ns[row]) >= p.reset_timeout_ns)
            .then_some(BreakerState::HalfOpen),
        BreakerState::HalfOpen => {
            let (ok, failed) = table.probe_outcomes(row);
            if failed > 0 {
                rows.probes_failed[row] = true;
                Some(BreakerState::Open)
            } else if ok >= p.half_open_max {
                Some(BreakerState::Closed)
            } else {
                None
            }
        }
    }
}

/// A strategy's breaker window in ns (at least 1).
fn window_ns(config: &StrategyConfig) -> u64 {
    config.breaker.window.as_nanos().max(1) as u64
}
