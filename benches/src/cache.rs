//! The `cache` workload: key traces over a 1,000,000-key universe (Zipf
//! s = 0.99, Zipf s = 0.8, and Zipf mixed with long sequential scans),
//! replayed as get-then-insert-on-miss against a cache of 100,000 entries:
//! Keel's `BoundedCache` (LRU and ARC) and its peers `quick_cache`, the
//! `lru` crate behind a `std::sync::Mutex`, and `moka::sync`.
//!
//! One op is one `get`, followed by an `insert` when the get missed.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use keel_engine::{BoundedCache, EvictionPolicy};

/// Keys in the universe.
pub const UNIVERSE: u64 = 1_000_000;
/// Cache capacity, entries.
pub const CAPACITY: u64 = 100_000;

/// SplitMix64: a small, fast, seedable generator for traces.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf over ranks `0..n` (rank 0 most frequent, P(r) ~ 1 / (r + 1)^s),
/// sampled by binary search in the cumulative distribution.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution over `n` ranks with exponent `s`.
    pub fn new(n: u64, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n as usize);
        let mut sum = 0.0;
        for r in 1..=n {
            sum += 1.0 / (r as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }

    /// One rank.
    pub fn sample(&self, rng: &mut SplitMix64) -> u64 {
        let u = rng.next_f64();
        self.cdf.partition_point(|&c| c < u) as u64
    }

    /// The share of requests that go to the `k` most frequent ranks: the
    /// best hit rate a static cache of `k` entries can have.
    pub fn top_share(&self, k: u64) -> f64 {
        self.cdf[(k as usize).min(self.cdf.len()) - 1]
    }
}

/// Spreads ranks over the universe so hot keys are not neighbours (a
/// bijection on `0..UNIVERSE`: multiplication by an odd constant modulo a
/// power of two would not be one here, so use an affine map with a
/// multiplier coprime to 1,000,000).
fn scatter(rank: u64) -> u64 {
    (rank * 7_919 + 12_345) % UNIVERSE
}

/// `len` keys drawn from Zipf(`s`) over the universe.
pub fn zipf_trace(s: f64, len: usize, seed: u64) -> Vec<u64> {
    let zipf = Zipf::new(UNIVERSE, s);
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| scatter(zipf.sample(&mut rng))).collect()
}

/// Zipf(0.99) traffic broken by long sequential scans: phases of
/// `ZIPF_PHASE` Zipf keys, each followed by a scan of `SCAN_LEN`
/// consecutive keys from a random start (one-touch keys that flush an
/// LRU cache: the scan is 1.5 times the capacity).
pub fn scan_trace(len: usize, seed: u64) -> Vec<u64> {
    const ZIPF_PHASE: usize = 200_000;
    const SCAN_LEN: usize = 150_000;
    let zipf = Zipf::new(UNIVERSE, 0.99);
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        for _ in 0..ZIPF_PHASE {
            out.push(scatter(zipf.sample(&mut rng)));
        }
        let start = rng.next_u64() % UNIVERSE;
        for i in 0..SCAN_LEN as u64 {
            out.push((start + i) % UNIVERSE);
        }
    }
    out.truncate(len);
    out
}

/// A cache as the workload sees it.
pub trait BenchCache: Sync {
    /// Looks a key up.
    fn get(&self, key: u64) -> Option<u64>;
    /// Inserts a key.
    fn insert(&self, key: u64, value: u64);
}

/// Replays `trace` as get-then-insert-on-miss; returns the hits.
#[inline(never)]
pub fn replay<C: BenchCache + ?Sized>(cache: &C, trace: &[u64]) -> u64 {
    let mut hits = 0;
    for &key in trace {
        if cache.get(key).is_some() {
            hits += 1;
        } else {
            cache.insert(key, key);
        }
    }
    hits
}

/// Hit rate in percent over `trace[warmup..]`, after replaying
/// `trace[..warmup]` to fill the cache.
pub fn hit_percent<C: BenchCache + ?Sized>(cache: &C, trace: &[u64], warmup: usize) -> f64 {
    let warmup = warmup.min(trace.len());
    replay(cache, &trace[..warmup]);
    let measured = &trace[warmup..];
    100.0 * replay(cache, measured) as f64 / measured.len().max(1) as f64
}

/// Keel's cache.
pub struct Keel(pub BoundedCache<u64, u64>);

impl Keel {
    /// A cache of [`CAPACITY`] entries with the default shard count.
    pub fn new(policy: EvictionPolicy) -> Keel {
        Keel(
            BoundedCache::builder("bench")
                .policy(policy)
                .max_entries(CAPACITY)
                .max_bytes(u64::MAX)
                .build()
                .expect("valid bench settings"),
        )
    }
}

impl BenchCache for Keel {
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0
            .put(key, value)
            .expect("no byte limit, no backing store");
    }
}

/// Peer: `quick_cache::sync::Cache`.
pub struct QuickCache(pub quick_cache::sync::Cache<u64, u64>);

impl QuickCache {
    /// A cache of [`CAPACITY`] entries.
    pub fn new() -> QuickCache {
        QuickCache(quick_cache::sync::Cache::new(CAPACITY as usize))
    }
}

impl Default for QuickCache {
    fn default() -> Self {
        QuickCache::new()
    }
}

impl BenchCache for QuickCache {
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
}

/// Peer: `lru::LruCache` behind one `std::sync::Mutex`.
pub struct LruMutex(pub Mutex<lru::LruCache<u64, u64>>);

impl LruMutex {
    /// A cache of [`CAPACITY`] entries.
    pub fn new() -> LruMutex {
        let cap = NonZeroUsize::new(CAPACITY as usize).expect("capacity > 0");
        LruMutex(Mutex::new(lru::LruCache::new(cap)))
    }
}

impl Default for LruMutex {
    fn default() -> Self {
        LruMutex::new()
    }
}

impl BenchCache for LruMutex {
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.lock().expect("no panics").get(&key).copied()
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.lock().expect("no panics").put(key, value);
    }
}

/// Peer: `moka::sync::Cache`.
pub struct Moka(pub moka::sync::Cache<u64, u64>);

impl Moka {
    /// A cache of [`CAPACITY`] entries.
    pub fn new() -> Moka {
        Moka(moka::sync::Cache::new(CAPACITY))
    }
}

impl Default for Moka {
    fn default() -> Self {
        Moka::new()
    }
}

impl BenchCache for Moka {
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_is_skewed_and_scatter_is_a_bijection_on_a_sample() {
        let zipf = Zipf::new(1_000, 0.99);
        let mut rng = SplitMix64::new(1);
        let zeros = (0..10_000).filter(|_| zipf.sample(&mut rng) == 0).count();
        assert!(zeros > 1_000, "rank 0 is about 13% of draws: {zeros}");
        let mut seen: Vec<u64> = (0..10_000).map(scatter).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 10_000);
    }

    #[test]
    fn scan_trace_holds_long_runs_of_consecutive_keys() {
        let t = scan_trace(400_000, 3);
        let run = t[200_000..350_000]
            .windows(2)
            .all(|w| w[1] == (w[0] + 1) % UNIVERSE);
        assert!(run);
    }
}
