//! Criterion: the bus in 1P1C, 1P3C and 3P1C topologies (single and batch
//! publish), with the raw disruptor and crossbeam-channel in 1P1C as peers
//! in the same run.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keel_benches::bus::{crossbeam, keel, raw_disruptor};

const PER_PRODUCER: u64 = 200_000;

fn topologies(c: &mut Criterion) {
    for (name, producers, groups) in [("1p1c", 1, 1), ("1p3c", 1, 3), ("3p1c", 3, 1)] {
        let mut group = c.benchmark_group(format!("bus_{name}"));
        group.throughput(Throughput::Elements(PER_PRODUCER * producers as u64));
        group.sample_size(10);
        for (variant, batch) in [("keel_single", false), ("keel_batch64", true)] {
            group.bench_function(variant, |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| keel(producers, groups, PER_PRODUCER, batch))
                        .sum::<Duration>()
                })
            });
        }
        if producers == 1 && groups == 1 {
            group.bench_function("disruptor_single", |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| raw_disruptor(PER_PRODUCER, false))
                        .sum::<Duration>()
                })
            });
            group.bench_function("disruptor_batch64", |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| raw_disruptor(PER_PRODUCER, true))
                        .sum::<Duration>()
                })
            });
            group.bench_function("crossbeam_bounded", |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| crossbeam(PER_PRODUCER))
                        .sum::<Duration>()
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, topologies);
criterion_main!(benches);
