//! Scenario `bus`: Keel's bus against the raw disruptor, crossbeam-channel
//! and std mpsc, one producer and one consumer, u64 payloads; plus Keel's
//! latency at 1,000,000 msgs/s offered.

use std::time::Duration;

use keel_benches::bus::{
    crossbeam, disruptor_latency, keel, keel_latency, rate, raw_disruptor, std_mpsc,
};

use super::measure::interleaved_medians;
use super::{BenchError, BenchOptions, Comparison, Progress, Scenario, ScenarioResult};

pub fn scenario() -> Scenario {
    Scenario {
        name: "bus",
        about:
            "1 producer -> 1 consumer, u64 payloads: Keel single and batch-64 publish (in place) \
                vs the raw disruptor (single, batch-64), crossbeam-channel bounded(65536), std \
                sync_channel(65536); Keel publish-to-handler latency p50/p99 at 1,000,000 msgs/s \
                offered, and the raw disruptor's under the same pacing (the machine's floor)",
        steps: 3,
        run,
    }
}

fn run(opts: &BenchOptions, progress: &mut Progress) -> Result<ScenarioResult, BenchError> {
    // Quick: five rounds, so one noisy minute cannot set a median, and a
    // latency window long enough that one descheduled millisecond is not
    // the p99 by itself.
    let (rounds, n, latency_for) = if opts.quick {
        (5, 2_000_000, Duration::from_secs(1))
    } else {
        (7, 10_000_000, Duration::from_secs(2))
    };
    progress.step(
        "throughput: keel single and batch-64, raw disruptor single and batch-64, crossbeam, std; \
         interleaved rounds",
    );
    let [keel_single, keel_batch, disruptor_single, disruptor_batch, crossbeam, std] =
        interleaved_medians(
            rounds,
            [
                &|| rate(n, keel(1, 1, n, false)),
                &|| rate(n, keel(1, 1, n, true)),
                &|| rate(n, raw_disruptor(n, false)),
                &|| rate(n, raw_disruptor(n, true)),
                &|| rate(n, crossbeam(n)),
                &|| rate(n, std_mpsc(n)),
            ],
        );
    progress.step("keel latency at 1M msgs/s offered");
    let h = keel_latency(1_000_000, latency_for);
    progress.step("raw disruptor latency at 1M msgs/s offered");
    let floor = disruptor_latency(1_000_000, latency_for);
    Ok(ScenarioResult {
        name: "bus",
        metrics: vec![
            ("keel_single_msgs_per_s", keel_single),
            ("keel_batch_msgs_per_s", keel_batch),
            ("disruptor_single_msgs_per_s", disruptor_single),
            ("disruptor_batch_msgs_per_s", disruptor_batch),
            ("crossbeam_msgs_per_s", crossbeam),
            ("std_mpsc_msgs_per_s", std),
            (
                "keel_p50_latency_ns_at_1m",
                h.value_at_quantile(0.50) as f64,
            ),
            (
                "keel_p99_latency_ns_at_1m",
                h.value_at_quantile(0.99) as f64,
            ),
            (
                "disruptor_p50_latency_ns_at_1m",
                floor.value_at_quantile(0.50) as f64,
            ),
            (
                "disruptor_p99_latency_ns_at_1m",
                floor.value_at_quantile(0.99) as f64,
            ),
        ],
        comparisons: vec![
            Comparison {
                what: "single publish vs crossbeam",
                keel: "keel_single_msgs_per_s",
                peer: Some("crossbeam_msgs_per_s"),
                unit: "msgs/s",
                lower_is_better: false,
            },
            Comparison {
                what: "single publish vs raw disruptor",
                keel: "keel_single_msgs_per_s",
                peer: Some("disruptor_single_msgs_per_s"),
                unit: "msgs/s",
                lower_is_better: false,
            },
            Comparison {
                what: "batch-64 publish vs raw disruptor",
                keel: "keel_batch_msgs_per_s",
                peer: Some("disruptor_batch_msgs_per_s"),
                unit: "msgs/s",
                lower_is_better: false,
            },
            Comparison {
                what: "batch-64 publish vs crossbeam",
                keel: "keel_batch_msgs_per_s",
                peer: Some("crossbeam_msgs_per_s"),
                unit: "msgs/s",
                lower_is_better: false,
            },
            Comparison {
                what: "single publish vs std mpsc",
                keel: "keel_single_msgs_per_s",
                peer: Some("std_mpsc_msgs_per_s"),
                unit: "msgs/s",
                lower_is_better: false,
            },
            Comparison {
                what: "latency p50 at 1M msgs/s vs raw disruptor",
                keel: "keel_p50_latency_ns_at_1m",
                peer: Some("disruptor_p50_latency_ns_at_1m"),
                unit: "ns",
                lower_is_better: true,
            },
            Comparison {
                what: "latency p99 at 1M msgs/s vs raw disruptor",
                keel: "keel_p99_latency_ns_at_1m",
                peer: Some("disruptor_p99_latency_ns_at_1m"),
                unit: "ns",
                lower_is_better: true,
            },
        ],
    })
}
