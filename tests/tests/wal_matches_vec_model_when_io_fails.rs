//! Model-based test: random appends, syncs, reads and clean reopens on a
//! simulated disk that fails every I/O call after the N-th (a failing write
//! lands half). Checked against a `Vec` of payloads: while healthy, reads
//! equal the model; after the first failure the log refuses every write
//! (sticky); after healing and reopening, the log is a prefix of what was
//! appended (plus at most the one append whose error came after its bytes
//! were written) and holds at least everything acknowledged as durable.

use std::sync::Arc;

use keel_engine::config::FsyncPolicy;
use keel_storage::{Durability, LogOptions, PartitionLog, SimDisk, WalError};
use keel_tests::wal_support::read_all;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<u8>),
    Sync,
    Read,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Append),
        1 => Just(Op::Sync),
        1 => Just(Op::Read),
        1 => Just(Op::Reopen),
    ]
}

fn policy() -> impl Strategy<Value = FsyncPolicy> {
    prop_oneof![
        Just(FsyncPolicy::Always),
        Just(FsyncPolicy::EveryN),
        Just(FsyncPolicy::Never)
    ]
}

fn options(fsync: FsyncPolicy) -> LogOptions {
    LogOptions {
        segment_bytes: 4_096,
        fsync,
        fsync_every_records: 3,
        fsync_every_ms: 10,
    }
}

const DIR: &str = "/wal/p0";

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn wal_matches_vec_model_when_io_fails(
        ops in proptest::collection::vec(op(), 1..80),
        fail_after in 0u64..400,
        fsync in policy(),
    ) {
        let disk = SimDisk::new();
        let backend = Arc::new(disk.clone());
        let (log, _) = PartitionLog::open(backend.clone(), DIR, options(fsync)).unwrap();
        let mut log = Some(log);
        disk.fail_after(fail_after);
        let mut model: Vec<Vec<u8>> = Vec::new();
        let mut durable = 0usize;
        let mut failed = false;
        let mut maybe: Option<Vec<u8>> = None;
        for op in ops {
            let Some(l) = log.as_ref() else { break };
            match op {
                Op::Append(p) => match l.append(&p) {
                    Ok(r) => {
                        prop_assert!(!failed, "append accepted after a failed write or sync");
                        prop_assert_eq!(r.sequence, model.len() as u64);
                        model.push(p);
                        if r.durability == Durability::Durable {
                            durable = model.len();
                        }
                    }
                    Err(e) => {
                        if failed || !matches!(e, WalError::Io { .. }) {
                            prop_assert!(matches!(e, WalError::Failed { .. }), "not sticky: {e}");
                        } else {
                            maybe = Some(p);
                        }
                        failed = true;
                    }
                },
                Op::Sync => match l.sync() {
                    Ok(()) => {
                        prop_assert!(!failed, "sync succeeded after a failure");
                        durable = model.len();
                    }
                    Err(_) => failed = true,
                },
                Op::Read if !failed => match l.read(0, usize::MAX) {
                    Ok(_) if disk.ops() >= fail_after => {}
                    Ok(_) => {
                        let all: Vec<Vec<u8>> = read_all(l).into_iter().map(|r| r.payload).collect();
                        prop_assert_eq!(&all, &model);
                    }
                    // A failed read poisons nothing unless its flush failed,
                    // which the next append reports as a sticky failure.
                    Err(_) => {}
                },
                Op::Read => {}
                Op::Reopen if !failed => {
                    log = None;
                    match PartitionLog::open(backend.clone(), DIR, options(fsync)) {
                        Ok((l, _)) => {
                            log = Some(l);
                            durable = model.len();
                        }
                        Err(_) => failed = true,
                    }
                }
                Op::Reopen => {}
            }
        }
        drop(log);
        disk.heal();
        let (log, report) = PartitionLog::open(backend.clone(), DIR, options(fsync)).unwrap();
        let got: Vec<Vec<u8>> = read_all(&log).into_iter().map(|r| r.payload).collect();
        let mut allowed = model.clone();
        allowed.extend(maybe);
        prop_assert!(got.len() >= durable, "lost durable records: {} < {durable} ({report:?})", got.len());
        prop_assert!(got.len() <= allowed.len());
        prop_assert_eq!(&got[..], &allowed[..got.len()]);
        let r = log.append(b"after").unwrap();
        prop_assert_eq!(r.sequence, got.len() as u64);
    }
}
