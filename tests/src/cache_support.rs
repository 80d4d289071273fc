//! Caches over a backing store, for the backing-store tests.

use std::hash::Hash;
use std::sync::Arc;

use keel_engine::{BackingStore, BoundedCache, EvictionPolicy, WritePolicy};

/// A one-shard cache `name` of at most `max_entries` over `store`.
pub fn backed_cache<K: Hash + Eq, V>(
    name: &str,
    store: Arc<dyn BackingStore<K, V>>,
    (policy, write): (EvictionPolicy, WritePolicy),
    max_entries: u64,
) -> BoundedCache<K, V> {
    BoundedCache::<K, V>::builder(name)
        .policy(policy)
        .max_entries(max_entries)
        .shards(1)
        .backing(store, write)
        .build()
        .expect("a valid cache")
}
