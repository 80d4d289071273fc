//! A child process publishes to a durable topic from 2 threads under
//! policy "always" while consuming and committing, and is SIGKILLed at a
//! random point, 20 times over the same logs. After each kill the topic,
//! created again over the logs, delivers exactly from the group's last
//! commit: every acknowledged message was either handled by the child or
//! is delivered now, each partition's positions have no gap, and nothing
//! is delivered twice or out of a producer's order.

use std::collections::{BTreeMap, HashSet};
use std::process::Command;
use std::time::Duration;

use keel_tests::bus_support::drain;
use keel_tests::crash_support::{crash_bus, env_tmp, run_until_killed, CRASH_TOPIC};
use keel_tests::wal_support::XorShift;

const KILLS: u32 = 20;
const THREADS: u64 = 2;

/// What one child said before it died.
#[derive(Default)]
struct Said {
    acked: Vec<u64>,
    /// (partition, offset, word) handled by the child's consumer.
    handled: Vec<(usize, u64, u64)>,
    /// Per partition, the highest position a commit returned with.
    committed: [u64; 2],
}

fn parse(text: &str) -> Said {
    let mut said = Said::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let n = |i: usize| f[i].parse::<u64>().unwrap();
        match f[0] {
            "a" => said.acked.push(n(1) << 32 | n(2)),
            "h" => said.handled.push((n(1) as usize, n(2), n(3))),
            "c" => {
                let p = n(1) as usize;
                said.committed[p] = said.committed[p].max(n(2));
            }
            other => panic!("child said {other:?}"),
        }
    }
    said
}

/// Creates the child's topic over `dir` and reads everything it delivers
/// (partition, offset, word), then commits it all.
fn recover(dir: &std::path::Path) -> Vec<(usize, u64, u64)> {
    let bus = crash_bus(dir);
    let mut sub = bus.subscribe(CRASH_TOPIC, "g").unwrap();
    let got = drain(&bus, &mut sub, &mut 0);
    sub.commit().unwrap();
    got.into_iter()
        .map(|(p, offset, word)| (p as usize, offset, word))
        .collect()
}

#[test]
fn bus_durable_topic_sigkill_loses_no_acknowledged_message() {
    let dir = tempfile::Builder::new()
        .prefix("keel-bus-crash")
        .tempdir_in(env_tmp())
        .unwrap();
    let mut rng = XorShift::from_clock();
    // Per partition: where this run starts (everything below was handled
    // and committed by an earlier check).
    let mut base = [0u64; 2];
    // Each child numbers its publishes from 0 again; a run's checks only
    // see its own messages, since the check before it committed the rest.
    let mut total_acked = 0;
    for run in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bus-crash-child"));
        child.arg(dir.path()).arg(THREADS.to_string());
        let delay = Duration::from_micros(rng.range(1_000, 40_000));
        let text = run_until_killed(child, false, delay);
        let said = parse(&text);
        total_acked += said.acked.len();
        let again = recover(dir.path());

        // Delivered now: from at least the last commit the child saw
        // return, with no gap and nothing twice, to the log's end.
        let mut ends = base;
        for p in 0..2 {
            let offsets: Vec<u64> = again.iter().filter(|m| m.0 == p).map(|m| m.1).collect();
            if let Some(&first) = offsets.first() {
                assert!(
                    first >= said.committed[p],
                    "run {run} p{p}: delivered from {first}, committed {}",
                    said.committed[p]
                );
                for w in offsets.windows(2) {
                    assert_eq!(w[1], w[0] + 1, "run {run} p{p}: gap or repeat");
                }
                ends[p] = offsets.last().unwrap() + 1;
            }
            // What the child handled and what comes now cover this run's
            // positions without a hole.
            let mut seen: Vec<u64> = said
                .handled
                .iter()
                .filter(|m| m.0 == p)
                .map(|m| m.1)
                .chain(offsets.iter().copied())
                .collect();
            seen.sort_unstable();
            seen.dedup();
            if let Some(&last) = seen.last() {
                ends[p] = ends[p].max(last + 1);
            }
            assert_eq!(
                seen,
                (base[p]..ends[p]).collect::<Vec<_>>(),
                "run {run} p{p}: positions missing"
            );
        }
        base = ends;
        // Every acknowledged publish is somewhere, in its producer's order.
        let words: HashSet<u64> = said
            .handled
            .iter()
            .chain(again.iter())
            .map(|m| m.2)
            .collect();
        for w in &said.acked {
            assert!(words.contains(w), "run {run}: acknowledged {w:#x} lost");
        }
        let mut last: BTreeMap<u64, u64> = BTreeMap::new();
        for &(_, _, w) in &again {
            let (t, i) = (w >> 32, w & 0xffff_ffff);
            if let Some(&prev) = last.get(&t) {
                assert!(
                    i > prev,
                    "run {run}: thread {t} out of order ({prev} then {i})"
                );
            }
            last.insert(t, i);
        }
    }
    eprintln!("{total_acked} publishes acknowledged over {KILLS} runs");
    assert!(
        total_acked > 100,
        "only {total_acked} publishes acknowledged over {KILLS} runs"
    );
}
