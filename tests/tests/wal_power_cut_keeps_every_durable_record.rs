//! Model-based test: random appends, syncs and power cuts on a simulated
//! disk that drops every write and directory change not yet synced. After
//! each cut the reopened log is a prefix of the model and holds everything
//! acknowledged as durable; appending then continues from there.

use std::sync::Arc;

use keel_engine::config::FsyncPolicy;
use keel_storage::{Durability, LogOptions, PartitionLog, SimDisk};
use keel_tests::wal_support::read_all;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<u8>),
    Sync,
    PowerCut,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Append),
        1 => Just(Op::Sync),
        1 => Just(Op::PowerCut),
    ]
}

fn policy() -> impl Strategy<Value = FsyncPolicy> {
    prop_oneof![
        Just(FsyncPolicy::Always),
        Just(FsyncPolicy::EveryN),
        Just(FsyncPolicy::Never)
    ]
}

const DIR: &str = "/wal/p0";

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn wal_power_cut_keeps_every_durable_record(
        ops in proptest::collection::vec(op(), 1..120),
        fsync in policy(),
    ) {
        let options = LogOptions { segment_bytes: 4_096, fsync, fsync_every_records: 4, fsync_every_ms: 10 };
        let disk = SimDisk::new();
        let backend = Arc::new(disk.clone());
        let (mut log, _) = PartitionLog::open(backend.clone(), DIR, options).unwrap();
        let mut model: Vec<Vec<u8>> = Vec::new();
        let mut durable = 0usize;
        for op in ops {
            match op {
                Op::Append(p) => {
                    let r = log.append(&p).unwrap();
                    prop_assert_eq!(r.sequence, model.len() as u64);
                    model.push(p);
                    if r.durability == Durability::Durable {
                        durable = model.len();
                    }
                }
                Op::Sync => {
                    log.sync().unwrap();
                    durable = model.len();
                }
                Op::PowerCut => {
                    disk.power_cut();
                    drop(log);
                    let (l, report) = PartitionLog::open(backend.clone(), DIR, options).unwrap();
                    log = l;
                    let got: Vec<Vec<u8>> = read_all(&log).into_iter().map(|r| r.payload).collect();
                    prop_assert!(got.len() >= durable, "lost durable records: {} < {durable} ({report:?})", got.len());
                    prop_assert!(got.len() <= model.len());
                    prop_assert_eq!(&got[..], &model[..got.len()]);
                    model.truncate(got.len());
                    durable = model.len();
                }
            }
        }
    }
}
