//! TTL on the simulated clock: an entry is readable until its TTL passes,
//! gone on the first read after (lazy), and dropped by the expiry system
//! on the scheduler's tick without any read. A rewrite extends the life.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keel_engine::{
    BoundedCache, EvictionCause, EvictionPolicy, Scheduler, SchedulerOptions, SimClock, World,
};

fn ttl_cache(
    clock: &SimClock,
    causes: Arc<Mutex<Vec<(u32, EvictionCause)>>>,
) -> Arc<BoundedCache<u32, u32>> {
    let cache = BoundedCache::<u32, u32>::builder("ttl")
        .policy(EvictionPolicy::Ttl {
            ttl: Duration::from_millis(100),
        })
        // Room to spare in every shard: with 64 entries over 4 shards (16
        // each), 40 keys overflowed one shard in about 7% of runs (the
        // hasher is seeded per process) and capacity evictions broke the
        // TTL counts.
        .max_entries(1_024)
        .shards(4)
        .clock(Arc::new(clock.clone()))
        .on_evict(move |k, _, cause| causes.lock().unwrap().push((*k, cause)))
        .build()
        .unwrap();
    Arc::new(cache)
}

#[test]
fn reads_expire_lazily_at_the_ttl() {
    let clock = SimClock::new();
    let causes = Arc::new(Mutex::new(Vec::new()));
    let cache = ttl_cache(&clock, Arc::clone(&causes));
    cache.put(1, 10).unwrap();
    clock.advance(Duration::from_millis(99));
    assert_eq!(cache.get(&1), Some(10));
    clock.advance(Duration::from_millis(1));
    assert_eq!(cache.get(&1), None);
    assert_eq!(*causes.lock().unwrap(), vec![(1, EvictionCause::Expired)]);
    let stats = cache.stats();
    assert_eq!(
        (stats.expirations, stats.entries, stats.hits, stats.misses),
        (1, 0, 1, 1)
    );
}

#[test]
fn a_rewrite_extends_the_life_and_reads_do_not() {
    let clock = SimClock::new();
    let cache = ttl_cache(&clock, Arc::new(Mutex::new(Vec::new())));
    cache.put(1, 10).unwrap();
    clock.advance(Duration::from_millis(60));
    assert_eq!(cache.get(&1), Some(10));
    cache.put(2, 20).unwrap();
    clock.advance(Duration::from_millis(60));
    assert_eq!(cache.get(&1), None, "the read at 60 ms did not extend it");
    cache.put(2, 21).unwrap();
    clock.advance(Duration::from_millis(90));
    assert_eq!(
        cache.get(&2),
        Some(21),
        "rewritten at 120 ms, alive until 220 ms"
    );
}

#[test]
fn the_expiry_system_drops_due_entries_on_the_tick() {
    let clock = SimClock::new();
    let causes = Arc::new(Mutex::new(Vec::new()));
    let cache = ttl_cache(&clock, Arc::clone(&causes));
    let mut scheduler = Scheduler::new(
        World::new(),
        SchedulerOptions::deterministic(Arc::new(clock.clone())),
    );
    scheduler.add_system(cache.expiry_system(1_000)).unwrap();
    for k in 0..20 {
        cache.put(k, k).unwrap();
    }
    clock.advance(Duration::from_millis(50));
    for k in 20..30 {
        cache.put(k, k).unwrap();
    }
    scheduler.run_tick();
    assert_eq!(cache.len(), 30, "nothing is due at 50 ms");
    clock.advance(Duration::from_millis(50));
    scheduler.run_tick();
    assert_eq!(
        cache.len(),
        10,
        "the first 20 expired at 100 ms without a read"
    );
    clock.advance(Duration::from_millis(50));
    scheduler.run_tick();
    assert!(cache.is_empty());
    let causes = causes.lock().unwrap();
    assert_eq!(causes.len(), 30);
    assert!(causes.iter().all(|(_, c)| *c == EvictionCause::Expired));
    assert_eq!(cache.stats().expirations, 30);
    assert_eq!(scheduler.failures("ttl.expire"), Some((0, None)));
}

#[test]
fn the_tick_budget_bounds_work_per_tick() {
    let clock = SimClock::new();
    let cache = ttl_cache(&clock, Arc::new(Mutex::new(Vec::new())));
    for k in 0..40 {
        cache.put(k, k).unwrap();
    }
    clock.advance(Duration::from_millis(100));
    let dropped = cache.expire_due(100_000_000, 8);
    assert!(dropped <= 8 && dropped > 0, "{dropped}");
    assert_eq!(cache.len(), 40 - dropped);
}
