//! Scenario `cache`: Keel's bounded cache (LRU and ARC) against
//! `quick_cache`, the `lru` crate behind a mutex and `moka::sync`, on Zipf
//! and scan-mixed traces over 1,000,000 keys with 100,000 entries of
//! capacity: ops/s on 1 and 2 threads, hit rates in percent.

use keel_benches::cache::{
    hit_percent, replay, scan_trace, zipf_trace, BenchCache, Keel, LruMutex, Moka, QuickCache,
    Zipf, CAPACITY, UNIVERSE,
};
use keel_engine::EvictionPolicy;

use std::time::Instant;

use super::measure::{median, ns_per_unit};
use super::{BenchError, BenchOptions, Comparison, Progress, Scenario, ScenarioResult};

pub fn scenario() -> Scenario {
    Scenario {
        name: "cache",
        about: "bounded cache, 100,000 entries over 1,000,000 keys, get then insert on miss: \
                Keel LRU/ARC vs quick_cache, lru+Mutex, moka; ops/s on 1 and 2 threads; \
                hit % on Zipf 0.99, Zipf 0.8 and Zipf mixed with long scans",
        steps: 6,
        run,
    }
}

/// Median ops/s of one thread replaying `trace` on each warm cache. The
/// caches take turns round by round, so a change in the machine's load
/// (the development VM is shared) falls on all of them alike.
fn ops_1t_interleaved(caches: &[&dyn BenchCache], trace: &[u64], rounds: usize) -> Vec<f64> {
    for cache in caches {
        std::hint::black_box(replay(*cache, trace));
    }
    let mut samples = vec![Vec::with_capacity(rounds); caches.len()];
    for _ in 0..rounds.max(1) {
        for (cache, out) in caches.iter().zip(&mut samples) {
            let start = Instant::now();
            std::hint::black_box(replay(*cache, trace));
            out.push(trace.len() as f64 * 1e9 / start.elapsed().as_nanos().max(1) as f64);
        }
    }
    samples.iter_mut().map(|s| median(s)).collect()
}

/// Median ops/s of two threads, each replaying its own trace on one cache.
fn ops_2t(cache: &dyn BenchCache, traces: [&[u64]; 2], rounds: usize) -> f64 {
    let ns = ns_per_unit(rounds, || {
        std::thread::scope(|s| {
            for t in traces {
                s.spawn(move || std::hint::black_box(replay(cache, t)));
            }
        });
        (traces[0].len() + traces[1].len()) as u64
    });
    1e9 / ns
}

fn hits(make: &dyn Fn() -> Box<dyn BenchCache>, trace: &[u64]) -> f64 {
    hit_percent(&*make(), trace, trace.len() / 4)
}

fn keel(policy: EvictionPolicy) -> impl Fn() -> Box<dyn BenchCache> {
    move || Box::new(Keel::new(policy)) as Box<dyn BenchCache>
}

fn quick() -> Box<dyn BenchCache> {
    Box::new(QuickCache::new())
}

fn run(opts: &BenchOptions, progress: &mut Progress) -> Result<ScenarioResult, BenchError> {
    let (ops_len, hit_len, rounds) = if opts.quick {
        (1_000_000, 2_000_000, 5)
    } else {
        (4_000_000, 8_000_000, 11)
    };

    progress.step("key traces (Zipf 0.99, 0.8, scans)");
    let z099 = zipf_trace(0.99, hit_len, 1);
    let z099_b = zipf_trace(0.99, ops_len, 2);
    let z080 = zipf_trace(0.8, hit_len, 3);
    let scan = scan_trace(hit_len, 4);
    let best_static_hit_099 = 100.0 * Zipf::new(UNIVERSE, 0.99).top_share(CAPACITY);
    let ops_trace = &z099[..ops_len];

    progress.step("ops/s, 1 thread: Keel LRU, Keel ARC, quick_cache, lru+Mutex, taking turns");
    let keel_lru = Keel::new(EvictionPolicy::Lru);
    let keel_arc = Keel::new(EvictionPolicy::Arc);
    let quick_cache = QuickCache::new();
    let lru_mutex = LruMutex::new();
    let ops = ops_1t_interleaved(
        &[&keel_lru, &keel_arc, &quick_cache, &lru_mutex],
        ops_trace,
        rounds,
    );
    let [keel_lru_ops_1t, keel_arc_ops_1t, quick_cache_ops_1t, lru_mutex_ops_1t] =
        [ops[0], ops[1], ops[2], ops[3]];
    drop((keel_lru, lru_mutex));

    progress.step("ops/s, 1 thread: moka");
    let moka_ops_1t = ops_1t_interleaved(&[&Moka::new()], ops_trace, rounds)[0];

    progress.step("ops/s, 2 threads: Keel ARC, quick_cache");
    let keel_arc_ops_2t = ops_2t(&keel_arc, [ops_trace, &z099_b], rounds);
    let quick_cache_ops_2t = ops_2t(&quick_cache, [ops_trace, &z099_b], rounds);
    drop((keel_arc, quick_cache));

    progress.step("hit rates, Zipf 0.99 and 0.8");
    let keel_lru_hit_099 = hits(&keel(EvictionPolicy::Lru), &z099);
    let keel_arc_hit_099 = hits(&keel(EvictionPolicy::Arc), &z099);
    let quick_cache_hit_099 = hits(&quick, &z099);
    let keel_lru_hit_080 = hits(&keel(EvictionPolicy::Lru), &z080);
    let keel_arc_hit_080 = hits(&keel(EvictionPolicy::Arc), &z080);
    let quick_cache_hit_080 = hits(&quick, &z080);

    progress.step("hit rates, Zipf mixed with scans");
    let keel_lru_hit_scan = hits(&keel(EvictionPolicy::Lru), &scan);
    let keel_arc_hit_scan = hits(&keel(EvictionPolicy::Arc), &scan);
    let quick_cache_hit_scan = hits(&quick, &scan);

    Ok(ScenarioResult {
        name: "cache",
        metrics: vec![
            ("keel_lru_ops_1t", keel_lru_ops_1t),
            ("keel_arc_ops_1t", keel_arc_ops_1t),
            ("keel_arc_ops_2t", keel_arc_ops_2t),
            ("quick_cache_ops_1t", quick_cache_ops_1t),
            ("quick_cache_ops_2t", quick_cache_ops_2t),
            ("lru_mutex_ops_1t", lru_mutex_ops_1t),
            ("moka_ops_1t", moka_ops_1t),
            ("keel_lru_hit_099", keel_lru_hit_099),
            ("keel_arc_hit_099", keel_arc_hit_099),
            ("quick_cache_hit_099", quick_cache_hit_099),
            ("best_static_hit_099", best_static_hit_099),
            ("keel_lru_hit_080", keel_lru_hit_080),
            ("keel_arc_hit_080", keel_arc_hit_080),
            ("quick_cache_hit_080", quick_cache_hit_080),
            ("keel_lru_hit_scan", keel_lru_hit_scan),
            ("keel_arc_hit_scan", keel_arc_hit_scan),
            ("quick_cache_hit_scan", quick_cache_hit_scan),
        ],
        comparisons: comparisons(),
    })
}

fn rate(
    what: &'static str,
    keel: &'static str,
    peer: &'static str,
    unit: &'static str,
) -> Comparison {
    Comparison {
        what,
        keel,
        peer: Some(peer),
        unit,
        lower_is_better: false,
    }
}

fn comparisons() -> Vec<Comparison> {
    vec![
        rate(
            "LRU, 1 thread vs lru+Mutex",
            "keel_lru_ops_1t",
            "lru_mutex_ops_1t",
            "ops/s",
        ),
        rate(
            "ARC, 1 thread vs quick_cache",
            "keel_arc_ops_1t",
            "quick_cache_ops_1t",
            "ops/s",
        ),
        rate(
            "ARC, 1 thread vs moka",
            "keel_arc_ops_1t",
            "moka_ops_1t",
            "ops/s",
        ),
        rate(
            "ARC, 2 threads vs quick_cache",
            "keel_arc_ops_2t",
            "quick_cache_ops_2t",
            "ops/s",
        ),
        rate(
            "ARC hit, Zipf 0.99 vs quick_cache",
            "keel_arc_hit_099",
            "quick_cache_hit_099",
            "%",
        ),
        rate(
            "LRU hit, Zipf 0.99 vs quick_cache",
            "keel_lru_hit_099",
            "quick_cache_hit_099",
            "%",
        ),
        rate(
            "ARC hit, Zipf 0.99 vs best static",
            "keel_arc_hit_099",
            "best_static_hit_099",
            "%",
        ),
        rate(
            "ARC hit, Zipf 0.8 vs quick_cache",
            "keel_arc_hit_080",
            "quick_cache_hit_080",
            "%",
        ),
        rate(
            "ARC hit, scans vs Keel LRU",
            "keel_arc_hit_scan",
            "keel_lru_hit_scan",
            "%",
        ),
        rate(
            "ARC hit, scans vs quick_cache",
            "keel_arc_hit_scan",
            "quick_cache_hit_scan",
            "%",
        ),
    ]
}
