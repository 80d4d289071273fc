//! Retention: which whole segments may go, and the tick system that
//! removes them. A sealed segment goes when any enabled rule condemns it:
//! its newest record is older than the age limit, the log is over its size
//! limit (oldest first), or every consumer has acknowledged all of it.
//! Only a prefix of segments is removed, never the active one.

use std::sync::Arc;

use keel_engine::config::WalConfig;
use keel_engine::{System, SystemError};

use super::error::WalError;
use super::log::{unix_now_ns, PartitionLog};
use super::offsets::ConsumerOffsets;

/// When segments may be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Records older than this go (whole segments), nanoseconds. `None`: no age limit.
    pub max_age_ns: Option<u64>,
    /// Bytes kept per partition at most. `None`: no size limit.
    pub max_bytes: Option<u64>,
    /// Remove segments every consumer has acknowledged.
    pub when_all_acknowledged: bool,
}

impl RetentionPolicy {
    /// Age and size limits of an engine config section (24 h, 1 GiB by default).
    pub fn from_config(config: &WalConfig) -> RetentionPolicy {
        RetentionPolicy {
            max_age_ns: Some(config.retention_hours.saturating_mul(3_600_000_000_000)),
            max_bytes: Some(config.retention_bytes_per_partition),
            when_all_acknowledged: false,
        }
    }
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy::from_config(&WalConfig::default())
    }
}

/// What one compaction pass removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompactReport {
    /// Segment files deleted.
    pub segments_removed: usize,
    /// Record bytes freed.
    pub bytes_freed: u64,
    /// First sequence kept after the pass.
    pub first_sequence: u64,
}

/// The lowest sequence still needed under `policy` at `now_unix_ns`, given
/// the lowest offset all consumers committed (`acknowledged`).
pub fn lowest_needed(
    log: &PartitionLog,
    policy: &RetentionPolicy,
    now_unix_ns: u64,
    acknowledged: Option<u64>,
) -> u64 {
    let segments = log.segment_summaries();
    let mut total: u64 = segments.iter().map(|s| s.2).sum();
    let mut keep_from = segments.first().map_or(0, |s| s.0);
    for &(_, end, bytes, last_ts) in segments.iter().take(segments.len().saturating_sub(1)) {
        let too_old = policy
            .max_age_ns
            .is_some_and(|age| last_ts.saturating_add(age) < now_unix_ns);
        let too_big = policy.max_bytes.is_some_and(|max| total > max);
        let acked = policy.when_all_acknowledged && acknowledged.is_some_and(|a| end <= a);
        if !(too_old || too_big || acked) {
            break;
        }
        total -= bytes;
        keep_from = end;
    }
    keep_from
}

/// Removes every whole segment below the lowest needed sequence.
pub fn compact(
    log: &PartitionLog,
    policy: &RetentionPolicy,
    now_unix_ns: u64,
    acknowledged: Option<u64>,
) -> Result<CompactReport, WalError> {
    let keep_from = lowest_needed(log, policy, now_unix_ns, acknowledged);
    let (segments_removed, bytes_freed) = log.remove_segments_below(keep_from)?;
    Ok(CompactReport {
        segments_removed,
        bytes_freed,
        first_sequence: log.first_sequence(),
    })
}

/// A tick system that compacts `log` under `policy`, using `offsets` for
/// the all-acknowledged rule. It touches no table columns; it checks at
/// most once per `interval_ms` of engine time.
pub fn retention_system(
    name: impl Into<String>,
    log: Arc<PartitionLog>,
    offsets: Option<Arc<ConsumerOffsets>>,
    policy: RetentionPolicy,
    interval_ms: u64,
) -> System {
    let last_run_ns = std::sync::atomic::AtomicU64::new(u64::MAX);
    let interval_ns = interval_ms.saturating_mul(1_000_000);
    System::new(name, move |ctx| {
        let now = ctx.now_ns();
        // Relaxed: only this system's own runs (never concurrent with each
        // other: a system runs once per tick) read and write it.
        let last = last_run_ns.load(std::sync::atomic::Ordering::Relaxed);
        if last != u64::MAX && now.saturating_sub(last) < interval_ns {
            return Ok(());
        }
        last_run_ns.store(now, std::sync::atomic::Ordering::Relaxed);
        let acked = offsets.as_ref().and_then(|o| o.min_committed());
        compact(&log, &policy, unix_now_ns(), acked)
            .map(|_| ())
            .map_err(|e| SystemError::Failed(e.to_string()))
    })
}
