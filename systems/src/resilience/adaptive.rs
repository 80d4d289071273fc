//! Adaptive thresholds (SPEC §3.3), run by the resilience tick.
//!
//! Each strategy keeps 90 buckets of 10 s in a ring: the last 6 are the
//! 1-minute window, the last 30 the 5-minute one, all 90 the 15-minute
//! one. Memory is fixed; old buckets are overwritten. Every recompute
//! interval (30 s by default):
//! - the failure threshold rises by a quarter (at least 1) while errors
//!   stay under 1% over both the 1- and 5-minute windows, and falls by a
//!   quarter once they pass 5% over the last minute; between the two it
//!   holds;
//! - the reset timeout follows the recovery time observed from a breaker's
//!   first trip to its closing, smoothed by an EMA (α = 0.3): an episode
//!   whose probes failed pulls it up to the time recovery really took; one
//!   whose first probes passed pulls it down to three quarters of that
//!   time, so the breaker probes sooner next time;
//! - the bulkhead follows p99 latency: its target is the size times
//!   `p99 over 15 min / p99 over 1 min` (smaller when latency rises,
//!   larger when it falls); inside a ±10% dead band nothing changes, and
//!   outside it the size moves half way to the target. The dead band and
//!   the slow 15-minute reference are what keep a steady load from
//!   oscillating;
//! - every value is clamped to the strategy's configured bounds.

use std::time::Duration;

use super::config::{AdaptivePolicy, StrategyConfig};

/// Width of one bucket.
const BUCKET_NS: u64 = 10_000_000_000;
const BUCKETS: usize = 90;
const ONE_MIN: usize = 6;
const FIVE_MIN: usize = 30;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    calls: u64,
    failures: u64,
    p99_ns: u64,
    samples: u64,
}

/// The values adaptation moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Values {
    pub(crate) failure_threshold: u32,
    pub(crate) reset_timeout_ns: u64,
    pub(crate) bulkhead: u32,
}

impl Values {
    /// The configured values, with bulkhead `capacity` (see
    /// `Control::bulkhead_limits`).
    pub(crate) fn from_config(config: &StrategyConfig, capacity: u32) -> Values {
        Values {
            failure_threshold: config.breaker.failure_threshold,
            reset_timeout_ns: config.breaker.reset_timeout.as_nanos() as u64,
            bulkhead: capacity,
        }
    }
}

pub(crate) struct Adaptive {
    ring: Box<[Bucket; BUCKETS]>,
    /// Buckets closed so far (the newest is at `(closed - 1) % BUCKETS`).
    closed: u64,
    current: Bucket,
    bucket_start_ns: u64,
    last_recompute_ns: u64,
    recovery_ema_ns: Option<f64>,
}

impl Adaptive {
    pub(crate) fn new(now_ns: u64) -> Adaptive {
        Adaptive {
            ring: Box::new([Bucket::default(); BUCKETS]),
            closed: 0,
            current: Bucket::default(),
            bucket_start_ns: now_ns,
            last_recompute_ns: now_ns,
            recovery_ema_ns: None,
        }
    }

    /// Counts calls into the open bucket.
    pub(crate) fn add(&mut self, calls: u64, failures: u64) {
        self.current.calls += calls;
        self.current.failures += failures;
    }

    /// Closes every bucket that ended by `now_ns`. `p99` gives the p99 and
    /// sample count of the latencies sampled since the last close, and
    /// starts a new interval.
    pub(crate) fn advance(&mut self, now_ns: u64, mut p99: impl FnMut() -> (u64, u64)) {
        while now_ns >= self.bucket_start_ns + BUCKET_NS {
            let (p, samples) = p99();
            let mut b = std::mem::take(&mut self.current);
            b.p99_ns = p;
            b.samples = samples;
            self.ring[(self.closed % BUCKETS as u64) as usize] = b;
            self.closed += 1;
            self.bucket_start_ns += BUCKET_NS;
        }
    }

    /// A breaker of this strategy closed after being open since
    /// `first_open_ns`; `probes_failed` if any half-open episode failed.
    pub(crate) fn observe_recovery(&mut self, took_ns: u64, probes_failed: bool) {
        let target = if probes_failed {
            took_ns as f64
        } else {
            took_ns as f64 * 0.75
        };
        self.recovery_ema_ns = Some(match self.recovery_ema_ns {
            None => target,
            Some(ema) => ema + 0.3 * (target - ema),
        });
    }

    /// Whether a recompute is due.
    pub(crate) fn due(&self, now_ns: u64, interval: Duration) -> bool {
        now_ns.saturating_sub(self.last_recompute_ns) >= interval.as_nanos() as u64
    }

    fn window(&self, n: usize) -> Bucket {
        let n = n.min(self.closed as usize);
        let mut sum = Bucket::default();
        let mut weighted = 0u128;
        for k in 0..n {
            let b = &self.ring[((self.closed - 1 - k as u64) % BUCKETS as u64) as usize];
            sum.calls += b.calls;
            sum.failures += b.failures;
            sum.samples += b.samples;
            weighted += u128::from(b.p99_ns) * u128::from(b.samples);
        }
        if sum.samples > 0 {
            sum.p99_ns = (weighted / u128::from(sum.samples)) as u64;
        }
        sum
    }

    /// New values from the windows, clamped to `policy` (and the bulkhead
    /// to `ceiling`).
    pub(crate) fn recompute(
        &mut self,
        now_ns: u64,
        v: Values,
        policy: &AdaptivePolicy,
        ceiling: u32,
    ) -> Values {
        self.last_recompute_ns = now_ns;
        let one = self.window(ONE_MIN);
        let five = self.window(FIVE_MIN);
        let all = self.window(BUCKETS);
        let rate = |b: &Bucket| b.failures as f64 / b.calls.max(1) as f64;

        let t = v.failure_threshold;
        let step = (t / 4).max(1);
        let threshold = if one.calls == 0 {
            t
        } else if rate(&one) > 0.05 {
            t.saturating_sub(step)
        } else if rate(&one) < 0.01 && rate(&five) < 0.01 {
            t.saturating_add(step)
        } else {
            t
        };

        let reset = match self.recovery_ema_ns {
            Some(ema) => ema as u64,
            None => v.reset_timeout_ns,
        };

        let mut bulkhead = v.bulkhead;
        if one.p99_ns > 0 && all.p99_ns > 0 {
            let ratio = all.p99_ns as f64 / one.p99_ns as f64;
            if !(0.9..=1.1).contains(&ratio) {
                let target = f64::from(v.bulkhead) * ratio;
                let moved = f64::from(v.bulkhead) + 0.5 * (target - f64::from(v.bulkhead));
                bulkhead = if ratio < 1.0 {
                    (moved.floor() as u32).min(v.bulkhead.saturating_sub(1))
                } else {
                    (moved.ceil() as u32).max(v.bulkhead.saturating_add(1))
                };
            }
        }

        Values {
            failure_threshold: threshold
                .clamp(policy.failure_threshold_min, policy.failure_threshold_max),
            reset_timeout_ns: reset.clamp(
                policy.reset_timeout_min.as_nanos() as u64,
                policy.reset_timeout_max.as_nanos() as u64,
            ),
            bulkhead: bulkhead.clamp(
                policy.bulkhead_min,
                policy.bulkhead_max.min(ceiling).max(policy.bulkhead_min),
            ),
        }
    }
}
