//! Retry waits (backoff and jitter) and the retry budget.

use std::time::Duration;

use super::config::{Backoff, Jitter, RetryPolicy};
use crate::sync::{AtomicI64, Ordering};

/// The wait before retry number `retry` (1-based), given the previous
/// wait (for decorrelated jitter).
pub(crate) fn delay(
    p: &RetryPolicy,
    retry: u32,
    previous: Duration,
    rng: &mut fastrand::Rng,
) -> Duration {
    let initial = p.initial;
    let base = match p.backoff {
        Backoff::Constant => initial,
        Backoff::Linear => initial.saturating_mul(retry.max(1)),
        Backoff::Exponential => {
            let shift = retry.saturating_sub(1).min(31);
            initial.saturating_mul(1u32 << shift)
        }
    }
    .min(p.max_delay);
    let wait = match p.jitter {
        Jitter::None => base,
        Jitter::Full => uniform(rng, Duration::ZERO, base),
        Jitter::Equal => base / 2 + uniform(rng, Duration::ZERO, base - base / 2),
        Jitter::Decorrelated => {
            let prev = if previous.is_zero() {
                initial
            } else {
                previous
            };
            uniform(rng, initial, prev.saturating_mul(3).max(initial))
        }
    };
    wait.min(p.max_delay)
}

fn uniform(rng: &mut fastrand::Rng, lo: Duration, hi: Duration) -> Duration {
    let (lo_ns, hi_ns) = (lo.as_nanos() as u64, hi.as_nanos() as u64);
    if hi_ns <= lo_ns {
        return lo;
    }
    Duration::from_nanos(rng.u64(lo_ns..=hi_ns))
}

/// Retry tokens of one strategy: a retry takes one; the tick adds
/// `budget_permille / 1000` per call it counted, up to a cap, so retries
/// stay a bounded share of calls and cannot multiply an outage.
pub(crate) struct RetryBudget {
    tokens: AtomicI64,
}

/// Tokens a strategy starts with and never has less room for, so a
/// quiet service can still retry a few calls.
pub(crate) const MIN_RETRY_TOKENS: i64 = 10;

impl RetryBudget {
    pub(crate) fn new() -> RetryBudget {
        RetryBudget {
            tokens: AtomicI64::new(MIN_RETRY_TOKENS),
        }
    }

    /// Takes one token for a retry; false when the budget is spent.
    pub(crate) fn take(&self) -> bool {
        // Relaxed: a count; the CAS keeps it from going below zero.
        self.tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                (t > 0).then(|| t - 1)
            })
            .is_ok()
    }

    /// Adds `add` tokens, holding at most `cap` (tick only).
    pub(crate) fn refill(&self, add: i64, cap: i64) {
        // Relaxed: see `take`.
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(if t >= cap { t } else { (t + add).min(cap) })
            });
    }

    pub(crate) fn tokens(&self) -> i64 {
        self.tokens.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn policy(backoff: Backoff, jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            backoff,
            jitter,
            initial: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
            budget_permille: 200,
        }
    }

    #[test]
    fn backoff_shapes_grow_as_named_and_stop_at_the_cap() {
        let mut rng = fastrand::Rng::with_seed(7);
        let ms = |p: &RetryPolicy, n, rng: &mut fastrand::Rng| {
            delay(p, n, Duration::ZERO, rng).as_millis()
        };
        let c = policy(Backoff::Constant, Jitter::None);
        assert_eq!([1, 2, 3].map(|n| ms(&c, n, &mut rng)), [10, 10, 10]);
        let l = policy(Backoff::Linear, Jitter::None);
        assert_eq!([1, 2, 3].map(|n| ms(&l, n, &mut rng)), [10, 20, 30]);
        let e = policy(Backoff::Exponential, Jitter::None);
        assert_eq!(
            [1, 2, 3, 4, 5, 30].map(|n| ms(&e, n, &mut rng)),
            [10, 20, 40, 80, 100, 100]
        );
    }

    #[test]
    fn jitters_stay_in_their_ranges_and_vary() {
        let mut rng = fastrand::Rng::with_seed(11);
        let full = policy(Backoff::Exponential, Jitter::Full);
        let equal = policy(Backoff::Exponential, Jitter::Equal);
        let deco = policy(Backoff::Exponential, Jitter::Decorrelated);
        let mut seen = std::collections::BTreeSet::new();
        let mut prev = Duration::ZERO;
        for _ in 0..1000 {
            let f = delay(&full, 3, Duration::ZERO, &mut rng);
            assert!(f <= Duration::from_millis(40));
            seen.insert(f);
            let e = delay(&equal, 3, Duration::ZERO, &mut rng);
            assert!(e >= Duration::from_millis(20) && e <= Duration::from_millis(40));
            let d = delay(&deco, 2, prev, &mut rng);
            let hi = (if prev.is_zero() {
                Duration::from_millis(10)
            } else {
                prev
            } * 3)
                .min(Duration::from_millis(100));
            assert!(
                d >= Duration::from_millis(10) && d <= hi,
                "{d:?} outside 10ms..={hi:?}"
            );
            prev = d;
        }
        assert!(seen.len() > 100, "full jitter must vary");
    }

    #[test]
    fn budget_refuses_when_spent_and_refills_to_its_cap() {
        let b = RetryBudget::new();
        let taken = (0..100).filter(|_| b.take()).count();
        assert_eq!(taken as i64, MIN_RETRY_TOKENS);
        b.refill(5, 3);
        assert_eq!(b.tokens(), 3);
        b.refill(5, 3);
        assert_eq!(b.tokens(), 3);
    }
}
