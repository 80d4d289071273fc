//! What a strategy is configured with, and the checks on it.

use std::time::Duration;

use keel_engine::config::ResilienceConfig;

/// How the wait between attempts grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// `initial` every time.
    Constant,
    /// `initial × attempt`.
    Linear,
    /// `initial × 2^(attempt-1)`.
    Exponential,
}

/// How the wait is randomised (AWS architecture blog, "Exponential
/// Backoff and Jitter").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// The computed wait exactly.
    None,
    /// Uniform in `[0, wait]`.
    Full,
    /// `wait/2` plus uniform in `[0, wait/2]`.
    Equal,
    /// Uniform in `[initial, previous × 3]`, capped.
    Decorrelated,
}

/// Retries of one strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = no retries).
    pub max_retries: u32,
    /// The wait's shape.
    pub backoff: Backoff,
    /// The randomisation.
    pub jitter: Jitter,
    /// First wait.
    pub initial: Duration,
    /// No wait is longer.
    pub max_delay: Duration,
    /// Retries may be at most this share of calls (per mille); the budget
    /// is refilled by the tick from the calls it counted.
    pub budget_permille: u32,
}

/// Half-open probes, thresholds and the window of one breaker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerPolicy {
    /// Failures within the window that open the breaker.
    pub failure_threshold: u32,
    /// Calls within the window before the breaker may open.
    pub minimum_calls: u32,
    /// How long the breaker stays open before half-open.
    pub reset_timeout: Duration,
    /// Probes admitted while half-open; all must succeed to close.
    pub half_open_max: u32,
    /// Length of the sliding failure window.
    pub window: Duration,
}

/// The bulkhead of one strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BulkheadPolicy {
    /// Operations in flight at most. `None` follows the instance's
    /// `max_concurrent_operations` limit.
    pub max_concurrent: Option<u32>,
    /// Callers that may wait for a permit (0 = refuse at once when full).
    pub max_queue: u32,
    /// How long a caller waits for a permit before `TimedOut`.
    pub max_wait: Duration,
}

/// The bounds adaptive thresholds stay within (SPEC §3.3), and whether
/// they run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptivePolicy {
    /// Adapt this strategy's values.
    pub enabled: bool,
    /// Failure threshold bounds.
    pub failure_threshold_min: u32,
    /// Failure threshold bounds.
    pub failure_threshold_max: u32,
    /// Reset timeout bounds.
    pub reset_timeout_min: Duration,
    /// Reset timeout bounds.
    pub reset_timeout_max: Duration,
    /// Bulkhead size bounds (the upper one also capped by
    /// `max_concurrent_operations`).
    pub bulkhead_min: u32,
    /// Bulkhead size bounds.
    pub bulkhead_max: u32,
}

/// Everything about one strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StrategyConfig {
    /// The breaker.
    pub breaker: BreakerPolicy,
    /// The bulkhead.
    pub bulkhead: BulkheadPolicy,
    /// Retries.
    pub retry: RetryPolicy,
    /// Adaptation.
    pub adaptive: AdaptivePolicy,
    /// Publish and merge this strategy's transitions with other nodes.
    pub shared: bool,
}

impl StrategyConfig {
    /// The engine config's `[resilience]` values.
    pub fn from_config(c: &ResilienceConfig) -> StrategyConfig {
        StrategyConfig {
            breaker: BreakerPolicy {
                failure_threshold: c.failure_threshold,
                minimum_calls: c.minimum_calls,
                reset_timeout: Duration::from_millis(c.reset_timeout_ms),
                half_open_max: c.half_open_max,
                window: Duration::from_secs(10),
            },
            bulkhead: BulkheadPolicy {
                max_concurrent: Some(c.bulkhead_max_concurrent),
                max_queue: c.bulkhead_max_queue,
                max_wait: Duration::from_millis(100),
            },
            retry: RetryPolicy {
                max_retries: c.max_retries,
                backoff: Backoff::Exponential,
                jitter: Jitter::Full,
                initial: Duration::from_millis(10),
                max_delay: Duration::from_secs(1),
                budget_permille: (c.retry_budget_ratio * 1000.0).round() as u32,
            },
            adaptive: AdaptivePolicy {
                enabled: false,
                failure_threshold_min: c.failure_threshold.div_ceil(2).max(1),
                failure_threshold_max: c.failure_threshold.saturating_mul(4),
                reset_timeout_min: Duration::from_millis(c.reset_timeout_ms / 4).max(MIN_TIMEOUT),
                reset_timeout_max: Duration::from_millis(c.reset_timeout_ms.saturating_mul(4)),
                bulkhead_min: c.bulkhead_max_concurrent.div_ceil(8).max(1),
                bulkhead_max: c.bulkhead_max_concurrent,
            },
            shared: false,
        }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let b = &self.breaker;
        check(
            "failure_threshold",
            b.failure_threshold.into(),
            1,
            1_000_000,
        )?;
        check("minimum_calls", b.minimum_calls.into(), 1, 1_000_000)?;
        check_ms("reset_timeout_ms", b.reset_timeout, 1, 86_400_000)?;
        check("half_open_max", b.half_open_max.into(), 1, 10_000)?;
        check_ms("window_ms", b.window, 1, 3_600_000)?;
        let h = &self.bulkhead;
        if let Some(m) = h.max_concurrent {
            check("bulkhead_max_concurrent", m.into(), 1, MAX_PERMITS)?;
        }
        check("bulkhead_max_queue", h.max_queue.into(), 0, 1_000_000)?;
        check_ms("bulkhead_max_wait_ms", h.max_wait, 0, 3_600_000)?;
        let r = &self.retry;
        check("max_retries", r.max_retries.into(), 0, 100)?;
        check_ms("backoff_initial_ms", r.initial, 0, 3_600_000)?;
        check_ms("backoff_max_ms", r.max_delay, 0, 3_600_000)?;
        if r.max_delay < r.initial {
            return Err(ConfigError::Relation {
                what: "backoff_max_ms must be at least backoff_initial_ms",
            });
        }
        check("retry_budget_permille", r.budget_permille.into(), 0, 1000)?;
        let a = &self.adaptive;
        if a.failure_threshold_min == 0 || a.failure_threshold_min > a.failure_threshold_max {
            return Err(ConfigError::Relation {
                what: "adaptive failure_threshold bounds need 1 <= min <= max",
            });
        }
        if a.reset_timeout_min.is_zero() || a.reset_timeout_min > a.reset_timeout_max {
            return Err(ConfigError::Relation {
                what: "adaptive reset_timeout bounds need 0 < min <= max",
            });
        }
        if a.bulkhead_min == 0 || a.bulkhead_min > a.bulkhead_max {
            return Err(ConfigError::Relation {
                what: "adaptive bulkhead bounds need 1 <= min <= max",
            });
        }
        Ok(())
    }
}

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig::from_config(&ResilienceConfig::default())
    }
}

/// Permits a bulkhead may have at most.
pub const MAX_PERMITS: u64 = 1 << 30;
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// Why a strategy's configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value is out of its range.
    #[error("strategy setting `{key}` = {value} is out of range: allowed {lo}..={hi}")]
    OutOfRange {
        /// The setting.
        key: &'static str,
        /// The refused value.
        value: u64,
        /// Smallest allowed.
        lo: u64,
        /// Largest allowed.
        hi: u64,
    },
    /// Two values contradict each other.
    #[error("strategy settings refused: {what}")]
    Relation {
        /// What must hold.
        what: &'static str,
    },
}

fn check(key: &'static str, value: u64, lo: u64, hi: u64) -> Result<(), ConfigError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange { key, value, lo, hi })
    }
}

fn check_ms(key: &'static str, d: Duration, lo: u64, hi: u64) -> Result<(), ConfigError> {
    check(
        key,
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
        lo,
        hi,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_engine_config_and_pass() {
        let c = StrategyConfig::default();
        c.validate().unwrap();
        assert_eq!(c.breaker.failure_threshold, 5);
        assert_eq!(c.bulkhead.max_concurrent, Some(64));
        assert_eq!(c.retry.budget_permille, 200);
    }

    #[test]
    fn each_bad_value_is_refused_by_name() {
        type Spoil = fn(&mut StrategyConfig);
        let cases: [(&str, Spoil); 6] = [
            ("failure_threshold", |c| c.breaker.failure_threshold = 0),
            ("half_open_max", |c| c.breaker.half_open_max = 0),
            ("reset_timeout_ms", |c| {
                c.breaker.reset_timeout = Duration::ZERO
            }),
            ("bulkhead_max_concurrent", |c| {
                c.bulkhead.max_concurrent = Some(0)
            }),
            ("max_retries", |c| c.retry.max_retries = 101),
            ("retry_budget_permille", |c| c.retry.budget_permille = 1001),
        ];
        for (key, spoil) in cases {
            let mut c = StrategyConfig::default();
            spoil(&mut c);
            match c.validate() {
                Err(ConfigError::OutOfRange { key: k, .. }) => assert_eq!(k, key),
                other => panic!("{key}: expected OutOfRange, got {other:?}"),
            }
        }
        let mut c = StrategyConfig::default();
        c.retry.max_delay = Duration::from_millis(1);
        assert!(matches!(c.validate(), Err(ConfigError::Relation { .. })));
    }
}
