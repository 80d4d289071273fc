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
        if self.bulkhead.max_concurrent == Some(0) {
            // `SETTINGS` reads "none" as 0; a bulkhead of 0 is refused.
            check("bulkhead_max_concurrent", 0, 1, MAX_PERMITS)?;
        }
        for (key, lo, hi, get, _) in SETTINGS {
            check(key, get(self), lo, hi)?;
        }
        let r = &self.retry;
        if r.max_delay < r.initial {
            return Err(ConfigError::Relation {
                what: "backoff_max_ms must be at least backoff_initial_ms",
            });
        }
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

/// Whole milliseconds, saturating.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A `SETTINGS` entry for a `u32` field.
macro_rules! u32_setting {
    ($name:literal, $lo:expr, $hi:expr, $($field:ident).+) => {
        ($name, $lo, $hi, |c| c.$($field).+.into(), |c, v| c.$($field).+ = v as u32)
    };
}

/// A `SETTINGS` entry for a `Duration` field set in milliseconds.
macro_rules! ms_setting {
    ($name:literal, $lo:expr, $hi:expr, $($field:ident).+) => {
        ($name, $lo, $hi, |c| ms(c.$($field).+), |c, v| c.$($field).+ = Duration::from_millis(v))
    };
}

/// Every per-strategy setting: name, range, read, write. `validate`
/// checks the ranges; the scalable contract reads and writes through it
/// (`{strategy}.{setting}`).
type Get = fn(&StrategyConfig) -> u64;
type Set = fn(&mut StrategyConfig, u64);
pub(crate) const SETTINGS: [(&str, u64, u64, Get, Set); 15] = [
    u32_setting!("failure_threshold", 1, 1_000_000, breaker.failure_threshold),
    u32_setting!("minimum_calls", 1, 1_000_000, breaker.minimum_calls),
    ms_setting!("reset_timeout_ms", 1, 86_400_000, breaker.reset_timeout),
    u32_setting!("half_open_max", 1, 10_000, breaker.half_open_max),
    ms_setting!("window_ms", 1, 3_600_000, breaker.window),
    (
        "bulkhead_max_concurrent",
        0,
        MAX_PERMITS,
        |c| c.bulkhead.max_concurrent.map_or(0, u64::from),
        |c, v| c.bulkhead.max_concurrent = (v > 0).then_some(v as u32),
    ),
    u32_setting!("bulkhead_max_queue", 0, 1_000_000, bulkhead.max_queue),
    ms_setting!("bulkhead_max_wait_ms", 0, 3_600_000, bulkhead.max_wait),
    u32_setting!("max_retries", 0, 100, retry.max_retries),
    (
        "backoff",
        0,
        2,
        |c| c.retry.backoff as u64,
        |c, v| {
            c.retry.backoff = [Backoff::Constant, Backoff::Linear, Backoff::Exponential][v as usize]
        },
    ),
    (
        "jitter",
        0,
        3,
        |c| c.retry.jitter as u64,
        |c, v| {
            c.retry.jitter = [
                Jitter::None,
                Jitter::Full,
                Jitter::Equal,
                Jitter::Decorrelated,
            ][v as usize]
        },
    ),
    ms_setting!("backoff_initial_ms", 0, 3_600_000, retry.initial),
    ms_setting!("backoff_max_ms", 0, 3_600_000, retry.max_delay),
    u32_setting!("retry_budget_permille", 0, 1_000, retry.budget_permille),
    (
        "adaptive",
        0,
        1,
        |c| c.adaptive.enabled.into(),
        |c, v| c.adaptive.enabled = v == 1,
    ),
];

fn check(key: &'static str, value: u64, lo: u64, hi: u64) -> Result<(), ConfigError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange { key, value, lo, hi })
    }
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
