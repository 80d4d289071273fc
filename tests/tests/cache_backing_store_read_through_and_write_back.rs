//! A cache over a backing store (the in-memory `MemoryBackingStore`; the
//! durable file store is tested in `cache_file_backing_survives_restart`): read-through on a miss,
//! write-through on put (a refused store leaves the cache unchanged),
//! write-back of dirty entries on eviction and on flush.

use std::sync::Arc;

use keel_engine::{
    BackingStore, BoundedCache, CacheError, EvictionPolicy, MemoryBackingStore, WritePolicy,
};
use keel_tests::cache_support::backed_cache;

fn cache(
    store: &Arc<MemoryBackingStore<u64, String>>,
    write: WritePolicy,
    max_entries: u64,
) -> BoundedCache<u64, String> {
    let policies = (EvictionPolicy::Lru, write);
    backed_cache("backed", store.clone(), policies, max_entries)
}

#[test]
fn a_miss_reads_through_and_caches_clean() {
    let store = Arc::new(MemoryBackingStore::new());
    store.store(&7, &"seven".to_owned()).unwrap();
    let cache = cache(&store, WritePolicy::WriteBack, 2);
    assert_eq!(cache.get(&7), None, "plain get never reads through");
    assert_eq!(cache.get_or_load(&7).unwrap().as_deref(), Some("seven"));
    assert_eq!(cache.get(&7).as_deref(), Some("seven"), "now cached");
    assert_eq!(cache.get_or_load(&8).unwrap(), None);
    store.refuse_writes(true);
    cache.put(1, "one".into()).unwrap();
    cache.put(2, "two".into()).unwrap(); // evicts 7: clean, nothing written
    assert_eq!(cache.stats().backing_errors, 0);
}

#[test]
fn write_through_stores_first_and_a_refusal_changes_nothing() {
    let store = Arc::new(MemoryBackingStore::new());
    let cache = cache(&store, WritePolicy::WriteThrough, 4);
    cache.put(1, "one".into()).unwrap();
    assert_eq!(store.peek(&1).as_deref(), Some("one"));
    store.refuse_writes(true);
    let err = cache.put(1, "uno".into()).unwrap_err();
    assert!(matches!(err, CacheError::Backing(_)), "{err}");
    assert_eq!(cache.get(&1).as_deref(), Some("one"));
    assert_eq!(store.peek(&1).as_deref(), Some("one"));
}

#[test]
fn write_back_stores_dirty_entries_on_eviction_and_flush() {
    let store = Arc::new(MemoryBackingStore::new());
    let cache = cache(&store, WritePolicy::WriteBack, 2);
    cache.put(1, "one".into()).unwrap();
    cache.put(2, "two".into()).unwrap();
    assert!(store.is_empty(), "write-back defers");
    cache.put(3, "three".into()).unwrap(); // evicts 1
    assert_eq!(store.peek(&1).as_deref(), Some("one"));
    assert_eq!(store.len(), 1);
    assert_eq!(cache.flush().unwrap(), 2);
    assert_eq!(store.peek(&3).as_deref(), Some("three"));
    assert_eq!(cache.flush().unwrap(), 0, "flushed entries are clean");
    store.refuse_writes(true);
    cache.put(4, "four".into()).unwrap();
    cache.put(5, "five".into()).unwrap(); // evicts 2 and 3, both clean
    assert_eq!(cache.stats().backing_errors, 0);
    cache.put(6, "six".into()).unwrap(); // evicts 4, dirty: refused
    assert_eq!(cache.stats().backing_errors, 1);
    assert_eq!(store.peek(&4), None);
    assert!(matches!(cache.flush(), Err(CacheError::Backing(_))));
}
