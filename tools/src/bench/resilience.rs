//! Scenario `resilience`: the guarded call against a direct call and the
//! failsafe crate's breaker, on 1 and 2 threads sharing one strategy; the
//! tick's cost per breaker over 1,000,000 breakers.

use std::hint::black_box;
use std::time::Instant;

use keel_benches::resilience::{
    direct, failsafe, failsafe_guarded, keel, keel_execute, keel_guarded, many_breakers,
    per_call_ns_on_threads, touch_all,
};

use super::measure::{median, ns_per_unit};
use super::{BenchError, BenchOptions, Comparison, Progress, Scenario, ScenarioResult};

const BREAKERS: usize = 1_000_000;

pub fn scenario() -> Scenario {
    Scenario {
        name: "resilience",
        about: "guarded call with the breaker closed (through a thread-bound guard; also by breaker id on \
                1 thread) vs a direct call and the failsafe crate's breaker, on 1 and 2 threads sharing \
                one strategy (ns/call); tick cost per breaker over 1,000,000 \
                breakers that all had a call since the last tick",
        steps: 6,
        run,
    }
}

fn threaded(
    rounds: usize,
    threads: usize,
    calls: u64,
    body: impl Fn(u64) -> u64 + Send + Sync + Clone + 'static,
) -> f64 {
    // Warm-up, then the median of the rounds.
    per_call_ns_on_threads(threads, calls / 4, body.clone());
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| per_call_ns_on_threads(threads, calls, body.clone()))
        .collect();
    median(&mut samples)
}

fn run(opts: &BenchOptions, progress: &mut Progress) -> Result<ScenarioResult, BenchError> {
    let (rounds, calls, tick_rounds) = if opts.quick {
        (5, 5_000_000u64, 5)
    } else {
        (11, 20_000_000u64, 15)
    };

    progress.step("direct call");
    let direct_ns = ns_per_unit(rounds, || {
        black_box(direct(calls));
        calls
    });

    progress.step("keel guarded call, 1 thread");
    let (r, id) = keel(16);
    let keel_guarded_ns_1t = ns_per_unit(rounds, || {
        black_box(keel_guarded(&r, id, calls));
        calls
    });

    let keel_execute_by_id_ns_1t = ns_per_unit(rounds, || {
        black_box(keel_execute(&r, id, calls));
        calls
    });

    progress.step("keel guarded call, 2 threads");
    let shared = r.clone();
    let keel_guarded_ns_2t = threaded(rounds, 2, calls, move |n| keel_guarded(&shared, id, n));

    progress.step("failsafe breaker, 1 and 2 threads");
    // The peer is ten to thirty times slower per call: an eighth of the
    // calls still gives it rounds of 100+ ms and keeps the run short.
    let peer_calls = calls / 8;
    let cb = failsafe();
    let failsafe_ns_1t = ns_per_unit(rounds, || {
        black_box(failsafe_guarded(&cb, peer_calls));
        peer_calls
    });
    let cb2 = cb.clone();
    let failsafe_ns_2t = threaded(rounds, 2, peer_calls, move |n| failsafe_guarded(&cb2, n));

    progress.step("tick over 1,000,000 breakers");
    let (many, ids) = many_breakers(BREAKERS);
    let mut per_breaker: Vec<f64> = (0..tick_rounds + 1)
        .map(|_| {
            black_box(touch_all(&many, &ids));
            let t0 = Instant::now();
            many.tick();
            t0.elapsed().as_nanos() as f64 / BREAKERS as f64
        })
        .skip(1)
        .collect();
    let tick_ns_per_breaker = median(&mut per_breaker);

    progress.step("tick over 1,000,000 idle breakers");
    let tick_ns_per_idle_breaker = ns_per_unit(tick_rounds, || {
        many.tick();
        BREAKERS as u64
    });

    Ok(ScenarioResult {
        name: "resilience",
        metrics: vec![
            ("direct_ns", direct_ns),
            ("keel_guarded_ns_1t", keel_guarded_ns_1t),
            ("keel_guarded_ns_2t", keel_guarded_ns_2t),
            ("keel_execute_by_id_ns_1t", keel_execute_by_id_ns_1t),
            ("failsafe_ns_1t", failsafe_ns_1t),
            ("failsafe_ns_2t", failsafe_ns_2t),
            ("tick_ns_per_breaker", tick_ns_per_breaker),
            ("tick_ns_per_idle_breaker", tick_ns_per_idle_breaker),
        ],
        comparisons: vec![
            Comparison {
                what: "guarded call, 1 thread vs failsafe",
                keel: "keel_guarded_ns_1t",
                peer: Some("failsafe_ns_1t"),
                unit: "ns/call",
                lower_is_better: true,
            },
            Comparison {
                what: "guarded call, 2 threads vs failsafe",
                keel: "keel_guarded_ns_2t",
                peer: Some("failsafe_ns_2t"),
                unit: "ns/call",
                lower_is_better: true,
            },
            Comparison {
                what: "guarded call vs direct call",
                keel: "keel_guarded_ns_1t",
                peer: Some("direct_ns"),
                unit: "ns/call",
                lower_is_better: true,
            },
            Comparison {
                what: "tick per breaker (1,000,000, all active)",
                keel: "tick_ns_per_breaker",
                peer: None,
                unit: "ns/breaker",
                lower_is_better: true,
            },
        ],
    })
}
