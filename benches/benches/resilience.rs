//! Criterion: one guarded call with the breaker closed around an
//! operation that returns its argument: Keel through a thread-bound guard
//! and by breaker id, against the failsafe crate's default breaker and a
//! direct call, in one run; plus the tick over 100,000 idle breakers.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keel_benches::resilience::{
    direct, failsafe, failsafe_guarded, keel, keel_execute, keel_guarded, many_breakers,
};

const CALLS: u64 = 10_000;

fn guarded_call(c: &mut Criterion) {
    let (r, id) = keel(16);
    let cb = failsafe();
    let mut group = c.benchmark_group("guarded_call");
    group.throughput(Throughput::Elements(CALLS));
    group.bench_function("direct", |b| b.iter(|| direct(CALLS)));
    group.bench_function("keel_guard", |b| b.iter(|| keel_guarded(&r, id, CALLS)));
    group.bench_function("keel_by_id", |b| b.iter(|| keel_execute(&r, id, CALLS)));
    group.bench_function("failsafe", |b| b.iter(|| failsafe_guarded(&cb, CALLS)));
    group.finish();
}

fn tick(c: &mut Criterion) {
    let breakers = 100_000;
    let (r, _ids) = many_breakers(breakers);
    r.tick();
    let mut group = c.benchmark_group("resilience_tick");
    group.throughput(Throughput::Elements(breakers as u64));
    group.bench_function("idle_100k", |b| b.iter(|| r.tick()));
    group.finish();
}

criterion_group!(benches, guarded_call, tick);
criterion_main!(benches);
