//! Under policy "always" the log writes zeros ahead of its records, 64 KiB
//! at a time, so one sync turns the next stretch of preallocated space
//! into written space instead of every few syncs paying for a new block.
//! Other policies never do; the zeros stay inside the segment; a segment
//! found by recovery is left as it is; and the records read back whole.

use std::path::Path;
use std::sync::{Arc, Mutex};

use keel_engine::config::FsyncPolicy;
use keel_storage::{
    encoded_len, BackendFile, LogOptions, PartitionLog, SimDisk, SEGMENT_HEADER_BYTES,
    ZERO_AHEAD_BYTES,
};
use keel_tests::wal_support::{read_all, WrapHandle, WrappedDisk};

/// One `write_at`: offset, length, whether every byte was zero.
type Write = (u64, u64, bool);

#[derive(Debug, Clone, Default)]
struct Recorder {
    writes: Arc<Mutex<Vec<Write>>>,
}

#[derive(Debug)]
struct RecordingFile {
    inner: Arc<dyn BackendFile>,
    writes: Arc<Mutex<Vec<Write>>>,
}

impl BackendFile for RecordingFile {
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        let zero = buf.iter().all(|&b| b == 0);
        self.writes
            .lock()
            .unwrap()
            .push((offset, buf.len() as u64, zero));
        self.inner.write_at(buf, offset)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.inner.sync_data()
    }
}

impl WrapHandle for Recorder {
    fn wrap(&self, inner: Arc<dyn BackendFile>) -> Arc<dyn BackendFile> {
        Arc::new(RecordingFile {
            inner,
            writes: self.writes.clone(),
        })
    }
}

const PAYLOAD: usize = 100;

fn open(disk: &SimDisk, rec: &Recorder, fsync: FsyncPolicy, segment_bytes: u64) -> PartitionLog {
    let backend = WrappedDisk {
        disk: disk.clone(),
        wrap: rec.clone(),
    };
    let options = LogOptions {
        segment_bytes,
        fsync,
        fsync_every_records: 1,
        fsync_every_ms: 20,
    };
    PartitionLog::open(Arc::new(backend), Path::new("/p"), options)
        .unwrap()
        .0
}

fn zero_writes(rec: &Recorder) -> Vec<(u64, u64)> {
    let writes = rec.writes.lock().unwrap();
    writes
        .iter()
        .filter(|w| w.2 && w.1 > 0 && w.0 >= SEGMENT_HEADER_BYTES as u64)
        .map(|w| (w.0, w.1))
        .collect()
}

fn clear(rec: &Recorder) {
    rec.writes.lock().unwrap().clear();
}

const RECORD: u64 = encoded_len(PAYLOAD) as u64;

#[test]
fn always_zeroes_the_next_64_kib_once_per_64_kib_of_records() {
    let disk = SimDisk::new();
    let rec = Recorder::default();
    let log = open(&disk, &rec, FsyncPolicy::Always, 1 << 20);
    clear(&rec);
    let _ = log.append(&[7u8; PAYLOAD]).unwrap();
    let first_end = SEGMENT_HEADER_BYTES as u64 + RECORD;
    assert_eq!(
        zero_writes(&rec),
        vec![(first_end, ZERO_AHEAD_BYTES)],
        "the first sync's write is followed by 64 KiB of zeros"
    );
    // Records up to the zeroed end write no more zeros; the one that
    // passes it writes the next stretch.
    let fit = (ZERO_AHEAD_BYTES / RECORD) as usize;
    for _ in 0..fit {
        let _ = log.append(&[7u8; PAYLOAD]).unwrap();
    }
    assert_eq!(zero_writes(&rec).len(), 1, "still inside the first stretch");
    let per_stretch = fit + 1;
    {
        let _ = log.append(&[7u8; PAYLOAD]).unwrap();
    }
    let zeros = zero_writes(&rec);
    assert_eq!(zeros.len(), 2, "one more stretch: {zeros:?}");
    let end = SEGMENT_HEADER_BYTES as u64 + RECORD * (per_stretch as u64 + 1);
    assert_eq!(zeros[1], (end, ZERO_AHEAD_BYTES));
    assert_eq!(read_all(&log).len(), per_stretch + 1);
}

#[test]
fn other_policies_write_no_zeros() {
    for policy in [
        FsyncPolicy::EveryN,
        FsyncPolicy::EveryMs,
        FsyncPolicy::Never,
    ] {
        let disk = SimDisk::new();
        let rec = Recorder::default();
        let log = open(&disk, &rec, policy, 1 << 20);
        for _ in 0..50 {
            let _ = log.append(&[7u8; PAYLOAD]).unwrap();
        }
        log.sync().unwrap();
        assert_eq!(zero_writes(&rec), vec![], "{policy:?}");
    }
}

#[test]
fn zeros_stay_inside_the_segment() {
    let disk = SimDisk::new();
    let rec = Recorder::default();
    let segment_bytes = 16 << 10;
    let log = open(&disk, &rec, FsyncPolicy::Always, segment_bytes);
    // Enough records to roll a few times.
    let n = 3 * (segment_bytes / RECORD) as usize;
    for i in 0..n {
        let _ = log.append(&[(i % 251) as u8 + 1; PAYLOAD]).unwrap();
    }
    assert!(log.segment_count() >= 3);
    let writes = rec.writes.lock().unwrap().clone();
    assert!(writes.iter().any(|w| w.2 && w.1 > 0));
    for (offset, len, _) in writes {
        assert!(
            offset + len <= segment_bytes,
            "write [{offset}, {}) past the segment's {segment_bytes} bytes",
            offset + len
        );
    }
    let records = read_all(&log);
    assert_eq!(records.len(), n);
    assert!(records
        .iter()
        .enumerate()
        .all(|(i, r)| r.payload == vec![(i % 251) as u8 + 1; PAYLOAD]));
}

#[test]
fn a_recovered_segment_gets_no_zeros_and_keeps_its_records() {
    let disk = SimDisk::new();
    let rec = Recorder::default();
    let log = open(&disk, &rec, FsyncPolicy::Always, 1 << 20);
    for _ in 0..3 {
        let _ = log.append(&[1u8; PAYLOAD]).unwrap();
    }
    drop(log);
    disk.power_cut();
    let log = open(&disk, &rec, FsyncPolicy::Always, 1 << 20);
    clear(&rec);
    for _ in 0..3 {
        let _ = log.append(&[2u8; PAYLOAD]).unwrap();
    }
    assert_eq!(zero_writes(&rec), vec![]);
    let records = read_all(&log);
    assert_eq!(records.len(), 6);
    assert!(records[..3].iter().all(|r| r.payload == [1u8; PAYLOAD]));
    assert!(records[3..].iter().all(|r| r.payload == [2u8; PAYLOAD]));
}
