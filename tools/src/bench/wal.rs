//! Scenario `wal`: the partition log against raw `write(2)` + `fdatasync`
//! peers, group commit against a naive sync per record, the recovery scan,
//! and write amplification (Keel's pwrite path against memory-mapped
//! writes). Files go under `$KEEL_BENCH_DIR` or `/var/tmp` (a real disk,
//! not tmpfs) and are removed afterwards.

use std::path::PathBuf;
use std::time::Duration;

use keel_benches::wal::{
    keel_always, keel_amplification, keel_durable_topic, keel_every_n, mmap_amplification,
    naive_always, raw_every_n, recovery_gb_per_s, Scratch,
};
use keel_engine::config::FsyncPolicy;

use super::measure::{interleaved_medians, median};
use super::{BenchError, BenchOptions, Comparison, Progress, Scenario, ScenarioResult};

const EVERY: u64 = 1_000;

pub fn scenario() -> Scenario {
    Scenario {
        name: "wal",
        about: "100-byte records: Keel sync every 1,000 vs raw write(2)+fdatasync every 1,000; \
                Keel \"always\" with 1/4/16 producers (group commit) vs fdatasync per record; \
                recovery scan GB/s; write amplification (pwrite vs mmap); a durable bus topic \
                (publish, log, deliver) at every 1,000 vs raw and at \"always\" with 16 publishers \
                vs naive",
        steps: 5,
        run,
    }
}

fn root() -> PathBuf {
    std::env::var_os("KEEL_BENCH_DIR").map_or_else(|| PathBuf::from("/var/tmp"), PathBuf::from)
}

fn run(opts: &BenchOptions, progress: &mut Progress) -> Result<ScenarioResult, BenchError> {
    let (rounds, records, always_s, recovery_bytes) = if opts.quick {
        (3, 200_000, 0.5, 256u64 << 20)
    } else {
        (7, 1_000_000, 1.0, 1u64 << 30)
    };
    let always = Duration::from_secs_f64(always_s);
    let io = |e: std::io::Error| BenchError::Io {
        path: root().display().to_string(),
        message: e.to_string(),
    };
    let scratch =
        Scratch::new(&root(), &format!("keel-bench-wal-{}", std::process::id())).map_err(io)?;
    let dir = scratch.path();

    progress.step("sync every 1,000: keel vs raw write(2)+fdatasync");
    let [keel_every1000, raw_every1000] = interleaved_medians(
        rounds,
        [&|| keel_every_n(dir, records, EVERY), &|| {
            raw_every_n(dir, records, EVERY)
        }],
    );

    // Interleaved rounds so the peer and Keel see the same disk weather.
    let (mut naive, mut p1, mut p4, mut p16, mut s4, mut s16) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    progress.step("always: naive vs 1, 4, 16 producers, interleaved rounds");
    for _ in 0..rounds {
        naive.push(naive_always(dir, always));
        p1.push(keel_always(dir, 1, always).0);
        let (r, s) = keel_always(dir, 4, always);
        p4.push(r);
        s4.push(s);
        let (r, s) = keel_always(dir, 16, always);
        p16.push(r);
        s16.push(s);
    }
    let naive = median(&mut naive);
    let always_1p = median(&mut p1);
    let (always_4p, per_sync_4p) = (median(&mut p4), median(&mut s4));
    let (always_16p, per_sync_16p) = (median(&mut p16), median(&mut s16));

    progress.step("durable bus topic: every 1,000 vs raw, always 16 publishers vs naive");
    let [topic_every1000, topic_always_16p, naive_topic] = interleaved_medians(
        rounds,
        [
            &|| {
                let every = (FsyncPolicy::EveryN, EVERY);
                keel_durable_topic(dir, every, 1, (records, Duration::from_secs(3_600)))
            },
            &|| keel_durable_topic(dir, (FsyncPolicy::Always, 1), 16, (u64::MAX, always)),
            &|| naive_always(dir, always),
        ],
    );

    progress.step("recovery scan");
    let recovery = recovery_gb_per_s(dir, recovery_bytes, rounds);

    progress.step("write amplification: pwrite vs mmap");
    let amp_records = records.min(200_000);
    let keel_amp = keel_amplification(dir, amp_records, EVERY);
    let mmap_amp = mmap_amplification(dir, amp_records, EVERY, false);
    let mmap_random_amp = mmap_amplification(dir, amp_records, EVERY, true);
    drop(scratch);

    Ok(ScenarioResult {
        name: "wal",
        metrics: vec![
            ("keel_every1000_recs_per_s", keel_every1000),
            ("raw_every1000_recs_per_s", raw_every1000),
            ("keel_always_1p_recs_per_s", always_1p),
            ("keel_always_4p_recs_per_s", always_4p),
            ("keel_always_16p_recs_per_s", always_16p),
            ("keel_always_4p_recs_per_sync", per_sync_4p),
            ("keel_always_16p_recs_per_sync", per_sync_16p),
            ("naive_always_recs_per_s", naive),
            ("keel_durable_topic_every1000_msgs_per_s", topic_every1000),
            ("keel_durable_topic_always_16p_msgs_per_s", topic_always_16p),
            ("naive_always_recs_per_s_topic_round", naive_topic),
            ("recovery_gb_per_s", recovery),
            ("write_amplification", keel_amp.per_record_byte),
            ("write_amplification_vs_payload", keel_amp.per_payload_byte),
            (
                "write_amplification_device",
                keel_amp.device_per_record_byte.unwrap_or(f64::NAN),
            ),
            ("mmap_write_amplification", mmap_amp.per_record_byte),
            (
                "mmap_random_write_amplification",
                mmap_random_amp.per_record_byte,
            ),
        ],
        comparisons: vec![
            Comparison {
                what: "sync every 1,000 vs raw write(2)",
                keel: "keel_every1000_recs_per_s",
                peer: Some("raw_every1000_recs_per_s"),
                unit: "recs/s",
                lower_is_better: false,
            },
            Comparison {
                what: "always, 1 producer vs naive",
                keel: "keel_always_1p_recs_per_s",
                peer: Some("naive_always_recs_per_s"),
                unit: "recs/s",
                lower_is_better: false,
            },
            Comparison {
                what: "always, 4 producers vs naive",
                keel: "keel_always_4p_recs_per_s",
                peer: Some("naive_always_recs_per_s"),
                unit: "recs/s",
                lower_is_better: false,
            },
            Comparison {
                what: "always, 16 producers vs naive",
                keel: "keel_always_16p_recs_per_s",
                peer: Some("naive_always_recs_per_s"),
                unit: "recs/s",
                lower_is_better: false,
            },
            Comparison {
                what: "durable topic every 1,000 vs raw write(2)",
                keel: "keel_durable_topic_every1000_msgs_per_s",
                peer: Some("raw_every1000_recs_per_s"),
                unit: "msgs/s",
                lower_is_better: false,
            },
            Comparison {
                what: "durable topic always, 16 publishers vs naive",
                keel: "keel_durable_topic_always_16p_msgs_per_s",
                peer: Some("naive_always_recs_per_s_topic_round"),
                unit: "msgs/s",
                lower_is_better: false,
            },
            Comparison {
                what: "recovery scan",
                keel: "recovery_gb_per_s",
                peer: None,
                unit: "GB/s",
                lower_is_better: false,
            },
            Comparison {
                what: "write amplification, pwrite vs mmap",
                keel: "write_amplification",
                peer: Some("mmap_write_amplification"),
                unit: "x",
                lower_is_better: true,
            },
            Comparison {
                what: "write amplification, pwrite vs mmap+MADV_RANDOM",
                keel: "write_amplification",
                peer: Some("mmap_random_write_amplification"),
                unit: "x",
                lower_is_better: true,
            },
        ],
    })
}
