//! Scenario `bus`: Keel's bus against the raw disruptor, crossbeam-channel
//! and std mpsc, one producer and one consumer, u64 payloads; plus Keel's
//! latency at 1,000,000 msgs/s offered.

use std::time::Duration;

use keel_benches::bus::{
    crossbeam, disruptor_latency, host_paused_alone_pct, keel, keel_latency, pooled_quantile,
    quantile_per_window, rate, raw_disruptor, std_mpsc,
};

use super::measure::{interleaved_medians, median};
use super::{report, BenchError, BenchOptions, Comparison, Progress, Scenario, ScenarioResult};

pub fn scenario() -> Scenario {
    Scenario {
        name: "bus",
        about:
            "1 producer -> 1 consumer, u64 payloads: Keel single and batch-64 publish (in place) \
                vs the raw disruptor (single, batch-64), crossbeam-channel bounded(65536), std \
                sync_channel(65536); Keel publish-to-handler latency p50/p99 at 1,000,000 msgs/s \
                offered, and the raw disruptor's under the same pacing (the machine's floor), \
                sender and consumer pinned to cores of their own, in alternating windows (median \
                of the windows' quantiles; p99 of all pooled beside), with a probe of how long \
                the host stops one of two spinning threads while the other runs",
        steps: 2,
        run,
    }
}

fn run(opts: &BenchOptions, progress: &mut Progress) -> Result<ScenarioResult, BenchError> {
    // Quick: five rounds, so one noisy minute cannot set a median. The
    // latencies are measured in as many windows, Keel's and the raw
    // crate's alternating, so both see the same minutes; each quantile is
    // the median of its windows' (one window the hypervisor stalls for a
    // few milliseconds holds over 1% of its messages late, and would set
    // a single long window's p99), and the p99 of all windows pooled is
    // reported beside it.
    let (rounds, n, window) = if opts.quick {
        (5, 2_000_000, Duration::from_millis(200))
    } else {
        (7, 10_000_000, Duration::from_millis(300))
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
    progress.step(
        "keel and raw disruptor latency at 1M msgs/s offered, alternating windows, with the \
         host's pauses",
    );
    // Each round: a window of Keel's, one of the raw crate's, then the
    // pause probe's (spinning beside a latency test, it would take a core
    // from it), so all three see the same minutes. Their results are of
    // different types, so this is a loop of its own rather than
    // `interleaved_medians`.
    let (mut keel_windows, mut disruptor_windows, mut paused) =
        (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        keel_windows.push(keel_latency(1_000_000, window));
        disruptor_windows.push(disruptor_latency(1_000_000, window));
        paused.push(host_paused_alone_pct(window, Duration::from_micros(2)));
    }
    let per_window = |windows: &[_], q| median(&mut quantile_per_window(windows, q));
    Ok(ScenarioResult {
        name: "bus",
        metrics: vec![
            ("keel_single_msgs_per_s", keel_single),
            ("keel_batch_msgs_per_s", keel_batch),
            ("disruptor_single_msgs_per_s", disruptor_single),
            ("disruptor_batch_msgs_per_s", disruptor_batch),
            ("crossbeam_msgs_per_s", crossbeam),
            ("std_mpsc_msgs_per_s", std),
            ("keel_p50_latency_ns_at_1m", per_window(&keel_windows, 0.50)),
            ("keel_p99_latency_ns_at_1m", per_window(&keel_windows, 0.99)),
            (
                "disruptor_p50_latency_ns_at_1m",
                per_window(&disruptor_windows, 0.50),
            ),
            (
                "disruptor_p99_latency_ns_at_1m",
                per_window(&disruptor_windows, 0.99),
            ),
            (
                "keel_p99_latency_ns_at_1m_pooled",
                pooled_quantile(&keel_windows, 0.99),
            ),
            (
                "disruptor_p99_latency_ns_at_1m_pooled",
                pooled_quantile(&disruptor_windows, 0.99),
            ),
            (report::HOST_PAUSED_ALONE_PCT, median(&mut paused)),
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
            Comparison {
                what: "latency p99 (pooled) at 1M vs raw disruptor",
                keel: "keel_p99_latency_ns_at_1m_pooled",
                peer: Some("disruptor_p99_latency_ns_at_1m_pooled"),
                unit: "ns",
                lower_is_better: true,
            },
        ],
    })
}
