//! The bus's `DurableLog` over the WAL: spilled records replay in order
//! from any point, stop where the reader says, survive a power cut, and a
//! committed replay position survives a reopen and lets whole segments go.

use std::sync::Arc;

use keel_engine::bus::{DurableLog, DurableLogs, LogStream};
use keel_storage::{LogOptions, SimDisk, WalDurableLog, WalDurableLogs};

fn options() -> LogOptions {
    LogOptions {
        segment_bytes: 4_096,
        ..LogOptions::default()
    }
}

fn decode(p: &[u8]) -> u32 {
    u32::from_le_bytes(p.try_into().unwrap())
}

#[test]
fn spilled_records_replay_in_order_across_a_power_cut() {
    let disk = SimDisk::new();
    let log = WalDurableLog::open(Arc::new(disk.clone()), "/spill", options()).unwrap();
    let spill: &dyn DurableLog = &log;
    for i in 0..300u32 {
        assert_eq!(spill.append(&i.to_le_bytes()).unwrap(), u64::from(i));
    }
    // Drain the first 120 in small batches; the reader refuses every 5th
    // offer once, which must not move the position past it.
    let mut got = Vec::new();
    let mut at = spill.start();
    let mut refused = 0;
    while at < 120 {
        let mut offered = 0;
        at = spill
            .read(at, 7.min((120 - at) as usize), &mut |seq, p| {
                offered += 1;
                if offered == 5 && refused < 10 {
                    refused += 1;
                    return false;
                }
                got.push((seq, decode(p)));
                true
            })
            .unwrap();
    }
    assert_eq!(at, 120);
    assert!(refused > 0);
    drop(log);
    disk.power_cut();
    let log = WalDurableLog::open(Arc::new(disk.clone()), "/spill", options()).unwrap();
    let spill: &dyn DurableLog = &log;
    assert_eq!(spill.end(), 300);
    while at < spill.end() {
        // Across segment boundaries in one call.
        at = spill
            .read(at, 100, &mut |seq, p| {
                got.push((seq, decode(p)));
                true
            })
            .unwrap();
    }
    let expect: Vec<(u64, u32)> = (0..300u32).map(|i| (u64::from(i), i)).collect();
    assert_eq!(got, expect);
    spill.flush().unwrap();
}

#[test]
fn a_committed_position_survives_reopen_and_frees_whole_segments() {
    let disk = SimDisk::new();
    let logs = WalDurableLogs::new(Arc::new(disk.clone()), "/wal", options());
    let spill = logs.open("orders", LogStream::Spill).unwrap();
    assert_eq!(spill.committed("bus.replay"), None);
    for i in 0..600u32 {
        spill.append(&[i as u8; 40]).unwrap();
    }
    spill.commit("bus.replay", 500).unwrap();
    assert!(spill.start() > 0, "segments wholly below 500 are removed");
    assert!(spill.start() <= 500, "nothing at or above 500 is removed");
    drop(spill);
    let spill = logs.open("orders", LogStream::Spill).unwrap();
    assert_eq!(spill.committed("bus.replay"), Some(500));
    assert_eq!(spill.end(), 600);
    assert!(logs.open("../escape", LogStream::Spill).is_err());
    assert!(logs.open("a/b", LogStream::Spill).is_err());
}

#[test]
fn a_commit_makes_the_records_below_it_durable_and_partition_logs_are_counted() {
    let disk = SimDisk::new();
    let never = LogOptions {
        fsync: keel_engine::config::FsyncPolicy::Never,
        ..options()
    };
    let logs = WalDurableLogs::new(Arc::new(disk.clone()), "/wal", never);
    assert_eq!(logs.partitions("orders").unwrap(), 0);
    let p0 = logs.open("orders", LogStream::Partition(0)).unwrap();
    logs.open("orders", LogStream::Partition(1)).unwrap();
    logs.open("orders", LogStream::Spill).unwrap();
    assert_eq!(logs.partitions("orders").unwrap(), 2);
    assert_eq!(logs.partitions("order").unwrap(), 0, "names match exactly");
    for i in 0..3u32 {
        let appended = p0.append_deferred(&i.to_le_bytes()).unwrap();
        assert_eq!((appended.sequence, appended.wait), (u64::from(i), false));
    }
    assert!(p0.commit("g", 4).is_err(), "a position past the end");
    p0.commit("g", 3).unwrap();
    drop(p0);
    // Policy "never" synced nothing itself: the commit did, so the log
    // still holds what the position says was handled.
    disk.power_cut();
    let p0 = logs.open("orders", LogStream::Partition(0)).unwrap();
    assert_eq!(p0.committed("g"), Some(3));
    assert_eq!(p0.end(), 3);
}
