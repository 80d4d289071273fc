//! The scalable contract: limits (instance-wide and per strategy),
//! metrics, backpressure.
//!
//! Per-strategy settings are limits named `{strategy}.{setting}`:
//! `failure_threshold`, `minimum_calls`, `reset_timeout_ms`,
//! `half_open_max`, `window_ms`, `bulkhead_max_concurrent` (0 = follow
//! `max_concurrent_operations`), `bulkhead_max_queue`,
//! `bulkhead_max_wait_ms`, `max_retries`, `backoff` (0 constant, 1 linear,
//! 2 exponential), `jitter` (0 none, 1 full, 2 equal, 3 decorrelated),
//! `backoff_initial_ms`, `backoff_max_ms`, `retry_budget_permille`,
//! `adaptive` (0 or 1).

use keel_engine::{
    BackpressureState, BackpressureStrategy, LimitBounds, Limits, LimitsError, MetricsSnapshot,
    Scalable,
};

use super::config::{MAX_PERMITS, SETTINGS};
use super::control::Control;
use super::Resilience;

const NAME: &str = "resilience";

impl Resilience {
    fn names(control: &Control) -> Vec<(u16, String)> {
        let mut v: Vec<(u16, String)> = control
            .names
            .iter()
            .map(|(n, i)| (*i, n.to_string()))
            .collect();
        v.sort();
        v
    }
}

impl Scalable for Resilience {
    fn name(&self) -> &str {
        NAME
    }

    fn limits(&self) -> Limits {
        let control = self.control();
        let mut l = Limits::new()
            .with(Limits::MAX_ENTRIES, control.max_entries as u64)
            .with(Limits::MAX_MEMORY_BYTES, self.table.footprint_bytes())
            .with(
                Limits::MAX_CONCURRENT_OPERATIONS,
                control.max_concurrent_operations.into(),
            )
            .with(Limits::MAX_QUEUE_DEPTH, control.max_queue_depth.into());
        for (i, name) in Self::names(&control) {
            // Adapted threshold and timeout in force; the bulkhead setting as
            // configured (0 = follows `max_concurrent_operations`).
            let mut c = control.effective_config(usize::from(i));
            c.bulkhead = control.strategies[usize::from(i)].config.bulkhead;
            for (key, _, _, get, _) in SETTINGS {
                l.set(&format!("{name}.{key}"), get(&c));
            }
        }
        l
    }

    fn limit_bounds(&self) -> LimitBounds {
        let control = self.control();
        let rows = control.rows_in_use().max(1) as u64;
        let mut b = LimitBounds::new()
            .with(Limits::MAX_ENTRIES, rows..=self.table.capacity() as u64)
            .with(
                Limits::MAX_MEMORY_BYTES,
                self.table.footprint_bytes()..=u64::MAX,
            )
            .with(Limits::MAX_CONCURRENT_OPERATIONS, 1..=MAX_PERMITS)
            .with(Limits::MAX_QUEUE_DEPTH, 0..=1_000_000);
        for (_, name) in Self::names(&control) {
            for (key, lo, hi, _, _) in SETTINGS {
                b = b.with(&format!("{name}.{key}"), lo..=hi);
            }
        }
        b
    }

    fn apply_limits(&self, limits: &Limits) -> Result<(), LimitsError> {
        let mut control = self.control();
        // Every strategy's new settings are built and checked before any
        // is applied, so a refusal changes nothing.
        let mut planned = Vec::new();
        for (i, name) in Self::names(&control) {
            let mut c = control.strategies[usize::from(i)].config;
            for (key, _, _, _, set) in SETTINGS {
                if let Some(v) = limits.get(&format!("{name}.{key}")) {
                    set(&mut c, v);
                }
            }
            c.validate().map_err(|e| LimitsError::Refused {
                subsystem: NAME.to_owned(),
                reason: format!("strategy `{name}`: {e}"),
            })?;
            planned.push((i, c));
        }
        if let Some(v) = limits.get(Limits::MAX_ENTRIES) {
            control.max_entries = v as usize;
        }
        if let Some(v) = limits.get(Limits::MAX_CONCURRENT_OPERATIONS) {
            control.max_concurrent_operations = v as u32;
        }
        if let Some(v) = limits.get(Limits::MAX_QUEUE_DEPTH) {
            control.max_queue_depth = v as u32;
        }
        for (i, c) in planned {
            self.apply_strategy(&mut control, i, c);
        }
        Ok(())
    }

    fn metrics(&self) -> MetricsSnapshot {
        let control = self.control();
        let mut m = MetricsSnapshot::new(NAME);
        m.gauge(
            "breaker_rows",
            "Rows in the breaker table",
            &[],
            control.rows_in_use() as f64,
        );
        m.counter(
            "ticks_total",
            "Control-plane passes",
            &[],
            control.ticks as f64,
        );
        m.counter(
            "unpublished_transitions_total",
            "Transitions past the per-tick publish buffer",
            &[],
            control.unpublished_transitions as f64,
        );
        if let Some(s) = &control.share {
            for (name, v) in [
                ("share_sent_total", s.sent),
                ("share_received_total", s.received),
                ("share_applied_total", s.applied),
                ("share_bad_messages_total", s.bad_messages),
                ("share_refused_publishes_total", s.refused_publishes),
                ("share_unknown_strategy_total", s.unknown_strategy),
            ] {
                m.counter(name, "Shared breaker state", &[], v as f64);
            }
        }
        for (i, name) in Self::names(&control) {
            let Some(s) = self.strategy_at(i) else {
                continue;
            };
            let c = &control.strategies[usize::from(i)];
            let l: &[(&str, &str)] = &[("strategy", &name)];
            for state in [
                super::BreakerState::Closed,
                super::BreakerState::Open,
                super::BreakerState::HalfOpen,
            ] {
                m.gauge(
                    "breakers",
                    "Breakers by state",
                    &[("strategy", &name), ("state", state.as_str())],
                    c.by_state[state as usize] as f64,
                );
            }
            let b = &s.bulkhead;
            m.gauge(
                "bulkhead_capacity",
                "Bulkhead permits",
                l,
                f64::from(b.capacity()),
            );
            m.gauge(
                "bulkhead_in_use",
                "Operations in flight",
                l,
                b.in_flight() as f64,
            );
            m.gauge(
                "bulkhead_waiting",
                "Callers waiting for a permit",
                l,
                f64::from(b.waiting()),
            );
            let (calls, failures) = control.totals(usize::from(i));
            m.counter("calls_total", "Calls that ran (attempts)", l, calls as f64);
            m.counter(
                "successes_total",
                "Attempts that succeeded",
                l,
                (calls - failures) as f64,
            );
            m.counter("failures_total", "Attempts that failed", l, failures as f64);
            let retries = b.sum(|st| &st.retries);
            m.counter("retries_total", "Retries made", l, retries as f64);
            m.gauge(
                "retry_rate",
                "Retries per call",
                l,
                retries as f64 / calls.max(1) as f64,
            );
            m.gauge(
                "failure_rate",
                "Failed attempts per attempt",
                l,
                failures as f64 / calls.max(1) as f64,
            );
            m.counter(
                "rejected_open_total",
                "Calls refused by an open breaker",
                l,
                b.sum(|st| &st.rejected_open) as f64,
            );
            m.counter(
                "rejected_full_total",
                "Calls refused by a full bulkhead",
                l,
                b.sum(|st| &st.rejected_full) as f64,
            );
            m.counter(
                "timed_out_total",
                "Calls that timed out waiting for a permit",
                l,
                b.sum(|st| &st.timed_out) as f64,
            );
            m.gauge(
                "retry_tokens",
                "Retry budget left",
                l,
                s.budget.tokens() as f64,
            );
            m.gauge(
                "failure_threshold",
                "Failure threshold in force",
                l,
                f64::from(c.values.failure_threshold),
            );
            m.gauge(
                "reset_timeout_ms",
                "Reset timeout in force",
                l,
                (c.values.reset_timeout_ns / 1_000_000) as f64,
            );
            m.counter(
                "latency_samples_dropped_total",
                "Latency samples dropped (histogram busy)",
                l,
                s.latency.dropped() as f64,
            );
            s.latency
                .with(|p| m.latency("latency_ns", "Sampled call latency", l, &p.total));
        }
        m
    }

    fn backpressure(&self) -> BackpressureState {
        // The subsystem sheds by itself (open breakers, full bulkheads);
        // it reports Warning while any breaker is open.
        let control = self.control();
        if control.strategies.iter().any(|c| c.by_state[1] > 0) {
            BackpressureState::Warning
        } else {
            BackpressureState::Normal
        }
    }

    fn backpressure_strategy(&self) -> BackpressureStrategy {
        BackpressureStrategy::ShedLoad
    }
}
