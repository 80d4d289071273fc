//! Many threads on one sharded cache: no write is lost, and the entry
//! limit holds at every moment (each shard holds an exact share of it, so
//! the documented slack on the bound is zero). Threads are more than the
//! cores on purpose; nothing here depends on timing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use keel_engine::{BoundedCache, EvictionPolicy};

const THREADS: u64 = 4;

fn stress_no_lost_update(policy: EvictionPolicy) {
    let keys_per_thread = 500u64;
    let rounds = 20u64;
    let cache = Arc::new(
        BoundedCache::<u64, u64>::builder("stress")
            .policy(policy)
            // Each of the 8 shards holds an exact eighth of the limit; four
            // times the key count leaves every shard room for its keys
            // (about 250 of 2,000 each; over 1,000 is 50 standard
            // deviations away).
            .max_entries(4 * THREADS * keys_per_thread)
            .shards(8)
            .weigher(|_, _| 1)
            .max_bytes(4 * THREADS * keys_per_thread)
            .build()
            .unwrap(),
    );
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let cache = Arc::clone(&cache);
            thread::spawn(move || {
                for round in 1..=rounds {
                    for i in 0..keys_per_thread {
                        let key = t * keys_per_thread + i;
                        // Read-modify-write on a key only this thread writes.
                        let before = cache.get(&key).unwrap_or(0);
                        assert_eq!(before, round - 1, "key {key} lost a write");
                        cache.put(key, round).unwrap();
                        // Readers of other threads' keys see a value in range.
                        let other = ((t + 1) % THREADS) * keys_per_thread + i;
                        assert!(cache.get(&other).unwrap_or(0) <= rounds);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let stats = cache.stats();
    assert_eq!(stats.entries, THREADS * keys_per_thread);
    assert_eq!(
        stats.evictions, 0,
        "room for every key: nothing may be evicted"
    );
    for key in 0..THREADS * keys_per_thread {
        assert_eq!(cache.get(&key), Some(rounds), "key {key}");
    }
}

#[test]
fn lru_loses_no_update_under_contention() {
    stress_no_lost_update(EvictionPolicy::Lru);
}

#[test]
fn arc_loses_no_update_under_contention() {
    stress_no_lost_update(EvictionPolicy::Arc);
}

#[test]
fn entry_limit_is_never_exceeded_while_threads_churn() {
    let max_entries = 256u64;
    let evictions = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&evictions);
    let cache = Arc::new(
        BoundedCache::<u64, u64>::builder("churn")
            .policy(EvictionPolicy::Arc)
            .max_entries(max_entries)
            .shards(4)
            .on_evict(move |_, _, _| {
                // Relaxed: a tally read after the threads are joined.
                counted.fetch_add(1, Ordering::Relaxed);
            })
            .build()
            .unwrap(),
    );
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (cache, done) = (Arc::clone(&cache), Arc::clone(&done));
        thread::spawn(move || {
            let mut max_seen = 0;
            // Relaxed: the flag only ends the loop; join orders the rest.
            while !done.load(Ordering::Relaxed) {
                max_seen = max_seen.max(cache.len());
                thread::yield_now();
            }
            max_seen
        })
    };
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let cache = Arc::clone(&cache);
            thread::spawn(move || {
                let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for _ in 0..20_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = x % 2_000;
                    if cache.get(&key).is_none() {
                        cache.put(key, key).unwrap();
                    }
                    if x % 97 == 0 {
                        cache.remove(&key);
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    // Relaxed: see the watcher.
    done.store(true, Ordering::Relaxed);
    let max_seen = watcher.join().unwrap();
    assert!(max_seen as u64 <= max_entries, "saw {max_seen} entries");
    let stats = cache.stats();
    assert!(stats.entries <= max_entries);
    // Every insert is still resident, was evicted or was removed.
    assert_eq!(
        stats.inserts,
        stats.entries + stats.evictions + stats.removals
    );
    // Relaxed: the writers are joined.
    assert_eq!(evictions.load(Ordering::Relaxed), stats.evictions);
    assert_eq!(stats.hits + stats.misses, THREADS * 20_000);
}
