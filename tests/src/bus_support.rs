//! Buses with durable logs attached, for the spill and durable topic tests.

use std::path::PathBuf;
use std::sync::Arc;

use keel_engine::bus::{Bus, Subscriber};
use keel_engine::config::BusConfig;
use keel_engine::EventLog;
use keel_storage::{Backend, LogOptions, SimDisk, WalDurableLogs};

/// A default bus whose durable logs live under `root` on `backend`.
pub fn bus_over(backend: Arc<dyn Backend>, root: impl Into<PathBuf>, options: LogOptions) -> Bus {
    let logs = Arc::new(WalDurableLogs::new(backend, root, options));
    Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64))).with_durable_logs(logs)
}

/// A default bus with its durable logs under `/wal` on `disk`, in
/// segments of `segment_bytes` (other log options default).
pub fn bus_on_sim(disk: &SimDisk, segment_bytes: u64) -> Bus {
    let options = LogOptions {
        segment_bytes,
        ..LogOptions::default()
    };
    bus_over(Arc::new(disk.clone()), "/wal", options)
}

/// (partition, offset, word) of a message delivered on a durable topic.
pub type Got = (u32, u64, u64);

/// Ticks `bus` and reads every subscriber in `subs` (each group must read
/// for a ring to free room, skipped replays included) until nothing comes
/// for a few ticks; what each got, in delivery order.
pub fn drain_all(bus: &Bus, subs: &mut [&mut Subscriber], tick: &mut u64) -> Vec<Vec<Got>> {
    let mut got = vec![Vec::new(); subs.len()];
    let mut idle = 0;
    while idle < 3 {
        *tick += 1;
        bus.update_backpressure(*tick);
        let mut n = 0;
        for (sub, got) in subs.iter_mut().zip(got.iter_mut()) {
            n += sub.poll(|m| got.push((m.partition, m.offset.expect("durable"), m.word)));
        }
        idle = if n == 0 { idle + 1 } else { 0 };
    }
    got
}

/// [`drain_all`] for one subscriber.
pub fn drain(bus: &Bus, sub: &mut Subscriber, tick: &mut u64) -> Vec<Got> {
    drain_all(bus, &mut [sub], tick).remove(0)
}
