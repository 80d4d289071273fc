//! One partition's log: segments on disk, appends through a write buffer,
//! syncs per policy, reads by sequence.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use keel_engine::config::{FsyncPolicy, WalConfig};
use zerocopy::IntoBytes;

use super::error::WalError;
use super::io::{Backend, BackendFile};
use super::record::{self, Decoded, RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX};
use super::recovery::{self, RecoveryReport, SegmentMeta};
use super::segment::{self, SegmentHeader, SEGMENT_HEADER_BYTES};
use super::sync::{Durability, GroupCommit, Receipt};

/// Bytes buffered before they are handed to the OS in one `pwrite`.
pub const WRITE_BUFFER_BYTES: usize = 256 << 10;
/// Under policy "always", how far past the records a segment's space is
/// written with zeros ahead of them (see `Writer::zero_ahead`).
pub const ZERO_AHEAD_BYTES: u64 = 64 << 10;
static ZEROS: [u8; ZERO_AHEAD_BYTES as usize] = [0; ZERO_AHEAD_BYTES as usize];
/// Smallest segment size accepted.
pub const SEGMENT_BYTES_MIN: u64 = 4 << 10;
/// Largest segment size accepted.
pub const SEGMENT_BYTES_MAX: u64 = 1 << 40;
const _: () = assert!(SEGMENT_BYTES_MIN as usize > SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES);

/// How a log is laid out and synced (from [`WalConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    /// Size a segment is preallocated to and rolled at.
    pub segment_bytes: u64,
    /// When appends are synced.
    pub fsync: FsyncPolicy,
    /// Records between syncs under [`FsyncPolicy::EveryN`].
    pub fsync_every_records: u64,
    /// Milliseconds between syncs under [`FsyncPolicy::EveryMs`].
    pub fsync_every_ms: u64,
}

impl LogOptions {
    /// The log options of an engine config section.
    pub fn from_config(config: &WalConfig) -> LogOptions {
        LogOptions {
            segment_bytes: config.segment_bytes,
            fsync: config.fsync,
            fsync_every_records: config.fsync_every_records,
            fsync_every_ms: config.fsync_every_ms,
        }
    }

    fn validate(&self) -> Result<(), WalError> {
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&self.segment_bytes) {
            return Err(WalError::Config {
                key: "segment_bytes",
                value: self.segment_bytes.to_string(),
                allowed: "4096 ..= 2^40",
            });
        }
        if self.fsync == FsyncPolicy::EveryN && self.fsync_every_records == 0 {
            return Err(WalError::Config {
                key: "fsync_every_records",
                value: "0".into(),
                allowed: "at least 1",
            });
        }
        if self.fsync == FsyncPolicy::EveryMs && self.fsync_every_ms == 0 {
            return Err(WalError::Config {
                key: "fsync_every_ms",
                value: "0".into(),
                allowed: "at least 1",
            });
        }
        Ok(())
    }

    /// Largest payload one record may carry in a segment of this size.
    pub fn payload_bytes_max(&self) -> usize {
        let room = self.segment_bytes as usize - SEGMENT_HEADER_BYTES - RECORD_HEADER_BYTES;
        room.min(RECORD_PAYLOAD_BYTES_MAX)
    }
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions::from_config(&WalConfig::default())
    }
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its sequence.
    pub sequence: u64,
    /// Append time, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// The payload.
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Failure {
    op: &'static str,
    path: PathBuf,
    message: String,
}

#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) segments: Vec<SegmentMeta>,
    files: SegmentFiles,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_offset: u64,
    /// The active segment's space below this offset has been written
    /// (records or zeros) since this writer created the segment.
    zeroed_end: u64,
    /// How far zero-ahead may write in the active segment: its size, or 0
    /// where it is off (policies other than "always", and a segment found
    /// by recovery, whose size may differ from this log's option).
    zero_limit: u64,
    next_sequence: u64,
    unsynced_records: u64,
    last_sync: Instant,
    failed: Option<Failure>,
}

/// The active segment's two handles. `write` takes the appends and is
/// synced when the segment is rolled (under the writer lock); `sync` is a
/// second open of the same file for group-commit syncs, which run outside
/// that lock. Linux reports a writeback error to one `fsync` per open file
/// description: on one shared handle a roll's sync could run beside a
/// leader's, the leader take the error, and the roll succeed and mark the
/// lost records durable. Each handle sees every error.
#[derive(Debug)]
struct SegmentFiles {
    write: Arc<dyn BackendFile>,
    sync: Arc<dyn BackendFile>,
}

#[derive(Debug, Clone, Copy, Default)]
struct ReadCursor {
    sequence: u64,
    segment_base: u64,
    offset: u64,
}

#[derive(Debug)]
pub(crate) struct Shared {
    backend: Arc<dyn Backend>,
    dir: PathBuf,
    options: LogOptions,
    pub(crate) writer: Mutex<Writer>,
    commit: GroupCommit,
    cursor: Mutex<ReadCursor>,
    /// `fdatasync` calls on segments so far (a metric: records per sync
    /// shows how well group commit batches).
    syncs: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Nanoseconds since the Unix epoch.
pub fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One partition's write-ahead log. `Send + Sync`: share it in an `Arc`;
/// appends from many threads are ordered by one short lock.
#[derive(Debug)]
pub struct PartitionLog {
    pub(crate) shared: Arc<Shared>,
    flusher: Option<Flusher>,
}

impl Writer {
    fn check(&self, dir: &Path) -> Result<(), WalError> {
        match &self.failed {
            None => Ok(()),
            Some(f) => Err(WalError::Failed {
                dir: dir.to_path_buf(),
                op: f.op,
                path: f.path.clone(),
                message: f.message.clone(),
            }),
        }
    }

    /// Records a failed write or sync; every later write is refused.
    fn fail(&mut self, op: &'static str, path: &Path, e: std::io::Error) -> WalError {
        if self.failed.is_none() {
            tracing::error!(%op, path = %path.display(), error = %e, "wal failed; refusing writes");
            self.failed = Some(Failure {
                op,
                path: path.to_path_buf(),
                message: e.to_string(),
            });
        }
        WalError::io(op, path, e)
    }

    /// Writes zeros from the end of the records about to be written
    /// (`end`) to [`ZERO_AHEAD_BYTES`] past it. Preallocated space is
    /// unwritten: the first `fdatasync` after records reach a new block
    /// converts it to written, a journal commit of its own. Small
    /// frequent syncs (policy "always") cross a block every few syncs;
    /// writing zeros ahead lets one sync convert the next 64 KiB at once
    /// (16 producers' sync: 20-35% faster measured on the development VM;
    /// see `storage/FORMAT.md`). The zeros reach the device once, with the
    /// sync that follows.
    ///
    /// Called when `end` passes `zeroed_end`; does nothing where zero-ahead
    /// is off (`zero_limit` 0) or the records reach the segment's end.
    fn zero_ahead(&mut self, end: u64) -> Result<(), WalError> {
        let to = (end + ZERO_AHEAD_BYTES).min(self.zero_limit);
        if to <= end {
            return Ok(());
        }
        let zeros = &ZEROS[..(to - end) as usize];
        if let Err(e) = self.files.write.write_at(zeros, end) {
            let path = self.active().path.clone();
            return Err(self.fail("write", &path, e));
        }
        self.zeroed_end = to;
        Ok(())
    }

    fn active(&self) -> &SegmentMeta {
        self.segments
            .last()
            .expect("a log always has an active segment")
    }

    /// Hands buffered bytes to the OS, unless the log has failed (sticky).
    fn write_out(&mut self, dir: &Path) -> Result<(), WalError> {
        self.check(dir)?;
        self.flush()
    }

    /// Hands buffered bytes to the OS.
    fn flush(&mut self) -> Result<(), WalError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let end = self.buf_offset + self.buf.len() as u64;
        if end > self.zeroed_end {
            self.zero_ahead(end)?;
        }
        if let Err(e) = self.files.write.write_at(&self.buf, self.buf_offset) {
            let path = self.active().path.clone();
            return Err(self.fail("write", &path, e));
        }
        self.buf_offset += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

impl Shared {
    fn segment_path(&self, base: u64) -> PathBuf {
        self.dir.join(segment::file_name(base))
    }

    /// Creates, preallocates, heads and syncs a new segment file; opens
    /// its sync handle.
    fn create_segment(&self, base: u64) -> Result<(SegmentFiles, SegmentMeta), WalError> {
        let path = self.segment_path(base);
        let size = self.options.segment_bytes;
        let file = self
            .backend
            .create(&path, size)
            .map_err(|e| WalError::io("create", &path, e))?;
        let header = SegmentHeader::new(base, size, unix_now_ns());
        file.write_at(header.as_bytes(), 0)
            .map_err(|e| WalError::io("write", &path, e))?;
        file.sync_data()
            .map_err(|e| WalError::io("fdatasync", &path, e))?;
        self.backend
            .sync_dir(&self.dir)
            .map_err(|e| WalError::io("fsync dir", &self.dir, e))?;
        let meta = SegmentMeta {
            path,
            base_sequence: base,
            end_sequence: base,
            end_offset: SEGMENT_HEADER_BYTES as u64,
            last_timestamp_ns: 0,
        };
        let sync = self.open(&meta.path)?;
        Ok((SegmentFiles { write: file, sync }, meta))
    }

    /// Opens an existing segment's two handles.
    fn open_segment(&self, path: &Path) -> Result<SegmentFiles, WalError> {
        Ok(SegmentFiles {
            write: self.open(path)?,
            sync: self.open(path)?,
        })
    }

    fn open(&self, path: &Path) -> Result<Arc<dyn BackendFile>, WalError> {
        self.backend
            .open(path)
            .map_err(|e| WalError::io("open", path, e))
    }

    /// The zero-ahead limit for a segment this log creates.
    fn zero_limit(&self) -> u64 {
        match self.options.fsync {
            FsyncPolicy::Always => self.options.segment_bytes,
            _ => 0,
        }
    }

    /// Seals the active segment (flush, sync) and starts the next one.
    fn roll(&self, w: &mut Writer) -> Result<(), WalError> {
        w.flush()?;
        if let Err(e) = w.files.write.sync_data() {
            let path = w.active().path.clone();
            return Err(w.fail("fdatasync", &path, e));
        }
        self.commit.publish(w.next_sequence);
        w.unsynced_records = 0;
        let (files, meta) = match self.create_segment(w.next_sequence) {
            Ok(v) => v,
            Err(e) => {
                let path = self.segment_path(w.next_sequence);
                w.failed.get_or_insert(Failure {
                    op: "create segment",
                    path,
                    message: e.to_string(),
                });
                return Err(e);
            }
        };
        w.buf_offset = meta.end_offset;
        w.zeroed_end = meta.end_offset;
        w.zero_limit = self.zero_limit();
        w.files = files;
        w.segments.push(meta);
        Ok(())
    }

    /// Flushes and syncs through the sync handle; returns the sequence
    /// below which all is durable.
    fn sync(&self) -> Result<u64, WalError> {
        let (file, end, path) = {
            let mut w = lock(&self.writer);
            w.write_out(&self.dir)?;
            w.unsynced_records = 0;
            w.last_sync = Instant::now();
            (
                w.files.sync.clone(),
                w.next_sequence,
                w.active().path.clone(),
            )
        };
        // Relaxed: a statistic; nothing is published through it (partner:
        // the Relaxed load in `PartitionLog::syncs`).
        self.syncs.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = file.sync_data() {
            return Err(lock(&self.writer).fail("fdatasync", &path, e));
        }
        Ok(end)
    }

    /// Makes every record appended so far durable (joining a sync in
    /// flight that covers them).
    fn sync_all(&self) -> Result<(), WalError> {
        let next = {
            let w = lock(&self.writer);
            w.check(&self.dir)?;
            w.next_sequence
        };
        match next.checked_sub(1) {
            Some(last) => self.wait_durable(last),
            None => Ok(()),
        }
    }

    fn wait_durable(&self, sequence: u64) -> Result<(), WalError> {
        let gather = self.options.fsync == FsyncPolicy::Always;
        self.commit.wait_durable(sequence, gather, || self.sync())
    }
}

impl PartitionLog {
    /// Opens (or creates) the log in `dir`, running recovery.
    pub fn open(
        backend: Arc<dyn Backend>,
        dir: impl Into<PathBuf>,
        options: LogOptions,
    ) -> Result<(PartitionLog, RecoveryReport), WalError> {
        options.validate()?;
        let dir = dir.into();
        backend
            .create_dir_all(&dir)
            .map_err(|e| WalError::io("create dir", &dir, e))?;
        let (mut segments, report) = recovery::recover(backend.as_ref(), &dir)?;
        let next_sequence = report.next_sequence;
        let mut shared = Shared {
            backend,
            dir,
            options,
            writer: Mutex::new(Writer {
                segments: Vec::new(),
                files: SegmentFiles {
                    write: Arc::new(NoFile),
                    sync: Arc::new(NoFile),
                },
                buf: Vec::with_capacity(WRITE_BUFFER_BYTES),
                buf_offset: 0,
                zeroed_end: 0,
                zero_limit: 0,
                next_sequence,
                unsynced_records: 0,
                last_sync: Instant::now(),
                failed: None,
            }),
            commit: GroupCommit::new(next_sequence),
            cursor: Mutex::new(ReadCursor::default()),
            syncs: AtomicU64::new(0),
        };
        let mut zero_limit = 0;
        let files = match segments.last() {
            Some(last) => {
                let files = shared.open_segment(&last.path)?;
                // What recovery found may still be only in the page cache.
                files
                    .write
                    .sync_data()
                    .map_err(|e| WalError::io("fdatasync", &last.path, e))?;
                files
            }
            None => {
                let (files, meta) = shared.create_segment(next_sequence)?;
                segments.push(meta);
                zero_limit = shared.zero_limit();
                files
            }
        };
        {
            let w = shared.writer.get_mut().unwrap_or_else(|e| e.into_inner());
            w.buf_offset = segments.last().map_or(0, |s| s.end_offset);
            w.zeroed_end = w.buf_offset;
            w.zero_limit = zero_limit;
            w.segments = segments;
            w.files = files;
        }
        let shared = Arc::new(shared);
        let flusher = (options.fsync == FsyncPolicy::EveryMs)
            .then(|| Flusher::spawn(Arc::downgrade(&shared), options.fsync_every_ms));
        Ok((PartitionLog { shared, flusher }, report))
    }

    /// Appends a record stamped with the current wall-clock time (read
    /// under the append lock, so timestamps follow sequence order). Under
    /// policy "always" it returns once the record is durable, sharing the
    /// sync with concurrent appenders.
    pub fn append(&self, payload: &[u8]) -> Result<Receipt, WalError> {
        self.append_inner(payload, None, true)
    }

    /// Appends like [`PartitionLog::append`] but never waits for a sync:
    /// where `append` would wait, the receipt says `Durability::OnWait`
    /// and [`PartitionLog::wait`] makes it durable. For callers that must
    /// append under a lock of their own (the bus keeps a partition's log
    /// and ring in one order) and wait outside it, so concurrent appenders
    /// still share one sync.
    pub fn append_deferred(&self, payload: &[u8]) -> Result<Receipt, WalError> {
        self.append_inner(payload, None, false)
    }

    /// Appends a record with an explicit timestamp (nanoseconds since the
    /// Unix epoch), otherwise like [`PartitionLog::append`].
    pub fn append_at(&self, payload: &[u8], timestamp_ns: u64) -> Result<Receipt, WalError> {
        self.append_inner(payload, Some(timestamp_ns), true)
    }

    fn append_inner(
        &self,
        payload: &[u8],
        timestamp_ns: Option<u64>,
        wait: bool,
    ) -> Result<Receipt, WalError> {
        let s = &*self.shared;
        let max = s.options.payload_bytes_max();
        if payload.len() > max {
            return Err(WalError::PayloadTooLarge {
                len: payload.len(),
                max,
            });
        }
        let policy = s.options.fsync;
        let _in_flight = (wait && policy == FsyncPolicy::Always).then(|| s.commit.enter());
        let (sequence, unsynced, last_sync) = {
            let mut guard = lock(&s.writer);
            let w = &mut *guard;
            w.check(&s.dir)?;
            let len = record::encoded_len(payload.len()) as u64;
            if w.active().end_offset + len > s.options.segment_bytes {
                s.roll(w)?;
            }
            if w.buf.len() + len as usize > WRITE_BUFFER_BYTES {
                w.flush()?;
            }
            let sequence = w.next_sequence;
            let timestamp_ns = timestamp_ns.unwrap_or_else(unix_now_ns);
            record::encode(&mut w.buf, sequence, timestamp_ns, payload);
            w.next_sequence += 1;
            w.unsynced_records += 1;
            let active = w.segments.last_mut().expect("active segment");
            active.end_sequence += 1;
            active.end_offset += len;
            active.last_timestamp_ns = timestamp_ns;
            debug_assert_eq!(active.end_offset, w.buf_offset + w.buf.len() as u64);
            (sequence, w.unsynced_records, w.last_sync)
        };
        let must_sync = match policy {
            FsyncPolicy::Always => true,
            FsyncPolicy::EveryN => unsynced >= s.options.fsync_every_records,
            FsyncPolicy::EveryMs | FsyncPolicy::Never => false,
        };
        let durability = match policy {
            _ if must_sync && !wait => Durability::OnWait,
            _ if must_sync => {
                s.wait_durable(sequence)?;
                Durability::Durable
            }
            FsyncPolicy::EveryN => {
                Durability::AtSequence(sequence + s.options.fsync_every_records - unsynced)
            }
            FsyncPolicy::EveryMs => {
                Durability::ByDeadline(last_sync + Duration::from_millis(s.options.fsync_every_ms))
            }
            FsyncPolicy::Always | FsyncPolicy::Never => Durability::OnExplicitSync,
        };
        Ok(Receipt {
            sequence,
            durability,
        })
    }

    /// Blocks until the receipt's record is durable, syncing now if no
    /// sync is already running (joins it otherwise). Never spins.
    pub fn wait(&self, receipt: &Receipt) -> Result<(), WalError> {
        self.wait_for(receipt.sequence)
    }

    /// Blocks until the record at `sequence` (and every one before it) is
    /// durable, like [`PartitionLog::wait`] for a receipt's sequence.
    pub fn wait_for(&self, sequence: u64) -> Result<(), WalError> {
        self.shared.wait_durable(sequence)
    }

    /// Whether the receipt's record is durable already.
    pub fn is_durable(&self, receipt: &Receipt) -> bool {
        self.shared.commit.is_durable(receipt.sequence)
    }

    /// Makes every record appended so far durable. Fails (sticky) once a
    /// write or sync of the log has failed.
    pub fn sync(&self) -> Result<(), WalError> {
        self.shared.sync_all()
    }

    /// The sequence below which every record is durable (synced, or
    /// found on open).
    pub fn durable_end(&self) -> u64 {
        self.shared.commit.durable_end()
    }

    /// Hands every buffered record to the OS without syncing: from here a
    /// crash of this process keeps them (a power cut may not). Returns the
    /// sequence after the last one handed over. Fails (sticky) once a
    /// write or sync of the log has failed.
    pub fn write_out(&self) -> Result<u64, WalError> {
        let s = &*self.shared;
        let mut w = lock(&s.writer);
        w.write_out(&s.dir)?;
        Ok(w.next_sequence)
    }

    /// `fdatasync` calls made for appends so far (rolls excluded).
    pub fn syncs(&self) -> u64 {
        // Relaxed: see the increment in `Shared::sync`.
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// Sequence the next append gets.
    pub fn next_sequence(&self) -> u64 {
        lock(&self.shared.writer).next_sequence
    }

    /// First sequence still kept (retention removes whole segments below it).
    pub fn first_sequence(&self) -> u64 {
        lock(&self.shared.writer).segments[0].base_sequence
    }

    /// Bytes of records kept, over all segments.
    pub fn bytes(&self) -> u64 {
        lock(&self.shared.writer)
            .segments
            .iter()
            .map(SegmentMeta::bytes)
            .sum()
    }

    /// Segment files kept.
    pub fn segment_count(&self) -> usize {
        lock(&self.shared.writer).segments.len()
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The options the log was opened with.
    pub fn options(&self) -> LogOptions {
        self.shared.options
    }

    /// Reads up to `max_records` records starting at sequence `from`, in
    /// order. Records not yet synced are included.
    pub fn read(&self, from: u64, max_records: usize) -> Result<Vec<Record>, WalError> {
        let mut out = Vec::new();
        self.visit(from, max_records, &mut |r: &record::RecordRef<'_>| {
            out.push(Record {
                sequence: r.sequence,
                timestamp_ns: r.timestamp_ns,
                payload: r.payload.to_vec(),
            });
            true
        })?;
        Ok(out)
    }

    /// Calls `f` on up to `max_records` records from sequence `from`,
    /// stopping early at the first record `f` refuses (returns false);
    /// returns the sequence after the last one `f` accepted. The read
    /// cursor is left at the refused record, so the next visit from there
    /// resumes without rescanning the segment.
    pub fn visit(
        &self,
        from: u64,
        max_records: usize,
        f: &mut dyn FnMut(&record::RecordRef<'_>) -> bool,
    ) -> Result<u64, WalError> {
        let s = &*self.shared;
        let (path, base, end_sequence, end_offset) = {
            let mut w = lock(&s.writer);
            let first = w.segments[0].base_sequence;
            if from < first {
                return Err(WalError::Compacted {
                    requested: from,
                    first,
                });
            }
            if from >= w.next_sequence || max_records == 0 {
                return Ok(from);
            }
            let i = w.segments.partition_point(|m| m.end_sequence <= from);
            if i + 1 == w.segments.len() {
                w.write_out(&s.dir)?;
            }
            let m = &w.segments[i];
            (
                m.path.clone(),
                m.base_sequence,
                m.end_sequence,
                m.end_offset,
            )
        };
        let bytes = s
            .backend
            .read(&path)
            .map_err(|e| WalError::io("read", &path, e))?;
        let bytes = &bytes[..(end_offset as usize).min(bytes.len())];
        let start = {
            let c = lock(&s.cursor);
            if c.sequence == from && c.segment_base == base && c.offset > 0 {
                (c.offset, from)
            } else {
                (SEGMENT_HEADER_BYTES as u64, base)
            }
        };
        let (mut at, mut seq) = start;
        let mut visited = 0;
        while seq < end_sequence && visited < max_records {
            let (rec, used) = match record::decode(&bytes[at as usize..], at) {
                Ok(Decoded::Record(r, used)) if r.sequence == seq => (r, used),
                Err(reason) => return Err(WalError::CorruptRecord { path, reason }),
                Ok(_) => {
                    let reason = record::RecordError::BadSequence {
                        offset: at,
                        expected: seq,
                        found: u64::MAX,
                    };
                    return Err(WalError::CorruptRecord { path, reason });
                }
            };
            if seq >= from {
                if !f(&rec) {
                    break;
                }
                visited += 1;
            }
            at += used as u64;
            seq += 1;
        }
        *lock(&s.cursor) = ReadCursor {
            sequence: seq,
            segment_base: base,
            offset: at,
        };
        Ok(seq)
    }

    /// Removes whole sealed segments from the front whose every record
    /// ends below `keep_from`; returns (segments removed, bytes freed).
    pub(crate) fn remove_segments_below(&self, keep_from: u64) -> Result<(usize, u64), WalError> {
        let s = &*self.shared;
        let mut w = lock(&s.writer);
        let mut removed = (0, 0);
        while w.segments.len() > 1 && w.segments[0].end_sequence <= keep_from {
            let m = w.segments[0].clone();
            s.backend
                .remove(&m.path)
                .map_err(|e| WalError::io("remove", &m.path, e))?;
            w.segments.remove(0);
            removed.0 += 1;
            removed.1 += m.bytes();
        }
        if removed.0 > 0 {
            s.backend
                .sync_dir(&s.dir)
                .map_err(|e| WalError::io("fsync dir", &s.dir, e))?;
        }
        Ok(removed)
    }

    /// (base sequence, end sequence, bytes, last timestamp) of each segment.
    pub(crate) fn segment_summaries(&self) -> Vec<(u64, u64, u64, u64)> {
        lock(&self.shared.writer)
            .segments
            .iter()
            .map(|m| {
                (
                    m.base_sequence,
                    m.end_sequence,
                    m.bytes(),
                    m.last_timestamp_ns,
                )
            })
            .collect()
    }
}

impl Drop for PartitionLog {
    /// Hands buffered records to the OS (no sync: durability is the
    /// policy's business, or call [`PartitionLog::sync`] before dropping).
    fn drop(&mut self) {
        self.flusher.take();
        let mut w = lock(&self.shared.writer);
        if w.failed.is_none() {
            if let Err(e) = w.flush() {
                tracing::error!(error = %e, "wal: flushing on close failed");
            }
        }
    }
}

/// Placeholder file before the first segment is opened; never written.
#[derive(Debug)]
struct NoFile;

impl BackendFile for NoFile {
    fn write_at(&self, _: &[u8], _: u64) -> std::io::Result<()> {
        Err(std::io::Error::other("no segment open"))
    }
    fn sync_data(&self) -> std::io::Result<()> {
        Err(std::io::Error::other("no segment open"))
    }
}

/// The background thread of policy every T ms.
#[derive(Debug)]
struct Flusher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    fn spawn(shared: Weak<Shared>, every_ms: u64) -> Flusher {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("keel-wal-flush".into())
            .spawn(move || loop {
                let guard = lock(&stop2.0);
                let (guard, _) = stop2
                    .1
                    .wait_timeout(guard, Duration::from_millis(every_ms))
                    .unwrap_or_else(|e| e.into_inner());
                if *guard {
                    return;
                }
                drop(guard);
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                let pending = lock(&shared.writer).unsynced_records > 0;
                // A failure is sticky in the writer: the next append reports it.
                if pending && shared.sync_all().is_err() {
                    return;
                }
            })
            .expect("spawn wal flusher thread");
        Flusher {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        *lock(&self.stop.0) = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
