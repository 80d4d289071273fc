//! Torn and corrupted tails on real files: a truncated file, flipped bits
//! and a zeroed page in the last segment are cut exactly at the first bad
//! record, earlier records all survive, the report names what was cut, a
//! second open finds nothing more to cut, and stale bytes past the cut can
//! never come back as records. Damage in a sealed segment is refused with
//! a typed error and nothing is cut.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keel_engine::config::FsyncPolicy;
use keel_storage::{
    LogOptions, OsBackend, PartitionLog, RecordError, WalError, RECORD_HEADER_BYTES,
    SEGMENT_HEADER_BYTES,
};
use keel_tests::wal_support::{payload, read_all, PAYLOAD_BYTES};

const REC: u64 = (RECORD_HEADER_BYTES + PAYLOAD_BYTES) as u64;
const HDR: u64 = SEGMENT_HEADER_BYTES as u64;

fn options() -> LogOptions {
    LogOptions {
        segment_bytes: 64 << 10,
        fsync: FsyncPolicy::EveryN,
        fsync_every_records: 50,
        fsync_every_ms: 10,
    }
}

/// A log with `n` records in one segment; returns its dir and the segment.
fn log_with(n: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let (log, _) = PartitionLog::open(Arc::new(OsBackend), dir.path(), options()).unwrap();
    for i in 0..n {
        let _ = log.append(&payload(0, 0, i)).unwrap();
    }
    log.sync().unwrap();
    drop(log);
    let seg = dir.path().join(keel_storage::segment_file_name(0));
    (dir, seg)
}

fn reopen(dir: &Path) -> (PartitionLog, keel_storage::RecoveryReport) {
    PartitionLog::open(Arc::new(OsBackend), dir, options()).unwrap()
}

fn damage(seg: &Path, offset: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(seg).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

fn assert_intact_prefix(log: &PartitionLog, n: u64) {
    let records = read_all(log);
    assert_eq!(records.len() as u64, n);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.payload, payload(0, 0, i as u64));
    }
}

#[test]
fn truncated_file_is_cut_at_the_partial_record() {
    let (dir, seg) = log_with(20);
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(HDR + 17 * REC + 30).unwrap();
    let (log, report) = reopen(dir.path());
    let cut = report.cut.expect("a cut");
    assert_eq!(cut.offset, HDR + 17 * REC);
    assert!(
        matches!(cut.reason, RecordError::Short { .. }),
        "{:?}",
        cut.reason
    );
    assert_intact_prefix(&log, 17);
}

#[test]
fn flipped_bit_in_a_record_cuts_there() {
    for victim in [0u64, 9, 19] {
        let (dir, seg) = log_with(20);
        let at = HDR + victim * REC + 40;
        let mut b = [0u8; 1];
        OpenOptions::new()
            .read(true)
            .open(&seg)
            .unwrap()
            .read_exact_at(&mut b, at)
            .unwrap();
        damage(&seg, at, &[b[0] ^ 0x10]);
        let (log, report) = reopen(dir.path());
        let cut = report.cut.expect("a cut");
        assert_eq!(cut.offset, HDR + victim * REC, "victim {victim}");
        assert!(matches!(cut.reason, RecordError::BadChecksum { .. }));
        assert_eq!(cut.bytes_zeroed, (20 - victim) * REC);
        assert_intact_prefix(&log, victim);
        drop(log);
        let (log, again) = reopen(dir.path());
        assert_eq!(again.cut, None, "second open cut again");
        assert_intact_prefix(&log, victim);
    }
}

#[test]
fn zeroed_page_cuts_at_the_first_record_it_touches() {
    let (dir, seg) = log_with(100);
    damage(&seg, 4096, &[0u8; 4096]);
    let (log, report) = reopen(dir.path());
    let first_touched = (4096 - HDR) / REC;
    let cut = report.cut.expect("a cut");
    assert_eq!(cut.offset, HDR + first_touched * REC);
    assert_intact_prefix(&log, first_touched);
}

#[test]
fn zeroed_record_at_a_boundary_is_not_mistaken_for_the_end() {
    let (dir, seg) = log_with(30);
    damage(&seg, HDR + 10 * REC, &[0u8; REC as usize]);
    let (log, report) = reopen(dir.path());
    let cut = report.cut.expect("a cut");
    assert_eq!(cut.offset, HDR + 10 * REC);
    assert!(
        matches!(cut.reason, RecordError::DataAfterEnd { .. }),
        "{:?}",
        cut.reason
    );
    assert_intact_prefix(&log, 10);
}

#[test]
fn stale_records_past_a_cut_never_come_back() {
    let (dir, seg) = log_with(20);
    damage(&seg, HDR + 5 * REC + 50, &[0xff]);
    let (log, report) = reopen(dir.path());
    assert_eq!(report.cut.unwrap().offset, HDR + 5 * REC);
    // Rewrite record 5 with the same length: old record 6 would line up.
    let r = log.append(&payload(1, 0, 5)).unwrap();
    assert_eq!(r.sequence, 5);
    log.sync().unwrap();
    drop(log);
    let (log, report) = reopen(dir.path());
    assert_eq!(report.cut, None);
    assert_eq!(log.next_sequence(), 6);
}

#[test]
fn damage_in_a_sealed_segment_is_refused_not_cut() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let opts = LogOptions {
        segment_bytes: 4096,
        ..options()
    };
    let (log, _) = PartitionLog::open(Arc::new(OsBackend), dir.path(), opts).unwrap();
    for i in 0..100 {
        let _ = log.append(&payload(0, 0, i)).unwrap();
    }
    log.sync().unwrap();
    assert!(log.segment_count() > 2);
    drop(log);
    let seg = dir.path().join(keel_storage::segment_file_name(0));
    damage(&seg, HDR + 3 * REC + 30, &[0xAA]);
    let err = PartitionLog::open(Arc::new(OsBackend), dir.path(), opts).unwrap_err();
    assert!(matches!(err, WalError::CorruptRecord { .. }), "{err}");
    assert!(err.to_string().contains("offset"), "{err}");
    damage(&seg, 0, b"X");
    let err = PartitionLog::open(Arc::new(OsBackend), dir.path(), opts).unwrap_err();
    assert!(matches!(err, WalError::CorruptHeader { .. }), "{err}");
}
