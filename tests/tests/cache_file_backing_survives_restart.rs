//! A bounded cache over the durable file store (`FileCacheStore` on
//! `OsBackend` in a temporary directory on the real disk): values written through are read
//! through by a new cache over the same directory after a restart; a dirty
//! entry evicted under write-back is on disk; a key the store cannot hold
//! is a typed `BadKey` error naming it, and leaves the cache unchanged.

use std::path::Path;
use std::sync::Arc;

use keel_engine::{BackingErrorKind, BoundedCache, CacheError, EvictionPolicy, WritePolicy};
use keel_storage::{BackingStore, FileCacheStore, OsBackend, PrefixedBytes};
use keel_tests::cache_support::backed_cache;
use keel_tests::crash_support::env_tmp;

type Store = FileCacheStore<PrefixedBytes>;

/// Opens the store in `dir` as a fresh process would.
fn open(dir: &Path) -> Arc<Store> {
    let store = BackingStore::open(Arc::new(OsBackend), dir).unwrap();
    Arc::new(FileCacheStore::bytes(store, "wasm-state").unwrap())
}

fn cache(
    store: &Arc<Store>,
    policy: EvictionPolicy,
    write: WritePolicy,
    max_entries: u64,
) -> BoundedCache<String, Vec<u8>> {
    backed_cache("wasm-state", store.clone(), (policy, write), max_entries)
}

#[test]
fn values_written_through_are_read_through_after_a_restart() {
    let dir = tempfile::tempdir_in(env_tmp()).unwrap();
    {
        let store = open(dir.path());
        let c = cache(&store, EvictionPolicy::Arc, WritePolicy::WriteThrough, 8);
        c.put("counter".into(), b"42".to_vec()).unwrap();
        c.put("counter".into(), b"43".to_vec()).unwrap();
        c.put("greeter".into(), b"hello".to_vec()).unwrap();
    } // cache and store dropped: the "process" ends.
    let store = open(dir.path());
    let c = cache(&store, EvictionPolicy::Arc, WritePolicy::WriteThrough, 8);
    assert_eq!(c.get(&"counter".into()), None, "a new cache starts empty");
    assert_eq!(
        c.get_or_load(&"counter".into()).unwrap(),
        Some(b"43".to_vec())
    );
    assert_eq!(
        c.get_or_load(&"greeter".into()).unwrap(),
        Some(b"hello".to_vec())
    );
    assert_eq!(c.get_or_load(&"absent".into()).unwrap(), None);
    assert_eq!(c.get(&"counter".into()), Some(b"43".to_vec()), "cached now");
    assert!(dir.path().join("wasm-state/counter").is_file());
}

#[test]
fn write_back_persists_an_evicted_dirty_entry_and_flush_the_rest() {
    let dir = tempfile::tempdir_in(env_tmp()).unwrap();
    let store = open(dir.path());
    let c = cache(&store, EvictionPolicy::Lru, WritePolicy::WriteBack, 2);
    c.put("a".into(), b"1".to_vec()).unwrap();
    c.put("b".into(), b"2".to_vec()).unwrap();
    assert_eq!(store.inner().get("wasm-state/a").unwrap(), None, "deferred");
    c.put("c".into(), b"3".to_vec()).unwrap(); // evicts a: written back
    assert_eq!(c.stats().evictions, 1);
    assert_eq!(c.stats().backing_errors, 0);
    let after_restart = open(dir.path());
    assert_eq!(
        after_restart.inner().get("wasm-state/a").unwrap(),
        Some(b"1".to_vec())
    );
    assert_eq!(after_restart.inner().get("wasm-state/b").unwrap(), None);
    assert_eq!(c.flush().unwrap(), 2);
    let c2 = cache(
        &after_restart,
        EvictionPolicy::Lru,
        WritePolicy::WriteBack,
        4,
    );
    for (k, v) in [("a", b"1"), ("b", b"2"), ("c", b"3")] {
        assert_eq!(c2.get_or_load(&k.into()).unwrap(), Some(v.to_vec()), "{k}");
    }
}

#[test]
fn a_bad_key_is_a_typed_error_naming_it_and_changes_nothing() {
    let dir = tempfile::tempdir_in(env_tmp()).unwrap();
    let store = open(dir.path());
    let c = cache(&store, EvictionPolicy::Lru, WritePolicy::WriteThrough, 4);
    for bad in ["../escape", "has space", ".hidden", "a//b"] {
        let err = c.put(bad.into(), b"x".to_vec()).unwrap_err();
        let CacheError::Backing(e) = &err else {
            panic!("{bad}: not a backing error: {err}");
        };
        assert_eq!(e.kind, BackingErrorKind::BadKey, "{bad}");
        assert_eq!(e.op, "store");
        assert_eq!(e.key, format!("wasm-state/{bad}"));
        assert!(err.to_string().contains(bad), "{err}");
        assert_eq!(c.get(&bad.into()), None, "{bad}: the cache is unchanged");
        let load = c.get_or_load(&bad.into()).unwrap_err();
        assert!(
            matches!(&load, CacheError::Backing(e) if e.kind == BackingErrorKind::BadKey && e.op == "load"),
            "{load}"
        );
    }
    assert!(c.is_empty());

    // Under write-back the refusal comes at eviction: counted, not stored.
    let wb = cache(&store, EvictionPolicy::Lru, WritePolicy::WriteBack, 1);
    wb.put("bad key".into(), b"x".to_vec()).unwrap();
    wb.put("good".into(), b"y".to_vec()).unwrap();
    assert_eq!(wb.stats().backing_errors, 1);
}
