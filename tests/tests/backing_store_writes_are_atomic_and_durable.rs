//! The backing store on real files: values round-trip and replace whole,
//! no temp file is left behind, bad keys are refused with typed errors
//! before touching the disk, and a damaged value is reported, not returned.

use std::sync::Arc;

use keel_storage::{BackingStore, KeyError, OsBackend, StoreError};

#[test]
fn values_replace_whole_and_leave_no_temp_files() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let store = BackingStore::open(Arc::new(OsBackend), dir.path()).unwrap();
    assert_eq!(store.get("wasm-state/m1").unwrap(), None);
    store.put("wasm-state/m1", &[1u8; 10_000]).unwrap();
    store.put("pipeline-state/p/stage-2", b"s").unwrap();
    store.put("wasm-state/m1", b"short now").unwrap();
    assert_eq!(
        store.get("wasm-state/m1").unwrap().as_deref(),
        Some(&b"short now"[..])
    );
    assert_eq!(
        store.get("pipeline-state/p/stage-2").unwrap().as_deref(),
        Some(&b"s"[..])
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("wasm-state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(leftovers, vec!["m1".to_owned()]);
    assert!(store.delete("wasm-state/m1").unwrap());
    assert!(!store.delete("wasm-state/m1").unwrap());
    assert_eq!(store.get("wasm-state/m1").unwrap(), None);
}

#[test]
fn bad_keys_are_refused_before_any_io() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let store = BackingStore::open(Arc::new(OsBackend), dir.path()).unwrap();
    for (key, check) in [
        ("../escape", "Dots"),
        ("wasm-state/../../etc", "Dots"),
        ("/etc/passwd", "Absolute"),
        ("", "Empty"),
        ("a//b", "Empty"),
        ("wasm-state/.hidden", "Dots"),
        ("sp ace", "BadChar"),
    ] {
        let err = store.put(key, b"x").unwrap_err();
        let StoreError::Key(k) = &err else {
            panic!("{key}: {err}")
        };
        let name = match k {
            KeyError::Empty(_) => "Empty",
            KeyError::Absolute(_) => "Absolute",
            KeyError::Dots(_) => "Dots",
            KeyError::BadChar { .. } => "BadChar",
            KeyError::TooLong(_) => "TooLong",
        };
        assert_eq!(name, check, "{key}: {err}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_damaged_value_is_a_typed_error() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let store = BackingStore::open(Arc::new(OsBackend), dir.path()).unwrap();
    store.put("backup/job-1", b"in progress: chunk 7").unwrap();
    let path = dir.path().join("backup/job-1");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let err = store.get("backup/job-1").unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("backup/job-1"), "{err}");
}
