//! Keel's integration tests live in `tests/`, one file per area and
//! scenario. This library holds helpers they share.

pub mod bus_support;
pub mod cache_support;
pub mod crash_support;
pub mod resilience_support;
pub mod wal_support;

use keel_engine::{Col, TableId, World};

/// A breaker-like table used by scheduler tests: counters, a state byte and
/// a timestamp.
pub struct BreakerTable {
    /// The table.
    pub table: TableId,
    /// Failures in the window.
    pub failures: Col<u32>,
    /// Successes in the window.
    pub successes: Col<u32>,
    /// 0 closed, 1 open.
    pub state: Col<u8>,
    /// When the row last opened, ns.
    pub opened_at_ns: Col<u64>,
}

impl BreakerTable {
    /// Adds the table to `world` with `rows` live rows, failures = row
    /// position.
    pub fn add(world: &mut World, rows: usize) -> BreakerTable {
        let table = world.add_table("breakers", rows.max(1)).unwrap();
        let t = BreakerTable {
            table,
            failures: world.add_column(table, "failures").unwrap(),
            successes: world.add_column(table, "successes").unwrap(),
            state: world.add_column(table, "state").unwrap(),
            opened_at_ns: world.add_column(table, "opened_at_ns").unwrap(),
        };
        let tab = world.table_mut(table).unwrap();
        for i in 0..rows {
            let id = tab.insert().unwrap();
            tab.set(id, t.failures, i as u32).unwrap();
        }
        t
    }
}

/// Threads of this process, from `/proc/self/task`.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Waits up to 5 s for the thread count to reach `expected` (a joined
/// thread may linger in `/proc` for a moment after `join` returns) and
/// returns the last count seen.
pub fn settle_thread_count(expected: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = thread_count();
        if now == expected || std::time::Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
