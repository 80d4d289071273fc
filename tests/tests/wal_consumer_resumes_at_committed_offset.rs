//! Consumers commit offsets durably; after a power cut (unsynced writes
//! dropped) each resumes exactly at its last committed offset, with no
//! gap and no skipped record. A damaged offsets file is refused by name.

use std::sync::Arc;

use keel_storage::{
    ConsumerOffsets, LogOptions, OffsetsError, PartitionLog, SimDisk, OFFSETS_FILE,
};

#[test]
fn consumers_resume_at_their_committed_offsets_after_power_cut() {
    let disk = SimDisk::new();
    let backend = Arc::new(disk.clone());
    let (log, _) = PartitionLog::open(backend.clone(), "/p", LogOptions::default()).unwrap();
    for i in 0..50u32 {
        let _ = log.append(&i.to_le_bytes()).unwrap();
    }
    let offsets = ConsumerOffsets::open(backend.clone(), "/p").unwrap();
    // "fast" processed 0..30 and committed; "slow" processed 0..7.
    offsets.commit("fast", 30).unwrap();
    offsets.commit("slow", 7).unwrap();
    offsets.commit("fast", 41).unwrap();
    assert_eq!(offsets.min_committed(), Some(7));
    disk.power_cut();
    drop((log, offsets));

    let (log, _) = PartitionLog::open(backend.clone(), "/p", LogOptions::default()).unwrap();
    let offsets = ConsumerOffsets::open(backend.clone(), "/p").unwrap();
    for (name, expect) in [("fast", 41u32), ("slow", 7)] {
        let from = offsets.get(name).unwrap();
        assert_eq!(from, u64::from(expect));
        let next = log.read(from, 1).unwrap();
        assert_eq!(
            next[0].payload,
            expect.to_le_bytes(),
            "{name} resumes at its offset"
        );
    }
    assert_eq!(offsets.get("never"), None);
}

#[test]
fn a_commit_that_fails_keeps_the_previous_offset() {
    let disk = SimDisk::new();
    let backend = Arc::new(disk.clone());
    let offsets = ConsumerOffsets::open(backend.clone(), "/p").unwrap();
    offsets.commit("c", 3).unwrap();
    for n in 0..5 {
        disk.fail_after(n);
        assert!(offsets.commit("c", 9).is_err());
        disk.heal();
        disk.power_cut();
        let reopened = ConsumerOffsets::open(backend.clone(), "/p").unwrap();
        assert_eq!(reopened.get("c"), Some(3), "n = {n}");
    }
}

#[test]
fn damaged_offsets_file_is_a_typed_error() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let backend = Arc::new(keel_storage::OsBackend);
    let offsets = ConsumerOffsets::open(backend.clone(), dir.path()).unwrap();
    offsets.commit("reader", 12).unwrap();
    let path = dir.path().join(OFFSETS_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[18] ^= 4;
    std::fs::write(&path, bytes).unwrap();
    let err = ConsumerOffsets::open(backend, dir.path()).unwrap_err();
    assert!(matches!(err, OffsetsError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("crc32c"), "{err}");
}

#[test]
fn temp_files_of_interrupted_commits_are_removed_on_open() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let backend = Arc::new(keel_storage::OsBackend);
    ConsumerOffsets::open(backend.clone(), dir.path())
        .unwrap()
        .commit("c", 4)
        .unwrap();
    let stale = dir.path().join(format!(".{OFFSETS_FILE}.999.0.tmp"));
    std::fs::write(&stale, b"half a commit").unwrap();
    let offsets = ConsumerOffsets::open(backend, dir.path()).unwrap();
    assert_eq!(offsets.get("c"), Some(4));
    assert!(!stale.exists());
}
