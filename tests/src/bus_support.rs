//! Buses with durable logs attached, for the spill and durable topic tests.

use std::path::PathBuf;
use std::sync::Arc;

use keel_engine::bus::Bus;
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
