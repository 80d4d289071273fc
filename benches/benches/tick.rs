//! Criterion: one tick of the breaker trip system over 1,000,000 rows, on
//! one worker and on all, against the same update as an array of structs;
//! and a tick of 20 empty systems (scheduler overhead).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keel_benches::tick::{
    add_empty_systems, aos_rows, breaker_world, trip_aos, trip_system, TripRule,
};
use keel_engine::{MonotonicClock, Scheduler, SchedulerOptions};

const ROWS: usize = 1_000_000;

fn options(participants: usize) -> SchedulerOptions {
    SchedulerOptions {
        participants,
        cores: Vec::new(),
        spin_ns: 50_000,
        clock: Arc::new(MonotonicClock::new()),
    }
}

fn tick(c: &mut Criterion) {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut group = c.benchmark_group("tick_1m_rows");
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, participants) in [("keel_soa_1_worker", 1), ("keel_soa_all_workers", all)] {
        let (world, cols) = breaker_world(ROWS);
        let mut scheduler = Scheduler::new(world, options(participants));
        scheduler
            .add_system(trip_system(cols, TripRule::default()))
            .unwrap();
        group.bench_function(name, |b| b.iter(|| scheduler.run_tick()));
    }
    let mut rows = aos_rows(ROWS);
    let rule = TripRule::default();
    let clock = MonotonicClock::new();
    group.bench_function("peer_aos_loop", |b| {
        b.iter(|| trip_aos(&mut rows, keel_engine::Clock::now_ns(&clock), &rule))
    });
    group.finish();

    let (world, _) = breaker_world(1);
    let mut scheduler = Scheduler::new(world, options(all));
    add_empty_systems(&mut scheduler, 20);
    c.bench_function("scheduler_20_empty_systems", |b| {
        b.iter(|| scheduler.run_tick())
    });
}

criterion_group!(benches, tick);
criterion_main!(benches);
