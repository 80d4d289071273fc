//! Retention by age, by size and by all-consumers-acknowledged removes
//! whole sealed segments from the front (never the active one, never a
//! segment still needed), also when run as a tick system.

use std::sync::Arc;

use keel_engine::config::FsyncPolicy;
use keel_engine::{Scheduler, SchedulerOptions, SimClock};
use keel_storage::{
    compact, retention_system, ConsumerOffsets, LogOptions, PartitionLog, RetentionPolicy, SimDisk,
    WalError,
};

const SEC: u64 = 1_000_000_000;

fn log(disk: &SimDisk) -> PartitionLog {
    let options = LogOptions {
        segment_bytes: 4_096,
        fsync: FsyncPolicy::Never,
        ..LogOptions::default()
    };
    PartitionLog::open(Arc::new(disk.clone()), "/p", options)
        .unwrap()
        .0
}

/// 200 records of 100 bytes, one second apart starting at t = 1000 s.
fn fill(log: &PartitionLog) {
    for i in 0..200u64 {
        let _ = log.append_at(&[i as u8; 100], (1_000 + i) * SEC).unwrap();
    }
}

const NONE: RetentionPolicy = RetentionPolicy {
    max_age_ns: None,
    max_bytes: None,
    when_all_acknowledged: false,
};

#[test]
fn age_limit_removes_segments_whose_newest_record_is_too_old() {
    let disk = SimDisk::new();
    let log = log(&disk);
    fill(&log);
    let segments = log.segment_count();
    let policy = RetentionPolicy {
        max_age_ns: Some(100 * SEC),
        ..NONE
    };
    // now = 1,150 s: records older than 1,050 s may go, whole segments only.
    let report = compact(&log, &policy, 1_150 * SEC, None).unwrap();
    assert!(report.segments_removed > 0);
    assert_eq!(log.segment_count(), segments - report.segments_removed);
    let first = log.read(log.first_sequence(), 1).unwrap()[0].clone();
    assert!(
        first.sequence <= 50,
        "kept record {} needed by age",
        first.sequence
    );
    assert!(report.first_sequence > 0);
    assert!(matches!(
        log.read(0, 1),
        Err(WalError::Compacted { requested: 0, .. })
    ));
    // Nothing is newer than the limit: the active segment always stays.
    compact(&log, &policy, 10_000 * SEC, None).unwrap();
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.next_sequence(), 200);
}

#[test]
fn size_limit_keeps_the_newest_bytes() {
    let disk = SimDisk::new();
    let log = log(&disk);
    fill(&log);
    let policy = RetentionPolicy {
        max_bytes: Some(10_000),
        ..NONE
    };
    compact(&log, &policy, 0, None).unwrap();
    assert!(log.bytes() <= 10_000 + 4_096, "{} bytes kept", log.bytes());
    assert!(log.bytes() > 10_000 - 4_096);
}

#[test]
fn acknowledged_segments_go_only_when_every_consumer_passed_them() {
    let disk = SimDisk::new();
    let log = log(&disk);
    fill(&log);
    let offsets = ConsumerOffsets::open(Arc::new(disk.clone()), "/p").unwrap();
    offsets.commit("a", 150).unwrap();
    offsets.commit("b", 40).unwrap();
    let policy = RetentionPolicy {
        when_all_acknowledged: true,
        ..NONE
    };
    compact(&log, &policy, 0, offsets.min_committed()).unwrap();
    let first = log.first_sequence();
    assert!(first > 0 && first <= 40, "first kept {first}, b needs 40");
    assert_eq!(log.read(40, 1).unwrap()[0].sequence, 40);
}

#[test]
fn retention_runs_as_a_tick_system() {
    let disk = SimDisk::new();
    let log = Arc::new(log(&disk));
    fill(&log);
    let offsets = Arc::new(ConsumerOffsets::open(Arc::new(disk.clone()), "/p").unwrap());
    offsets.commit("only", 200).unwrap();
    let policy = RetentionPolicy {
        when_all_acknowledged: true,
        ..NONE
    };
    let clock = Arc::new(SimClock::new());
    let mut scheduler = Scheduler::new(
        keel_engine::World::new(),
        SchedulerOptions::deterministic(clock),
    );
    scheduler
        .add_system(retention_system(
            "wal-retention",
            log.clone(),
            Some(offsets),
            policy,
            1_000,
        ))
        .unwrap();
    let before = log.segment_count();
    assert!(before > 1);
    scheduler.run_tick();
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.next_sequence(), 200);
    drop(scheduler);
    // The removals are durable: they survive a power cut.
    disk.power_cut();
    let log = PartitionLog::open(
        Arc::new(disk.clone()),
        "/p",
        LogOptions {
            segment_bytes: 4_096,
            ..LogOptions::default()
        },
    )
    .unwrap()
    .0;
    assert_eq!(log.segment_count(), 1);
}
