//! The backing store a cache reads through and writes to, and the hooks
//! that run when an entry leaves the cache.
//!
//! [`MemoryBackingStore`] implements the trait for tests and for hosts
//! that only want the write-back bookkeeping. The durable file store
//! implements it from `keel-storage` (`FileCacheStore`, which depends on
//! this crate, never the other way round).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::stats::Counters;
use super::EvictionCause;

/// What kind of failure a [`BackingError`] is, so a caller can tell a
/// key it must fix from a store it may retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackingErrorKind {
    /// The store cannot hold this key (say, not a valid path); fix the key.
    BadKey,
    /// The value is over the store's size limit.
    TooLarge,
    /// I/O failed; the stored value, if any, is intact.
    Io,
    /// The stored value is damaged or does not decode.
    Corrupt,
    /// The store refused the write (read-only, or a test switch).
    Refused,
}

/// A backing-store operation that failed, naming the key it was for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("backing store `{op}` of key {key:?} failed ({kind:?}): {message}")]
pub struct BackingError {
    /// `load` or `store`.
    pub op: &'static str,
    /// What kind of failure.
    pub kind: BackingErrorKind,
    /// The key, as the store spells it (a path for the file store).
    pub key: String,
    /// What the store said.
    pub message: String,
}

/// A key-value store behind a cache (SPEC §2, "Backing store").
pub trait BackingStore<K, V>: Send + Sync {
    /// The stored value of `key`, if any.
    fn load(&self, key: &K) -> Result<Option<V>, BackingError>;

    /// Stores `value` under `key`; durable when it returns `Ok`.
    fn store(&self, key: &K, value: &V) -> Result<(), BackingError>;
}

/// When a cache writes to its backing store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePolicy {
    /// Every `put` stores first; if the store fails, the cache is left
    /// unchanged and `put` returns the error.
    WriteThrough,
    /// `put` marks the entry dirty; it is stored when it is evicted or
    /// expires, or on [`super::BoundedCache::flush`]. A refused write-back
    /// is counted in `backing_errors` and logged; that value is lost.
    WriteBack,
}

/// A callback told of every eviction and expiry (not of `remove`).
pub type EvictionListener<K, V> = Arc<dyn Fn(&K, &V, EvictionCause) + Send + Sync>;

/// What runs when an entry leaves the cache. Called under the shard's
/// lock, so it must not call back into the same cache.
pub(crate) struct Hooks<K, V> {
    pub(crate) on_evict: Option<EvictionListener<K, V>>,
    pub(crate) backing: Option<(Arc<dyn BackingStore<K, V>>, WritePolicy)>,
}

impl<K, V> Hooks<K, V> {
    /// No callback, no backing store.
    pub(crate) fn none() -> Hooks<K, V> {
        Hooks {
            on_evict: None,
            backing: None,
        }
    }

    /// Tells the listener and writes back a dirty entry.
    pub(crate) fn evicted(
        &self,
        key: &K,
        value: V,
        dirty: bool,
        cause: EvictionCause,
        counters: &mut Counters,
    ) {
        if let Some(listener) = &self.on_evict {
            listener(key, &value, cause);
        }
        if let (true, Some((store, WritePolicy::WriteBack))) = (dirty, &self.backing) {
            if let Err(e) = store.store(key, &value) {
                counters.backing_errors += 1;
                tracing::warn!(error = %e, "cache write-back failed; the evicted value is lost");
            }
        }
    }
}

/// A backing store in memory: a `HashMap` behind a mutex. For tests (it
/// can be told to refuse writes) and as the reference the file store must
/// match.
pub struct MemoryBackingStore<K, V> {
    map: Mutex<HashMap<K, V>>,
    refuse_writes: AtomicBool,
}

impl<K: Hash + Eq + Clone, V: Clone> MemoryBackingStore<K, V> {
    /// An empty store.
    pub fn new() -> MemoryBackingStore<K, V> {
        MemoryBackingStore {
            map: Mutex::new(HashMap::new()),
            refuse_writes: AtomicBool::new(false),
        }
    }

    /// From now on, `store` fails (true) or works (false).
    pub fn refuse_writes(&self, refuse: bool) {
        // Relaxed: a test switch; the mutex orders the map itself.
        self.refuse_writes.store(refuse, Ordering::Relaxed);
    }

    /// The stored value of `key`, bypassing any cache.
    pub fn peek(&self, key: &K) -> Option<V> {
        super::lock(&self.map).get(key).cloned()
    }

    /// Stored entries.
    pub fn len(&self) -> usize {
        super::lock(&self.map).len()
    }

    /// True if nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Default for MemoryBackingStore<K, V> {
    fn default() -> Self {
        MemoryBackingStore::new()
    }
}

impl<K, V> BackingStore<K, V> for MemoryBackingStore<K, V>
where
    K: Hash + Eq + Clone + Send + std::fmt::Debug,
    V: Clone + Send,
{
    fn load(&self, key: &K) -> Result<Option<V>, BackingError> {
        Ok(super::lock(&self.map).get(key).cloned())
    }

    fn store(&self, key: &K, value: &V) -> Result<(), BackingError> {
        // Relaxed: see `refuse_writes`.
        if self.refuse_writes.load(Ordering::Relaxed) {
            return Err(BackingError {
                op: "store",
                kind: BackingErrorKind::Refused,
                key: format!("{key:?}"),
                message: "writes refused (test switch)".into(),
            });
        }
        super::lock(&self.map).insert(key.clone(), value.clone());
        Ok(())
    }
}
