//! Criterion: get-then-insert-on-miss over a Zipf(0.99) trace of 1,000,000
//! keys with 100,000 entries of capacity, Keel LRU and ARC against
//! quick_cache, the lru crate behind a mutex, and moka, in one run; plus
//! the same for Keel ARC on the scan-mixed trace. Throughput is in trace
//! operations (one get, plus an insert on a miss).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use keel_benches::cache::{
    replay, scan_trace, zipf_trace, BenchCache, Keel, LruMutex, Moka, QuickCache,
};
use keel_engine::EvictionPolicy;

const TRACE_LEN: usize = 200_000;

fn cache(c: &mut Criterion) {
    let zipf = zipf_trace(0.99, 1_000_000, 1);
    let scan = scan_trace(1_000_000, 4);
    let mut group = c.benchmark_group("cache_get_insert_on_miss");
    group.sample_size(20);
    group.throughput(Throughput::Elements(TRACE_LEN as u64));
    let caches: Vec<(&str, Box<dyn BenchCache>)> = vec![
        ("keel_lru", Box::new(Keel::new(EvictionPolicy::Lru))),
        ("keel_arc", Box::new(Keel::new(EvictionPolicy::Arc))),
        ("quick_cache", Box::new(QuickCache::new())),
        ("lru_mutex", Box::new(LruMutex::new())),
        ("moka", Box::new(Moka::new())),
    ];
    for (name, cache) in &caches {
        // Warm: the cache is full and in steady state before timing.
        replay(&**cache, &zipf);
        let mut at = 0;
        group.bench_function(BenchmarkId::new("zipf_0.99", name), |b| {
            b.iter(|| {
                let start = at % (zipf.len() - TRACE_LEN);
                at += TRACE_LEN;
                replay(&**cache, &zipf[start..start + TRACE_LEN])
            })
        });
    }
    let keel_arc = Keel::new(EvictionPolicy::Arc);
    replay(&keel_arc, &scan);
    group.bench_function(BenchmarkId::new("zipf_with_scans", "keel_arc"), |b| {
        b.iter(|| replay(&keel_arc, &scan[..TRACE_LEN]))
    });
    group.finish();
}

criterion_group!(benches, cache);
criterion_main!(benches);
