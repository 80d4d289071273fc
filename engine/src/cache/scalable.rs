//! The cache as a subsystem: the scalable contract (limits `max_entries`
//! and `max_memory_bytes`, metrics, backpressure) and the system that
//! expires TTL entries on the tick.

use std::hash::Hash;
use std::sync::Arc;

use super::BoundedCache;
use crate::metrics::MetricsSnapshot;
use crate::scalable::{
    BackpressureState, BackpressureStrategy, LimitBounds, Limits, LimitsError, Scalable,
};
use crate::schedule::System;

impl<K, V> Scalable for BoundedCache<K, V>
where
    K: Hash + Eq + Send + Sync,
    V: Send + Sync,
{
    fn name(&self) -> &str {
        BoundedCache::name(self)
    }

    fn limits(&self) -> Limits {
        let (entries, bytes) = BoundedCache::limits(self);
        Limits::new()
            .with(Limits::MAX_ENTRIES, entries)
            .with(Limits::MAX_MEMORY_BYTES, bytes)
    }

    fn limit_bounds(&self) -> LimitBounds {
        let shards = self.shard_count() as u64;
        LimitBounds::new()
            .with(Limits::MAX_ENTRIES, shards..=super::MAX_ENTRIES_LIMIT)
            .with(Limits::MAX_MEMORY_BYTES, shards..=u64::MAX)
    }

    fn apply_limits(&self, limits: &Limits) -> Result<(), LimitsError> {
        let (entries, bytes) = BoundedCache::limits(self);
        let entries = limits.get(Limits::MAX_ENTRIES).unwrap_or(entries);
        let bytes = limits.get(Limits::MAX_MEMORY_BYTES).unwrap_or(bytes);
        self.set_limits(entries, bytes)
            .map_err(|e| LimitsError::Refused {
                subsystem: self.name.clone(),
                reason: e.to_string(),
            })
    }

    fn metrics(&self) -> MetricsSnapshot {
        let s = self.stats();
        let mut m = MetricsSnapshot::new(&self.name);
        m.gauge("entries", "Resident entries.", &[], s.entries as f64);
        m.gauge(
            "estimated_bytes",
            "Estimated bytes of resident entries.",
            &[],
            s.estimated_bytes as f64,
        );
        m.counter(
            "hits_total",
            "Reads that found a live entry.",
            &[],
            s.hits as f64,
        );
        m.counter(
            "misses_total",
            "Reads that found nothing.",
            &[],
            s.misses as f64,
        );
        m.counter(
            "evictions_total",
            "Entries evicted for a limit.",
            &[],
            s.evictions as f64,
        );
        m.counter(
            "expirations_total",
            "Entries dropped when their TTL passed.",
            &[],
            s.expirations as f64,
        );
        m.counter(
            "backing_errors_total",
            "Write-backs the backing store refused.",
            &[],
            s.backing_errors as f64,
        );
        m.gauge(
            "hit_ratio",
            "Hits over reads since start.",
            &[],
            s.hit_ratio(),
        );
        m
    }

    /// A cache never refuses a write: it evicts. It is always Normal.
    fn backpressure(&self) -> BackpressureState {
        BackpressureState::Normal
    }

    fn backpressure_strategy(&self) -> BackpressureStrategy {
        BackpressureStrategy::DropOldest
    }
}

impl<K, V> BoundedCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// A system, named `{cache}.expire`, that drops up to `max_per_tick`
    /// expired entries each tick at the tick's time. It declares no column
    /// access (the cache locks its own shards), so it runs beside any
    /// other system. Build the cache with the scheduler's clock so lazy and
    /// tick expiry agree.
    pub fn expiry_system(self: &Arc<Self>, max_per_tick: usize) -> System {
        let cache = Arc::clone(self);
        System::new(format!("{}.expire", self.name), move |ctx| {
            cache.expire_due(ctx.now_ns(), max_per_tick);
            Ok(())
        })
    }
}
