//! Several groups each see every message exactly once; within a group the
//! partitions are split over its members, and a member leaving hands its
//! partitions over without loss or duplication.

use std::sync::Arc;

use keel_engine::bus::{Bus, TopicConfig};
use keel_engine::config::BusConfig;
use keel_engine::EventLog;

#[test]
fn two_groups_and_a_rebalance_deliver_everything_once() {
    let bus = Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64)));
    let config = TopicConfig {
        partitions: Some(4),
        groups: vec!["audit".into(), "work".into()],
        ..TopicConfig::default()
    };
    bus.create_topic("jobs", config).unwrap();
    let mut audit = bus.subscribe("jobs", "audit").unwrap();
    let mut w1 = bus.subscribe("jobs", "work").unwrap();
    let mut w2 = bus.subscribe("jobs", "work").unwrap();
    assert_eq!(w1.partitions().len() + w2.partitions().len(), 4);
    assert!(w1.partitions().iter().all(|p| !w2.partitions().contains(p)));

    let mut publisher = bus.publisher("jobs").unwrap();
    for i in 0..1_000u64 {
        assert!(publisher
            .publish_word(Some(&i.to_le_bytes()), i)
            .unwrap()
            .accepted());
    }
    let mut audit_seen = Vec::new();
    while audit.poll(|m| audit_seen.push(m.word)) > 0 {}
    let mut work_seen = Vec::new();
    // w1 reads some, then leaves; w2 inherits its partitions.
    w1.poll(|m| work_seen.push(m.word));
    drop(w1);
    for i in 1_000..2_000u64 {
        publisher.publish_word(Some(&i.to_le_bytes()), i).unwrap();
    }
    while audit.poll(|m| audit_seen.push(m.word)) > 0 {}
    assert_eq!(w2.partitions().len(), 4);
    while w2.poll(|m| work_seen.push(m.word)) > 0 {}
    audit_seen.sort_unstable();
    work_seen.sort_unstable();
    let all: Vec<u64> = (0..2_000).collect();
    assert_eq!(audit_seen, all);
    assert_eq!(work_seen, all);
}
