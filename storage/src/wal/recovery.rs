//! Recovery on open: walk every segment in order, check headers and
//! sequence continuity, and cut the tail of the last segment at the first
//! short or bad record (zeroing the bytes after it so they can never be
//! mistaken for records later). Sealed segments were synced before the
//! next one was created, so a fault in one of them is media corruption and
//! is reported, never cut.

use std::path::{Path, PathBuf};

use super::error::WalError;
use super::io::Backend;
use super::record::RecordError;
use super::segment::{self, HeaderError, ScanEnd};

/// What recovery cut off the end of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// The segment that was cut.
    pub segment: PathBuf,
    /// Offset of the first byte no longer part of the log.
    pub offset: u64,
    /// Bytes zeroed after that offset.
    pub bytes_zeroed: u64,
    /// What was wrong there.
    pub reason: RecordError,
}

/// What recovery found and did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecoveryReport {
    /// Segments kept.
    pub segments: usize,
    /// Valid records found.
    pub records: u64,
    /// Bytes of segment files scanned.
    pub bytes_scanned: u64,
    /// The cut tail, if any.
    pub cut: Option<Cut>,
    /// Sequence the next append gets.
    pub next_sequence: u64,
    /// A last segment removed because its header was never fully written
    /// (a crash while rolling), with the reason.
    pub removed_segment: Option<(PathBuf, HeaderError)>,
}

/// One segment as recovery left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentMeta {
    pub path: PathBuf,
    pub base_sequence: u64,
    pub end_sequence: u64,
    pub end_offset: u64,
    pub last_timestamp_ns: u64,
}

impl SegmentMeta {
    pub(crate) fn bytes(&self) -> u64 {
        self.end_offset
    }
}

/// The segment files in `dir`, oldest first.
pub(crate) fn list_segments(
    backend: &dyn Backend,
    dir: &Path,
) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let names = backend
        .list(dir)
        .map_err(|e| WalError::io("list", dir, e))?;
    let mut found: Vec<_> = names
        .iter()
        .filter_map(|n| Some((segment::parse_file_name(n)?, dir.join(n))))
        .collect();
    found.sort();
    Ok(found)
}

/// Scans every segment, cuts a bad tail, and returns the kept segments.
pub(crate) fn recover(
    backend: &dyn Backend,
    dir: &Path,
) -> Result<(Vec<SegmentMeta>, RecoveryReport), WalError> {
    let files = list_segments(backend, dir)?;
    let mut report = RecoveryReport::default();
    let mut kept: Vec<SegmentMeta> = Vec::with_capacity(files.len());
    for (i, (name_base, path)) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let bytes = backend
            .read(path)
            .map_err(|e| WalError::io("read", path, e))?;
        report.bytes_scanned += bytes.len() as u64;
        let scan = match segment::scan(&bytes, |_, _| {}) {
            Ok(s) if s.base_sequence == *name_base => s,
            Ok(s) => {
                let reason = HeaderError::NameMismatch {
                    expected: *name_base,
                    found: s.base_sequence,
                };
                return Err(WalError::CorruptHeader {
                    path: path.clone(),
                    reason,
                });
            }
            Err(reason) if last => {
                report.next_sequence = *name_base;
                drop(bytes);
                backend
                    .remove(path)
                    .map_err(|e| WalError::io("remove", path, e))?;
                backend
                    .sync_dir(dir)
                    .map_err(|e| WalError::io("fsync dir", dir, e))?;
                report.removed_segment = Some((path.clone(), reason));
                break;
            }
            Err(reason) => {
                return Err(WalError::CorruptHeader {
                    path: path.clone(),
                    reason,
                })
            }
        };
        if let Some(prev) = kept.last() {
            if prev.end_sequence != scan.base_sequence {
                return Err(WalError::SequenceGap {
                    path: path.clone(),
                    expected: prev.end_sequence,
                    found: scan.base_sequence,
                });
            }
        }
        if let ScanEnd::Bad(reason) = &scan.end {
            if !last {
                return Err(WalError::CorruptRecord {
                    path: path.clone(),
                    reason: reason.clone(),
                });
            }
            let dirty_end = bytes
                .iter()
                .rposition(|&b| b != 0)
                .map_or(0, |p| p as u64 + 1);
            drop(bytes);
            let zeroed = zero_range(backend, path, scan.end_offset, dirty_end)?;
            report.cut = Some(Cut {
                segment: path.clone(),
                offset: scan.end_offset,
                bytes_zeroed: zeroed,
                reason: reason.clone(),
            });
        }
        report.records += scan.records;
        kept.push(SegmentMeta {
            path: path.clone(),
            base_sequence: scan.base_sequence,
            end_sequence: scan.next_sequence(),
            end_offset: scan.end_offset,
            last_timestamp_ns: scan.last_timestamp_ns,
        });
    }
    report.segments = kept.len();
    if let Some(last) = kept.last() {
        report.next_sequence = last.end_sequence;
    }
    Ok((kept, report))
}

/// Overwrites `[from, to)` of a file with zeros and syncs it.
fn zero_range(backend: &dyn Backend, path: &Path, from: u64, to: u64) -> Result<u64, WalError> {
    if to <= from {
        return Ok(0);
    }
    const CHUNK: usize = 64 << 10;
    let zeros = vec![0u8; CHUNK];
    let file = backend
        .open(path)
        .map_err(|e| WalError::io("open", path, e))?;
    let mut at = from;
    while at < to {
        let n = ((to - at) as usize).min(CHUNK);
        file.write_at(&zeros[..n], at)
            .map_err(|e| WalError::io("write", path, e))?;
        at += n as u64;
    }
    file.sync_data()
        .map_err(|e| WalError::io("fdatasync", path, e))?;
    Ok(to - from)
}
