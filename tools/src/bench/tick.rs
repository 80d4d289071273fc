//! Scenario `tick`: the columnar table and scheduler against a plain
//! array-of-structs loop.

use std::sync::Arc;

use keel_benches::tick::{
    add_empty_systems, aos_rows, breaker_world, trip_aos, trip_system, TripRule,
};
use keel_engine::{Clock, MonotonicClock, Scheduler, SchedulerOptions};

use super::measure::ns_per_unit;
use super::{BenchError, BenchOptions, Comparison, Progress, Scenario, ScenarioResult};

const ROWS: usize = 1_000_000;
const EMPTY_SYSTEMS: usize = 20;

pub fn scenario() -> Scenario {
    Scenario {
        name: "tick",
        about: "1,000,000 breaker rows tripped by a system: ns/row on 1 worker and on all workers \
                vs the same update over an array of structs; scheduler overhead per tick with 20 empty systems",
        steps: 4,
        run,
    }
}

fn options(participants: usize) -> SchedulerOptions {
    SchedulerOptions {
        participants,
        cores: core_ids(),
        spin_ns: 50_000,
        clock: Arc::new(MonotonicClock::new()),
    }
}

fn core_ids() -> Vec<usize> {
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}

fn soa_ns_per_row(participants: usize, rounds: usize, ticks: u64) -> f64 {
    let (world, cols) = breaker_world(ROWS);
    let mut scheduler = Scheduler::new(world, options(participants));
    scheduler
        .add_system(trip_system(cols, TripRule::default()))
        .expect("one system");
    ns_per_unit(rounds, || {
        for _ in 0..ticks {
            scheduler.run_tick();
        }
        ticks * ROWS as u64
    })
}

fn run(opts: &BenchOptions, progress: &mut Progress) -> Result<ScenarioResult, BenchError> {
    let (rounds, ticks, overhead_ticks) = if opts.quick {
        (5, 20, 2_000)
    } else {
        (11, 60, 20_000)
    };
    let all = core_ids().len();

    progress.step("ns per row, 1 worker");
    let ns_per_row_1t = soa_ns_per_row(1, rounds, ticks);

    progress.step(&format!("ns per row, {all} workers"));
    let ns_per_row_all = soa_ns_per_row(all, rounds, ticks);

    progress.step("ns per row, array-of-structs peer");
    let mut rows = aos_rows(ROWS);
    let rule = TripRule::default();
    let clock = MonotonicClock::new();
    let ns_per_row_aos_peer = ns_per_unit(rounds, || {
        for _ in 0..ticks {
            trip_aos(std::hint::black_box(&mut rows), clock.now_ns(), &rule);
        }
        ticks * ROWS as u64
    });

    progress.step("scheduler overhead, 20 empty systems");
    let (world, _) = breaker_world(1);
    let mut scheduler = Scheduler::new(world, options(all));
    add_empty_systems(&mut scheduler, EMPTY_SYSTEMS);
    let sched_ns = ns_per_unit(rounds, || {
        for _ in 0..overhead_ticks {
            scheduler.run_tick();
        }
        overhead_ticks
    });

    Ok(ScenarioResult {
        name: "tick",
        metrics: vec![
            ("ns_per_row_1t", ns_per_row_1t),
            ("ns_per_row_all", ns_per_row_all),
            ("ns_per_row_aos_peer", ns_per_row_aos_peer),
            ("sched_overhead_us_20_systems", sched_ns / 1_000.0),
        ],
        comparisons: vec![
            Comparison {
                what: "row update, 1 worker vs AoS",
                keel: "ns_per_row_1t",
                peer: Some("ns_per_row_aos_peer"),
                unit: "ns/row",
                lower_is_better: true,
            },
            Comparison {
                what: "row update, all workers vs AoS",
                keel: "ns_per_row_all",
                peer: Some("ns_per_row_aos_peer"),
                unit: "ns/row",
                lower_is_better: true,
            },
            Comparison {
                what: "tick overhead, 20 empty systems",
                keel: "sched_overhead_us_20_systems",
                peer: None,
                unit: "us/tick",
                lower_is_better: true,
            },
        ],
    })
}
