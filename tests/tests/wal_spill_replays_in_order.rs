//! The `DurableLog` seam the bus will spill through: spilled messages
//! replay in order from any point, survive a reopen, and resume where a
//! drain stopped.

use std::sync::Arc;

use keel_storage::{DurableLog, LogOptions, PartitionLog, SimDisk};

#[test]
fn spilled_messages_replay_in_order_across_reopen() {
    let disk = SimDisk::new();
    let options = LogOptions {
        segment_bytes: 4_096,
        ..LogOptions::default()
    };
    let (log, _) = PartitionLog::open(Arc::new(disk.clone()), "/spill", options).unwrap();
    let spill: &dyn DurableLog = &log;
    for i in 0..300u32 {
        let r = spill.spill(&i.to_le_bytes()).unwrap();
        assert_eq!(r.sequence, u64::from(i));
    }
    // Drain the first 120 in small batches.
    let mut got = Vec::new();
    let mut at = spill.start();
    while at < 120 {
        at = spill
            .replay(at, 7.min((120 - at) as usize), &mut |seq, p| {
                got.push((seq, u32::from_le_bytes(p.try_into().unwrap())));
            })
            .unwrap();
    }
    assert_eq!(at, 120);
    drop(log);
    disk.power_cut();
    let (log, _) = PartitionLog::open(Arc::new(disk.clone()), "/spill", options).unwrap();
    let spill: &dyn DurableLog = &log;
    assert_eq!(spill.end(), 300);
    while at < spill.end() {
        at = spill
            .replay(at, 50, &mut |seq, p| {
                got.push((seq, u32::from_le_bytes(p.try_into().unwrap())))
            })
            .unwrap();
    }
    let expect: Vec<(u64, u32)> = (0..300u32).map(|i| (u64::from(i), i)).collect();
    assert_eq!(got, expect);
    spill.flush().unwrap();
}
