//! A child process appends under policy "always" from 4 threads and is
//! SIGKILLed at a random point, 60 times over the same log. After each
//! restart every acknowledged record is present exactly once, at the
//! sequence its receipt named, and each thread's records are in order.

use std::collections::{BTreeMap, HashSet};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use keel_storage::{LogOptions, OsBackend, PartitionLog};
use keel_tests::crash_support::{env_tmp, run_until_killed};
use keel_tests::wal_support::{parse_payload, read_all, XorShift};

const KILLS: u32 = 60;
const THREADS: u32 = 4;

#[test]
fn wal_sigkill_loses_no_acknowledged_record() {
    let dir = tempfile::Builder::new()
        .prefix("keel-wal-crash")
        .tempdir_in(env_tmp())
        .unwrap();
    let mut rng = XorShift::from_clock();
    let mut acked: Vec<(u32, u32, u64, u64)> = Vec::new();
    for run in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wal-crash-child"));
        child
            .arg(dir.path())
            .arg(run.to_string())
            .arg(THREADS.to_string());
        // Every fourth run dies at a random point of start-up (open and
        // recovery); the others at a random point after they started
        // acknowledging.
        let delay = Duration::from_micros(rng.range(500, 25_000));
        let text = run_until_killed(child, run % 4 == 0, delay);
        let complete = text.as_str();
        for line in complete.lines() {
            let f: Vec<u64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
            acked.push((f[0] as u32, f[1] as u32, f[2], f[3]));
        }
        check(dir.path(), &acked, run);
    }
    assert!(
        acked.len() > 100,
        "only {} records acknowledged over {KILLS} runs",
        acked.len()
    );
}

fn check(dir: &std::path::Path, acked: &[(u32, u32, u64, u64)], run: u32) {
    let (log, report) = PartitionLog::open(Arc::new(OsBackend), dir, LogOptions::default())
        .unwrap_or_else(|e| panic!("run {run}: reopen failed: {e}"));
    let records = read_all(&log);
    assert_eq!(
        records.len() as u64,
        log.next_sequence(),
        "run {run}: {report:?}"
    );
    let mut seen = HashSet::new();
    let mut next_index: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.sequence, i as u64, "run {run}: sequences not dense");
        let (rn, t, idx) = parse_payload(&r.payload)
            .unwrap_or_else(|| panic!("run {run}: record {} has a damaged payload", r.sequence));
        assert!(
            seen.insert((rn, t, idx)),
            "run {run}: ({rn},{t},{idx}) twice"
        );
        let expect = next_index.entry((rn, t)).or_insert(0);
        assert_eq!(
            idx, *expect,
            "run {run}: thread ({rn},{t}) out of order at seq {}",
            r.sequence
        );
        *expect += 1;
    }
    for &(rn, t, idx, seq) in acked {
        let r = records
            .get(seq as usize)
            .unwrap_or_else(|| panic!("run {run}: acknowledged seq {seq} ({rn},{t},{idx}) lost"));
        assert_eq!(
            parse_payload(&r.payload),
            Some((rn, t, idx)),
            "run {run}: seq {seq} holds another record"
        );
    }
}
