//! Why a cache refused to be built, resized or written.

use super::BackingError;

/// A refused cache operation; each names what was wrong and what is
/// allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// The cache needs a name (it is the subsystem name in the registry).
    #[error("cache name is empty: give every cache a unique subsystem name")]
    EmptyName,
    /// A limit was zero.
    #[error("cache `{cache}`: `{limit}` is 0; it must be at least 1")]
    ZeroLimit {
        /// The cache.
        cache: String,
        /// `max_entries`, `max_memory_bytes` or `ttl`.
        limit: &'static str,
    },
    /// Shards must be a power of two.
    #[error("cache `{cache}`: {shards} shards is not a power of two (try {suggested})")]
    ShardsNotPowerOfTwo {
        /// The cache.
        cache: String,
        /// The refused shard count.
        shards: usize,
        /// The next power of two.
        suggested: usize,
    },
    /// Every shard must hold at least one entry and one byte.
    #[error("cache `{cache}`: `{limit}` = {value} is below the shard count {shards}; raise it or use fewer shards")]
    LimitBelowShards {
        /// The cache.
        cache: String,
        /// The limit.
        limit: &'static str,
        /// Its value.
        value: u64,
        /// Shards.
        shards: usize,
    },
    /// Too many entries for the slab's `u32` indices.
    #[error("cache `{cache}`: max_entries = {value} is above the most supported, {max}")]
    TooManyEntries {
        /// The cache.
        cache: String,
        /// The refused value.
        value: u64,
        /// The largest allowed.
        max: u64,
    },
    /// A RAM share outside 1..=100 percent.
    #[error("cache `{cache}`: RAM share {percent}% is outside 1..=100")]
    RamShareOutOfRange {
        /// The cache.
        cache: String,
        /// The refused share.
        percent: u8,
    },
    /// One entry is estimated larger than a shard's byte limit.
    #[error("cache `{cache}`: an entry of ~{bytes} bytes exceeds the per-shard limit of {shard_max_bytes} bytes; raise max_memory_bytes or use fewer shards")]
    EntryTooLarge {
        /// The cache.
        cache: String,
        /// The entry's estimated size.
        bytes: u64,
        /// One shard's byte limit.
        shard_max_bytes: u64,
    },
    /// `get_or_load` or `flush` on a cache without a backing store.
    #[error("cache `{cache}` has no backing store")]
    NoBackingStore {
        /// The cache.
        cache: String,
    },
    /// The backing store failed; with write-through the cache is unchanged.
    #[error(transparent)]
    Backing(#[from] BackingError),
}
