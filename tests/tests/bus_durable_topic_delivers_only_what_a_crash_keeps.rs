//! A durable topic's subscribers see a message only once a crash can no
//! longer take it back; otherwise a crash would hand its offset to another
//! message, and a consumer that saw the first (deduplicating by offset,
//! say) would skip the second. Under policy "always" that is once the
//! message is synced; under the others, once the log has handed it to the
//! OS, so a process that dies keeps what it delivered.

use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use keel_engine::bus::{Bus, PublishOutcome, TopicConfig};
use keel_engine::config::FsyncPolicy;
use keel_storage::{BackendFile, LogOptions, SimDisk};
use keel_tests::bus_support::{bus_over, drain};
use keel_tests::wal_support::{WrapHandle, WrappedDisk};

fn options(fsync: FsyncPolicy) -> LogOptions {
    LogOptions {
        segment_bytes: 64 << 10,
        fsync,
        ..LogOptions::default()
    }
}

fn durable_topic(bus: &Bus) {
    let config = TopicConfig {
        partitions: Some(1),
        durable: true,
        groups: vec!["g".into()],
        ..TopicConfig::default()
    };
    bus.create_topic("t", config).unwrap();
}

/// (offset, word) of everything `bus`'s topic delivers to group `g` now.
fn drain_offsets(bus: &Bus) -> Vec<(u64, u64)> {
    let mut sub = bus.subscribe("t", "g").unwrap();
    let got = drain(bus, &mut sub, &mut 0);
    got.into_iter()
        .map(|(_, offset, word)| (offset, word))
        .collect()
}

#[test]
fn a_message_delivered_under_policy_never_outlives_the_process() {
    let disk = SimDisk::new();
    let bus = bus_over(Arc::new(disk.clone()), "/wal", options(FsyncPolicy::Never));
    durable_topic(&bus);
    let mut sub = bus.subscribe("t", "g").unwrap();
    let mut publisher = bus.publisher("t").unwrap();
    assert_eq!(
        publisher.publish_word(None, 42).unwrap(),
        PublishOutcome::Accepted
    );
    let mut seen = Vec::new();
    sub.poll(|m| seen.push((m.offset.unwrap(), m.word)));
    assert_eq!(seen, [(0, 42)]);
    // The process dies: nothing is dropped, flushed or synced.
    std::mem::forget(sub);
    std::mem::forget(publisher);
    std::mem::forget(bus);

    let bus = bus_over(Arc::new(disk), "/wal", options(FsyncPolicy::Never));
    durable_topic(&bus);
    assert_eq!(
        drain_offsets(&bus),
        [(0, 42)],
        "offset 0 as the subscriber saw it before the process died"
    );
}

/// Blocks syncs while closed, and says when one is waiting.
#[derive(Debug, Default)]
struct Gate {
    /// (closed, syncs waiting)
    state: Mutex<(bool, u32)>,
    changed: Condvar,
}

impl Gate {
    fn set_closed(&self, closed: bool) {
        self.state.lock().unwrap().0 = closed;
        self.changed.notify_all();
    }

    /// Waits (bounded) until a sync waits at the gate.
    fn await_sync(&self) {
        let state = self.state.lock().unwrap();
        let (state, timeout) = self
            .changed
            .wait_timeout_while(state, Duration::from_secs(20), |s| s.1 == 0)
            .unwrap();
        assert!(
            !timeout.timed_out() && state.1 > 0,
            "no sync reached the gate"
        );
    }
}

#[derive(Debug)]
struct GatedFile {
    inner: Arc<dyn BackendFile>,
    gate: Arc<Gate>,
}

impl BackendFile for GatedFile {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write_at(buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut state = self.gate.state.lock().unwrap();
        state.1 += 1;
        self.gate.changed.notify_all();
        let mut state = self.gate.changed.wait_while(state, |s| s.0).unwrap();
        state.1 -= 1;
        drop(state);
        self.inner.sync_data()
    }
}

#[derive(Debug, Default, Clone)]
struct Gated(Arc<Gate>);

impl WrapHandle for Gated {
    fn wrap(&self, inner: Arc<dyn BackendFile>) -> Arc<dyn BackendFile> {
        Arc::new(GatedFile {
            inner,
            gate: self.0.clone(),
        })
    }
}

#[test]
fn under_policy_always_a_message_is_delivered_only_once_synced() {
    let gated = Gated::default();
    let gate = gated.0.clone();
    let disk = WrappedDisk {
        disk: SimDisk::new(),
        wrap: gated,
    };
    let bus = Arc::new(bus_over(
        Arc::new(disk),
        "/wal",
        options(FsyncPolicy::Always),
    ));
    durable_topic(&bus);
    let mut sub = bus.subscribe("t", "g").unwrap();
    gate.set_closed(true);
    let publishing = {
        let bus = bus.clone();
        std::thread::spawn(move || bus.publisher("t").unwrap().publish_word(None, 7))
    };
    // The message is appended and its sync has begun, not ended.
    gate.await_sync();
    let mut seen = Vec::new();
    bus.update_backpressure(1);
    sub.poll(|m| seen.push((m.offset.unwrap(), m.word)));
    assert_eq!(seen, [], "delivered before its sync returned");

    gate.set_closed(false);
    assert_eq!(
        publishing.join().unwrap().unwrap(),
        PublishOutcome::Accepted
    );
    sub.poll_wait(Duration::from_secs(5), |m| {
        seen.push((m.offset.unwrap(), m.word))
    });
    assert_eq!(seen, [(0, 7)]);
}
