//! Building a cache: policy, limits, shards, weigher, hooks, clock. Every
//! value is checked in [`CacheBuilder::build`].

use std::sync::Arc;
use std::time::Duration;

use super::backing::{BackingStore, EvictionListener, Hooks, WritePolicy};
use super::{BoundedCache, CacheError, EvictionCause, Weigher};
use crate::clock::{Clock, MonotonicClock};
use crate::config::{CacheEviction, Config};
use crate::scalable::ram_share_bytes;

/// Which entry a full cache evicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// Least recently used.
    Lru,
    /// Adaptive replacement (scan-resistant; keeps ghost keys of up to
    /// `max_entries` evicted entries).
    Arc,
    /// Entries expire `ttl` after their last write; a full cache evicts the
    /// entry closest to expiry.
    Ttl {
        /// Lifetime of an entry after its last write.
        ttl: Duration,
    },
}

/// Entries allowed at most (the slab indexes nodes with `u32`, and ARC
/// keeps up to twice this many nodes).
pub const MAX_ENTRIES_LIMIT: u64 = 1 << 30;

/// Default share of RAM for a cache given no limit, percent.
pub const DEFAULT_RAM_SHARE_PERCENT: u8 = 10;

/// Estimated bookkeeping bytes per entry beyond the key and value (slab
/// node links, hash, weight, expiry, table slot).
pub const ENTRY_OVERHEAD_BYTES: u64 = 48;

/// Configures a [`BoundedCache`]; see [`BoundedCache::builder`].
pub struct CacheBuilder<K, V> {
    name: String,
    policy: EvictionPolicy,
    max_entries: Option<u64>,
    max_bytes: Option<u64>,
    ram_share_percent: Option<u8>,
    shards: Option<usize>,
    weigher: Weigher<K, V>,
    hooks: Hooks<K, V>,
    clock: Option<Arc<dyn Clock>>,
}

/// The default weigher: key and value sizes plus [`ENTRY_OVERHEAD_BYTES`]
/// (heap data behind the key or value is not seen; give a weigher for
/// that).
pub fn default_weight<K, V>(_: &K, _: &V) -> u64 {
    default_bytes::<K, V>()
}

impl<K, V> CacheBuilder<K, V> {
    /// A builder with the defaults (LRU, 10% of RAM, default shards).
    pub fn new(name: &str) -> CacheBuilder<K, V> {
        CacheBuilder {
            name: name.to_owned(),
            policy: EvictionPolicy::Lru,
            max_entries: None,
            max_bytes: None,
            ram_share_percent: None,
            shards: None,
            weigher: default_weight::<K, V>,
            hooks: Hooks::none(),
            clock: None,
        }
    }

    /// A builder set from the `[cache]` section of the start-up config:
    /// entries, bytes (0: `engine.ram_share_percent` of RAM), policy, TTL
    /// and shards (0: the default).
    pub fn from_config(name: &str, config: &Config) -> CacheBuilder<K, V> {
        let c = &config.cache;
        let policy = match c.eviction {
            CacheEviction::Lru => EvictionPolicy::Lru,
            CacheEviction::Arc => EvictionPolicy::Arc,
            CacheEviction::Ttl => EvictionPolicy::Ttl {
                ttl: Duration::from_millis(c.ttl_ms),
            },
        };
        let mut b = CacheBuilder::new(name)
            .policy(policy)
            .max_entries(c.max_entries as u64);
        b = match c.max_memory_bytes {
            0 => b.max_bytes_ram_share(config.engine.ram_share_percent),
            bytes => b.max_bytes(bytes),
        };
        if c.shards != 0 {
            b = b.shards(c.shards);
        }
        b
    }

    /// The eviction policy (default LRU).
    pub fn policy(mut self, policy: EvictionPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Resident entries at most.
    pub fn max_entries(mut self, n: u64) -> Self {
        self.max_entries = Some(n);
        self
    }

    /// Estimated bytes of resident entries at most.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Estimated bytes at most as a share of physical memory. A cache
    /// given neither entries nor bytes takes 10%.
    pub fn max_bytes_ram_share(mut self, percent: u8) -> Self {
        self.ram_share_percent = Some(percent);
        self
    }

    /// Shards, a power of two (default: the next power of two of 4 x the
    /// available cores, at most 64 and at most `max_entries`).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Estimates an entry's bytes (default [`default_weight`]).
    pub fn weigher(mut self, weigher: Weigher<K, V>) -> Self {
        self.weigher = weigher;
        self
    }

    /// Called for every evicted or expired entry, under the shard's lock:
    /// it must not call back into the same cache.
    pub fn on_evict(
        mut self,
        listener: impl Fn(&K, &V, EvictionCause) + Send + Sync + 'static,
    ) -> Self {
        let listener: EvictionListener<K, V> = Arc::new(listener);
        self.hooks.on_evict = Some(listener);
        self
    }

    /// Reads through `store` on [`BoundedCache::get_or_load`] misses and
    /// writes to it per `write`.
    pub fn backing(mut self, store: Arc<dyn BackingStore<K, V>>, write: WritePolicy) -> Self {
        self.hooks.backing = Some((store, write));
        self
    }

    /// The clock TTLs are measured on (default a monotonic clock); give the
    /// scheduler's clock when the expiry system runs on its tick.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Checks every setting and allocates the shards.
    pub fn build(self) -> Result<BoundedCache<K, V>, CacheError>
    where
        K: std::hash::Hash + Eq,
    {
        let cache = self.name.clone();
        if cache.is_empty() {
            return Err(CacheError::EmptyName);
        }
        if let EvictionPolicy::Ttl { ttl } = self.policy {
            if ttl.is_zero() {
                return Err(CacheError::ZeroLimit {
                    cache,
                    limit: "ttl",
                });
            }
        }
        let max_bytes = match (self.max_bytes, self.ram_share_percent) {
            (Some(b), _) => b,
            (None, Some(p)) if !(1..=100).contains(&p) => {
                return Err(CacheError::RamShareOutOfRange { cache, percent: p })
            }
            (None, Some(p)) => ram_share_bytes(p),
            (None, None) if self.max_entries.is_none() => {
                ram_share_bytes(DEFAULT_RAM_SHARE_PERCENT)
            }
            (None, None) => u64::MAX,
        };
        // No entry limit: as many entries of the default estimate as fit.
        let max_entries = self
            .max_entries
            .unwrap_or_else(|| (max_bytes / default_bytes::<K, V>()).min(MAX_ENTRIES_LIMIT));
        let shards = match self.shards {
            Some(s) => s,
            None => default_shards(max_entries),
        };
        check_limits(&cache, shards, max_entries, max_bytes)?;
        let clock = self
            .clock
            .unwrap_or_else(|| Arc::new(MonotonicClock::new()));
        Ok(BoundedCache::from_parts(
            cache,
            self.policy,
            shards,
            max_entries,
            max_bytes,
            self.weigher,
            self.hooks,
            clock,
        ))
    }
}

fn default_bytes<K, V>() -> u64 {
    (std::mem::size_of::<K>() + std::mem::size_of::<V>()) as u64 + ENTRY_OVERHEAD_BYTES
}

fn default_shards(max_entries: u64) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut shards = (cores * 4).next_power_of_two().min(64);
    while shards > 1 && shards as u64 > max_entries {
        shards /= 2;
    }
    shards
}

/// Checks limits against each other; used at build and on reconfigure.
pub(crate) fn check_limits(
    cache: &str,
    shards: usize,
    max_entries: u64,
    max_bytes: u64,
) -> Result<(), CacheError> {
    let cache = cache.to_owned();
    if shards == 0 || !shards.is_power_of_two() {
        return Err(CacheError::ShardsNotPowerOfTwo {
            cache,
            shards,
            suggested: shards.max(1).next_power_of_two(),
        });
    }
    for (limit, value) in [
        ("max_entries", max_entries),
        ("max_memory_bytes", max_bytes),
    ] {
        if value == 0 {
            return Err(CacheError::ZeroLimit { cache, limit });
        }
        if value < shards as u64 {
            return Err(CacheError::LimitBelowShards {
                cache,
                limit,
                value,
                shards,
            });
        }
    }
    if max_entries > MAX_ENTRIES_LIMIT {
        return Err(CacheError::TooManyEntries {
            cache,
            value: max_entries,
            max: MAX_ENTRIES_LIMIT,
        });
    }
    Ok(())
}
