//! Keel's durable layer: the write-ahead log (segments, group commit,
//! consumer offsets, retention, crash recovery) and the backing store
//! (with `FileCacheStore`, its adapter behind a bounded cache).
//! See `storage/FORMAT.md` for the on-disk layout and what it assumes of
//! the media.
//!
//! ```
//! use std::sync::Arc;
//! use keel_storage::{LogOptions, PartitionLog, SimDisk};
//!
//! let disk = Arc::new(SimDisk::new());
//! let (log, _report) = PartitionLog::open(disk, "/wal/topic-0", LogOptions::default()).unwrap();
//! let receipt = log.append(b"hello").unwrap(); // policy "always": durable now
//! assert!(log.is_durable(&receipt));
//! assert_eq!(log.read(0, 10).unwrap()[0].payload, b"hello");
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod atomic_file;
mod backing_store;
mod cache_store;
mod wal;

pub use backing_store::{validate_key, BackingStore, KeyError, StoreError};
pub use cache_store::{CacheCodec, FileCacheStore, PrefixedBytes};
pub use wal::error::WalError;
pub use wal::io::{Backend, BackendFile, FileBytes, OsBackend};
pub use wal::log::{
    unix_now_ns, LogOptions, PartitionLog, Record, WRITE_BUFFER_BYTES, ZERO_AHEAD_BYTES,
};
pub use wal::offsets::{decode_offsets, ConsumerOffsets, OffsetsError, OFFSETS_FILE};
pub use wal::record::{
    encoded_len, RecordError, RecordRef, RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX,
};
pub use wal::recovery::{Cut, RecoveryReport};
pub use wal::retention::{
    compact, lowest_needed, retention_system, CompactReport, RetentionPolicy,
};
pub use wal::segment::{
    file_name as segment_file_name, parse_file_name as parse_segment_file_name,
    scan as scan_segment, HeaderError, Scan, ScanEnd, SegmentHeader, FORMAT_VERSION,
    SEGMENT_HEADER_BYTES, SEGMENT_MAGIC,
};
pub use wal::sim::SimDisk;
pub use wal::spill::{WalDurableLog, WalDurableLogs};
pub use wal::sync::{Durability, Receipt};
