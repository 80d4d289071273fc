//! `keel wal inspect` and `keel wal verify` on a real log: inspect prints
//! headers, records and offsets; verify passes a clean log and fails a
//! damaged one, naming the segment, offset and reason of the first bad
//! record.

use std::os::unix::fs::FileExt;
use std::process::Command;
use std::sync::Arc;

use keel_storage::{ConsumerOffsets, LogOptions, OsBackend, PartitionLog};

fn keel(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn wal_inspect_and_verify_work_on_a_real_log() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let options = LogOptions {
        segment_bytes: 8_192,
        ..LogOptions::default()
    };
    let (log, _) = PartitionLog::open(Arc::new(OsBackend), dir.path(), options).unwrap();
    for i in 0..200u32 {
        let _ = log.append(&[i as u8; 60]).unwrap();
    }
    drop(log);
    let offsets = ConsumerOffsets::open(Arc::new(OsBackend), dir.path()).unwrap();
    offsets.commit("reader-a", 77).unwrap();
    let path = dir.path().to_str().unwrap();

    let (ok, text) = keel(&["wal", "inspect", path]);
    assert!(ok, "{text}");
    assert!(text.contains("base_sequence 0"), "{text}");
    assert!(text.contains("record seq 0 offset 64"), "{text}");
    assert!(
        text.contains("consumer \"reader-a\" next_sequence 77"),
        "{text}"
    );

    let (ok, text) = keel(&["wal", "verify", path]);
    assert!(ok, "{text}");
    assert!(text.contains("200 records"), "{text}");

    // Damage record 5 of the first segment: 64 + 5 * 84 + 30.
    let seg = dir.path().join(keel_storage::segment_file_name(0));
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.write_all_at(&[0xee], 64 + 5 * 84 + 30).unwrap();
    let (ok, text) = keel(&["wal", "verify", path]);
    assert!(!ok, "verify passed a damaged log: {text}");
    assert!(text.contains("00000000000000000000.wal"), "{text}");
    assert!(text.contains("offset 484"), "{text}");
    assert!(text.contains("sequence 5"), "{text}");
    assert!(text.contains("crc32c"), "{text}");
    let (ok, _) = keel(&["wal", "verify", seg.to_str().unwrap()]);
    assert!(!ok);
}
