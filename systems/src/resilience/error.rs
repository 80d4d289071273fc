//! What a guarded call or a set-up call can be refused with.

use std::fmt;
use std::time::Duration;

use super::config::ConfigError;

/// Why a guarded call did not return the operation's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecuteError<E> {
    /// The breaker is open (or half-open with every probe place taken);
    /// the operation did not run.
    Open,
    /// The bulkhead is full and its wait queue is full (or waiting is
    /// off); the operation did not run.
    BulkheadFull,
    /// Waited this long for a bulkhead permit without getting one.
    TimedOut(Duration),
    /// Every attempt failed; `last` is the final attempt's error.
    RetriesExhausted {
        /// Attempts made (first one included).
        attempts: u32,
        /// The last error.
        last: E,
    },
    /// A retry was due but the strategy's retry budget was spent.
    RetryBudgetSpent {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: E,
    },
    /// The breaker opened between attempts.
    OpenedDuringRetry {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: E,
    },
    /// The breaker id does not belong to this `Resilience`.
    UnknownBreaker,
}

impl<E> ExecuteError<E> {
    /// The operation's last error, if it ran.
    pub fn last_error(&self) -> Option<&E> {
        match self {
            ExecuteError::RetriesExhausted { last, .. }
            | ExecuteError::RetryBudgetSpent { last, .. }
            | ExecuteError::OpenedDuringRetry { last, .. } => Some(last),
            _ => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for ExecuteError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecuteError::Open => write!(f, "refused: the circuit breaker is open"),
            ExecuteError::BulkheadFull => {
                write!(f, "refused: the bulkhead is full and so is its wait queue")
            }
            ExecuteError::TimedOut(d) => {
                write!(f, "timed out after {d:?} waiting for a bulkhead permit")
            }
            ExecuteError::RetriesExhausted { attempts, last } => {
                write!(
                    f,
                    "retries exhausted after {attempts} attempts; last error: {last}"
                )
            }
            ExecuteError::RetryBudgetSpent { attempts, last } => write!(
                f,
                "retry budget spent after {attempts} attempts; last error: {last}"
            ),
            ExecuteError::OpenedDuringRetry { attempts, last } => write!(
                f,
                "the circuit breaker opened after {attempts} attempts; last error: {last}"
            ),
            ExecuteError::UnknownBreaker => {
                write!(
                    f,
                    "the breaker id does not belong to this resilience instance"
                )
            }
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ExecuteError<E> {}

/// Why a set-up or control call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResilienceError {
    /// No strategy has this name.
    #[error("no resilience strategy named `{0}`")]
    UnknownStrategy(String),
    /// A strategy with this name exists.
    #[error("a resilience strategy named `{0}` already exists")]
    DuplicateStrategy(String),
    /// Every strategy place is taken.
    #[error("all {max} strategy places are taken; raise `max_strategies` at start-up")]
    TooManyStrategies {
        /// The fixed maximum.
        max: usize,
    },
    /// Every breaker row is taken (`max_entries`).
    #[error("the breaker table is full ({rows} rows, `max_entries` = {max})")]
    TableFull {
        /// Rows in use.
        rows: usize,
        /// The limit.
        max: usize,
    },
    /// A strategy name or breaker key is empty or too long.
    #[error("{what} must be 1..={max} bytes, got {len}")]
    BadName {
        /// `strategy name` or `breaker key`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// A strategy setting was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The options were refused.
    #[error("resilience option `{key}` = {value} is out of range: allowed {lo}..={hi}")]
    Option {
        /// The option.
        key: &'static str,
        /// The refused value.
        value: u64,
        /// Smallest allowed.
        lo: u64,
        /// Largest allowed.
        hi: u64,
    },
    /// The breaker id does not belong to this `Resilience`.
    #[error("no breaker with strategy index {strategy} and row {row} in this resilience instance")]
    UnknownBreaker {
        /// The id's strategy index.
        strategy: usize,
        /// The id's row.
        row: usize,
    },
    /// The bus refused.
    #[error("bus: {0}")]
    Bus(String),
}
