//! The bounded cache (SPEC §2): one generic cache with O(1) get, put and
//! remove, eviction by LRU, ARC or TTL, limits by entries and by estimated
//! bytes, statistics, an eviction callback and an optional backing store.
//!
//! Layout: `slab.rs` (nodes and index-linked lists), `shard.rs` (one
//! shard's table, slab, limits, counters), `lru.rs`, `arc.rs`, `ttl.rs`
//! (the policies), `stats.rs`, `backing.rs` (backing store, hooks),
//! `builder.rs` (settings and checks), `scalable.rs` (the scalable
//! contract and the TTL expiry system), `error.rs`.
//!
//! # Concurrency and the bounds
//!
//! A cache is split into a power of two of shards, each behind its own
//! mutex; a key's shard is chosen by bits 32.. of its hash (the table
//! itself uses the low bits and the top seven). Each shard holds an exact
//! share of the limits (`max / shards`, the first `max % shards` shards one
//! more), so the entry and byte limits hold exactly at every moment, with
//! no slack. The slack is in the choice of victim: a full shard evicts its
//! own least valuable entry even while another shard has room, so a cache
//! may evict before it holds `max_entries` entries, and its hit rate is
//! that of `shards` smaller caches. With one shard every policy is exact.
//!
//! Stats are per-shard integers changed under the shard's lock, summed on
//! demand.

mod arc;
mod backing;
mod builder;
mod error;
mod lru;
mod scalable;
mod shard;
mod slab;
mod stats;
mod ttl;

use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_utils::CachePadded;

pub use backing::{
    BackingError, BackingErrorKind, BackingStore, EvictionListener, MemoryBackingStore, WritePolicy,
};
pub use builder::{
    default_weight, CacheBuilder, EvictionPolicy, DEFAULT_RAM_SHARE_PERCENT, ENTRY_OVERHEAD_BYTES,
    MAX_ENTRIES_LIMIT,
};
pub use error::CacheError;
pub use stats::CacheStats;

use backing::Hooks;
use shard::{PolicyState, Shard, Write};

use crate::clock::Clock;

/// One shard behind its own lock, on its own cache lines.
type LockedShard<K, V> = CachePadded<Mutex<Shard<K, V>>>;

/// Estimates an entry's bytes.
pub type Weigher<K, V> = fn(&K, &V) -> u64;

/// Why an entry left the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvictionCause {
    /// The entry limit was reached (or lowered).
    Capacity,
    /// The byte limit was reached (or lowered).
    Bytes,
    /// Its TTL passed.
    Expired,
}

/// A bounded, sharded, concurrent cache; see the module docs.
///
/// ```
/// use keel_engine::{BoundedCache, EvictionPolicy};
///
/// let cache = BoundedCache::<u64, String>::builder("sessions")
///     .policy(EvictionPolicy::Arc)
///     .max_entries(2)
///     .shards(1)
///     .build()
///     .unwrap();
/// cache.put(1, "a".into()).unwrap();
/// cache.put(2, "b".into()).unwrap();
/// assert_eq!(cache.get(&1).as_deref(), Some("a"));
/// cache.put(3, "c".into()).unwrap(); // evicts 2: 1 was used twice
/// assert_eq!(cache.get(&2), None);
/// assert_eq!(cache.stats().entries, 2);
/// ```
pub struct BoundedCache<K, V> {
    name: String,
    policy: EvictionPolicy,
    shards: Box<[LockedShard<K, V>]>,
    shard_mask: usize,
    hasher: foldhash::fast::RandomState,
    weigher: Weigher<K, V>,
    hooks: Hooks<K, V>,
    clock: Arc<dyn Clock>,
    /// `(max_entries, max_bytes)` in force; also serialises resizes.
    limits: Mutex<(u64, u64)>,
}

/// `total` split over `n` shards: shard `i`'s share.
fn share(total: u64, n: usize, i: usize) -> u64 {
    let n = n as u64;
    total / n + u64::from((i as u64) < total % n)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking eviction listener poisons the lock; the shard's lists are
    // consistent at every call out, so go on.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<K: Hash + Eq, V> BoundedCache<K, V> {
    /// Starts configuring a cache named `name` (its subsystem name).
    pub fn builder(name: &str) -> CacheBuilder<K, V> {
        CacheBuilder::new(name)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        name: String,
        policy: EvictionPolicy,
        shards: usize,
        max_entries: u64,
        max_bytes: u64,
        weigher: Weigher<K, V>,
        hooks: Hooks<K, V>,
        clock: Arc<dyn Clock>,
    ) -> BoundedCache<K, V> {
        let state = match policy {
            EvictionPolicy::Lru => PolicyState::Lru,
            EvictionPolicy::Arc => PolicyState::Arc { p: 0 },
            EvictionPolicy::Ttl { ttl } => PolicyState::Ttl {
                ttl_ns: u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX),
            },
        };
        let hasher = foldhash::fast::RandomState::default();
        let shards_vec: Vec<_> = (0..shards)
            .map(|i| {
                let entries = share(max_entries, shards, i) as usize;
                CachePadded::new(Mutex::new(Shard::new(
                    state,
                    entries,
                    share(max_bytes, shards, i),
                    hasher.clone(),
                )))
            })
            .collect();
        BoundedCache {
            name,
            policy,
            shards: shards_vec.into_boxed_slice(),
            shard_mask: shards - 1,
            hasher,
            weigher,
            hooks,
            clock,
            limits: Mutex::new((max_entries, max_bytes)),
        }
    }

    #[inline]
    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard<K, V>> {
        lock(&self.shards[(hash >> 32) as usize & self.shard_mask])
    }

    #[inline]
    fn now_ns(&self) -> u64 {
        match self.policy {
            EvictionPolicy::Ttl { .. } => self.clock.now_ns(),
            _ => 0,
        }
    }

    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The eviction policy.
    pub fn policy(&self) -> EvictionPolicy {
        self.policy
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// `(max_entries, max_memory_bytes)` in force.
    pub fn limits(&self) -> (u64, u64) {
        *lock(&self.limits)
    }

    /// The value of `key`, if resident and unexpired. A hit counts as a use
    /// for the policy. Never touches the backing store.
    #[inline]
    pub fn get(&self, key: &K) -> Option<V>
    where
        V: Clone,
    {
        let hash = self.hasher.hash_one(key);
        let now_ns = self.now_ns();
        self.shard(hash).get(hash, key, now_ns, &self.hooks)
    }

    /// Writes `key` (write-through stores it first; write-back marks it
    /// dirty), evicting as the policy says to stay within the limits.
    #[inline]
    pub fn put(&self, key: K, value: V) -> Result<(), CacheError> {
        self.write(key, value, true, false).map(|_| ())
    }

    fn write(&self, key: K, value: V, dirty: bool, if_absent: bool) -> Result<bool, CacheError> {
        let weight = (self.weigher)(&key, &value);
        let hash = self.hasher.hash_one(&key);
        let now_ns = self.now_ns();
        let mut shard = self.shard(hash);
        let shard_max_bytes = shard.max_bytes.min(u64::from(u32::MAX));
        if weight > shard_max_bytes {
            return Err(CacheError::EntryTooLarge {
                cache: self.name.clone(),
                bytes: weight,
                shard_max_bytes,
            });
        }
        let dirty = match &self.hooks.backing {
            // Stored under the shard lock so the store sees writes of one
            // key in the cache's order.
            Some((store, WritePolicy::WriteThrough)) if dirty => {
                store.store(&key, &value)?;
                false
            }
            Some((_, WritePolicy::WriteBack)) => dirty,
            _ => false,
        };
        let w = Write {
            hash,
            key,
            value,
            // Checked against u32::MAX above.
            weight: weight as u32,
            dirty,
            now_ns,
            if_absent,
        };
        Ok(shard.put(w, &self.hooks))
    }

    /// Like [`get`](Self::get), but a miss reads through the backing store
    /// and caches what it finds (clean: never written back). A concurrent
    /// `put` of the same key wins over the loaded value.
    pub fn get_or_load(&self, key: &K) -> Result<Option<V>, CacheError>
    where
        K: Clone,
        V: Clone,
    {
        if let Some(v) = self.get(key) {
            return Ok(Some(v));
        }
        let Some((store, _)) = &self.hooks.backing else {
            return Err(CacheError::NoBackingStore {
                cache: self.name.clone(),
            });
        };
        let Some(v) = store.load(key)? else {
            return Ok(None);
        };
        match self.write(key.clone(), v.clone(), false, true) {
            // Too large to cache: still the right answer.
            Ok(_) | Err(CacheError::EntryTooLarge { .. }) => Ok(Some(v)),
            Err(e) => Err(e),
        }
    }

    /// Drops `key` from the cache (not from the backing store; a dirty
    /// value is not written back: `flush` first to keep it). Returns the
    /// value if it was resident.
    pub fn remove(&self, key: &K) -> Option<V> {
        let hash = self.hasher.hash_one(key);
        self.shard(hash).remove(hash, key)
    }

    /// Resident entries (summed shard by shard).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).resident()).sum()
    }

    /// True if no entry is resident.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters and sizes, summed over shards.
    pub fn stats(&self) -> CacheStats {
        let mut out = CacheStats::default();
        for s in self.shards.iter() {
            let s = lock(s);
            out.add(&s.counters, s.resident(), s.bytes);
        }
        out
    }

    /// Drops up to `budget` entries whose TTL passed at `now_ns` (spread
    /// over the shards); returns how many. Nothing for LRU and ARC.
    pub fn expire_due(&self, now_ns: u64, budget: usize) -> usize {
        if !matches!(self.policy, EvictionPolicy::Ttl { .. }) {
            return 0;
        }
        let per_shard = budget.div_ceil(self.shards.len()).max(1);
        let mut dropped = 0;
        for s in self.shards.iter() {
            let left = budget - dropped;
            if left == 0 {
                break;
            }
            dropped += lock(s).expire_due(now_ns, per_shard.min(left), &self.hooks);
        }
        dropped
    }

    /// Stores every dirty entry in the backing store; returns how many.
    pub fn flush(&self) -> Result<usize, CacheError> {
        let Some((store, _)) = &self.hooks.backing else {
            return Err(CacheError::NoBackingStore {
                cache: self.name.clone(),
            });
        };
        let mut stored = 0;
        for s in self.shards.iter() {
            stored += lock(s).flush(|k, v| store.store(k, v))?;
        }
        Ok(stored)
    }

    /// Changes the limits at run time; each shard evicts down to its new
    /// share at once, under its own lock, one shard after another.
    pub fn set_limits(&self, max_entries: u64, max_bytes: u64) -> Result<(), CacheError> {
        builder::check_limits(&self.name, self.shards.len(), max_entries, max_bytes)?;
        let mut limits = lock(&self.limits);
        let n = self.shards.len();
        for (i, s) in self.shards.iter().enumerate() {
            let entries = share(max_entries, n, i) as usize;
            lock(s).set_limits(entries, share(max_bytes, n, i), &self.hooks);
        }
        *limits = (max_entries, max_bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_limit() {
        for (total, n) in [(10u64, 4usize), (7, 8), (u64::MAX, 16), (100_000, 16)] {
            let sum: u128 = (0..n).map(|i| u128::from(share(total, n, i))).sum();
            assert_eq!(sum, u128::from(total));
        }
    }

    #[test]
    fn limits_hold_exactly_across_shards() {
        let cache = BoundedCache::<u64, u64>::builder("t")
            .max_entries(100)
            .shards(8)
            .build()
            .unwrap();
        for k in 0..10_000 {
            cache.put(k, k).unwrap();
            assert!(cache.len() <= 100);
        }
        assert!(cache.len() > 90, "every shard fills: {}", cache.len());
    }

    #[test]
    fn too_large_entry_is_refused_by_name() {
        let cache = BoundedCache::<u64, u64>::builder("big")
            .max_entries(4)
            .max_bytes(100)
            .shards(2)
            .build()
            .unwrap();
        let err = cache.put(1, 1).unwrap_err();
        assert_eq!(
            err,
            CacheError::EntryTooLarge {
                cache: "big".into(),
                bytes: 64,
                shard_max_bytes: 50
            }
        );
        assert!(err.to_string().contains("max_memory_bytes"));
        assert!(cache.is_empty());
    }
}
