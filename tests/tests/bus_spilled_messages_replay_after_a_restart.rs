//! Spilled messages live in the WAL: a bus dropped with a backlog (its
//! rings' contents are memory and go with it) leaves the backlog on disk,
//! and a new bus over the same directory replays it, in order, exactly
//! from where the old one's replay stopped, even after a power cut.

use keel_engine::bus::{Bus, FullPolicy, PublishOutcome, TopicConfig};
use keel_engine::Scalable;
use keel_storage::SimDisk;
use keel_tests::bus_support::bus_on_sim;

const RING: u64 = 64;

fn bus_on(disk: &SimDisk) -> Bus {
    let bus = bus_on_sim(disk, 8 << 10);
    let config = TopicConfig {
        partitions: Some(1),
        ring_size: Some(RING as usize),
        full_policy: FullPolicy::Spill,
        critical: true,
        ..TopicConfig::default()
    };
    bus.create_topic("orders", config).unwrap();
    bus
}

#[test]
fn a_new_bus_replays_the_spilled_backlog_in_order() {
    let disk = SimDisk::new();
    let bus = bus_on(&disk);
    let mut sub = bus.subscribe("orders", "default").unwrap();
    let mut p = bus.publisher("orders").unwrap();
    for i in 0..1_000u64 {
        let outcome = p.publish_word(None, i).unwrap();
        let expect = if i < RING {
            PublishOutcome::Accepted
        } else {
            PublishOutcome::Spilled
        };
        assert_eq!(outcome, expect, "message {i}");
    }
    // Read one ring's worth; the tick replays the next 64 and commits.
    let mut first = Vec::new();
    while sub.poll(|m| first.push(m.word)) > 0 {}
    bus.update_backpressure(1);
    let t = [("topic", "orders")];
    assert_eq!(bus.metrics().get("replayed_total", &t), Some(RING as f64));
    assert_eq!(first, (0..RING).collect::<Vec<_>>());
    drop((sub, p, bus));
    // Policy "always": every spilled record was durable when accepted.
    disk.power_cut();

    let bus = bus_on(&disk);
    let mut sub = bus.subscribe("orders", "default").unwrap();
    let mut again = Vec::new();
    for tick in 2..100 {
        bus.update_backpressure(tick);
        while sub.poll(|m| again.push(m.word)) > 0 {}
    }
    // 64..128 were in the old bus's ring when it went (memory, lost with
    // it, like any message of a non-durable topic); the rest replays.
    assert_eq!(again, (2 * RING..1_000).collect::<Vec<_>>());
    let m = bus.metrics();
    assert_eq!(m.get("replayed_total", &t), Some((1_000 - 2 * RING) as f64));
    assert_eq!(m.get("spill_backlog_records", &t), Some(0.0));
}
