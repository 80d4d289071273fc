//! A cache registered with the engine's registry: `reconfigure` shrinks
//! it (evicting down before the call returns, telling the listener),
//! grows it again, refuses out-of-range limits by name, and its metrics
//! carry sizes, hit ratio and limits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use keel_engine::{
    BoundedCache, EventLog, EvictionPolicy, Limits, LimitsError, Registry, RegistryError, Scalable,
    SimClock,
};

fn setup(policy: EvictionPolicy) -> (Registry, Arc<BoundedCache<u64, u64>>, Arc<AtomicU64>) {
    let evicted = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&evicted);
    let cache = Arc::new(
        BoundedCache::<u64, u64>::builder("entities")
            .policy(policy)
            .max_entries(1_000)
            .max_bytes(1 << 20)
            .shards(4)
            .on_evict(move |_, _, _| {
                // Relaxed: a tally read by this thread after the calls.
                counted.fetch_add(1, Ordering::Relaxed);
            })
            .build()
            .unwrap(),
    );
    let registry = Registry::new(Arc::new(EventLog::new(16)), Arc::new(SimClock::new()));
    registry.register(cache.clone()).unwrap();
    (registry, cache, evicted)
}

fn shrink_then_grow(policy: EvictionPolicy) {
    let (registry, cache, evicted) = setup(policy);
    for k in 0..1_000 {
        cache.put(k, k).unwrap();
    }
    let before = cache.len();
    assert!(before > 900, "{before}");
    // Relaxed: see setup.
    let evicted_while_filling = evicted.load(Ordering::Relaxed);
    let event = registry
        .reconfigure("entities", &Limits::new().with(Limits::MAX_ENTRIES, 100))
        .unwrap();
    assert_eq!(event.old.get(Limits::MAX_ENTRIES), Some(1_000));
    assert_eq!(event.new.get(Limits::MAX_ENTRIES), Some(100));
    assert!(
        cache.len() <= 100,
        "{} entries after the shrink",
        cache.len()
    );
    // Relaxed: see setup.
    assert_eq!(
        evicted.load(Ordering::Relaxed) - evicted_while_filling,
        (before - cache.len()) as u64
    );

    registry
        .reconfigure(
            "entities",
            &Limits::new().with(Limits::MAX_MEMORY_BYTES, 64 * 40),
        )
        .unwrap();
    assert!(cache.stats().estimated_bytes <= 64 * 40);
    assert!(cache.len() <= 40);

    registry
        .reconfigure(
            "entities",
            &Limits::new()
                .with(Limits::MAX_ENTRIES, 5_000)
                .with(Limits::MAX_MEMORY_BYTES, 1 << 30),
        )
        .unwrap();
    for k in 10_000..14_000 {
        cache.put(k, k).unwrap();
    }
    assert!(cache.len() > 1_000, "grown: {}", cache.len());
    assert!(cache.len() <= 5_000);
}

#[test]
fn lru_shrink_evicts_before_reconfigure_returns() {
    shrink_then_grow(EvictionPolicy::Lru);
}

#[test]
fn arc_shrink_evicts_before_reconfigure_returns() {
    shrink_then_grow(EvictionPolicy::Arc);
}

#[test]
fn out_of_range_limits_are_refused_and_change_nothing() {
    let (registry, cache, _) = setup(EvictionPolicy::Arc);
    let err = registry
        .reconfigure("entities", &Limits::new().with(Limits::MAX_ENTRIES, 2))
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::Limits(LimitsError::OutOfRange { key, lo: 4, .. }) if key == "max_entries"),
        "{err}"
    );
    let err = registry
        .reconfigure("entities", &Limits::new().with("max_topics", 2))
        .unwrap_err();
    assert!(err.to_string().contains("max_topics"), "{err}");
    assert_eq!(cache.limits(), (1_000, 1 << 20));
    assert!(registry.events().snapshot().is_empty());
}

#[test]
fn metrics_report_sizes_hits_and_limits() {
    let (registry, cache, _) = setup(EvictionPolicy::Lru);
    cache.put(1, 1).unwrap();
    assert_eq!(cache.get(&1), Some(1));
    assert_eq!(cache.get(&2), None);
    let m = &registry.metrics()[0];
    assert_eq!(m.subsystem, "entities");
    assert_eq!(m.get("entries", &[]), Some(1.0));
    assert_eq!(m.get("estimated_bytes", &[]), Some(64.0));
    assert_eq!(m.get("hits_total", &[]), Some(1.0));
    assert_eq!(m.get("misses_total", &[]), Some(1.0));
    assert_eq!(m.get("hit_ratio", &[]), Some(0.5));
    assert_eq!(m.get("limit", &[("limit", "max_entries")]), Some(1_000.0));
    assert_eq!(
        cache.backpressure_strategy(),
        keel_engine::BackpressureStrategy::DropOldest
    );
}
