//! The log's typed errors.

use std::io;
use std::path::PathBuf;

use super::record::RecordError;
use super::segment::HeaderError;

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// An I/O call failed. If it was a write or a sync of the log, the log
    /// is now failed too (see [`WalError::Failed`]).
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`write`, `fdatasync`, `create`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// An earlier write or sync failed, so what is on disk can no longer be
    /// trusted to match what was acknowledged: the log refuses every write
    /// until it is reopened (which re-runs recovery).
    #[error("the log at {dir} failed earlier ({op} {path}: {message}); reopen it to recover")]
    Failed {
        /// The partition directory.
        dir: PathBuf,
        /// The failed call.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS message.
        message: String,
    },
    /// The payload is larger than a record may be.
    #[error(
        "payload of {len} bytes is over the limit of {max} bytes (record limit or segment size)"
    )]
    PayloadTooLarge {
        /// Payload bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A bad option.
    #[error("wal option `{key}` = {value}: {allowed}")]
    Config {
        /// The option.
        key: &'static str,
        /// Its value.
        value: String,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A sealed (fully synced) segment has a bad header: this is media
    /// corruption, not a torn tail, so nothing is cut automatically.
    #[error("sealed segment {path} has a bad header: {reason}; run `keel wal verify`")]
    CorruptHeader {
        /// The segment.
        path: PathBuf,
        /// What was wrong.
        reason: HeaderError,
    },
    /// A sealed segment holds a bad record: media corruption, nothing cut.
    #[error("sealed segment {path}: {reason}; run `keel wal verify`")]
    CorruptRecord {
        /// The segment.
        path: PathBuf,
        /// What was wrong.
        reason: RecordError,
    },
    /// Two segments do not continue each other's sequences.
    #[error("segment {path} starts at sequence {found}, expected {expected}")]
    SequenceGap {
        /// The later segment.
        path: PathBuf,
        /// Sequence the earlier one ended at.
        expected: u64,
        /// Base of the later one.
        found: u64,
    },
    /// A read asked for records retention has removed.
    #[error("sequence {requested} was removed by retention; the log starts at {first}")]
    Compacted {
        /// Asked for.
        requested: u64,
        /// First sequence still kept.
        first: u64,
    },
}

impl WalError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> WalError {
        WalError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
