//! The spill policy never drops silently: without durable logs the topic
//! is refused at creation (naming it), a single-writer spill topic is
//! refused, and when the log fails a full ring's publish is an error,
//! not a loss.

use std::sync::Arc;

use keel_engine::bus::{Bus, BusError, FullPolicy, PublishOutcome, TopicConfig};
use keel_engine::config::BusConfig;
use keel_engine::{EventLog, Scalable};
use keel_storage::{LogOptions, SimDisk};
use keel_tests::bus_support::bus_on_sim;

fn spill_topic() -> TopicConfig {
    TopicConfig {
        partitions: Some(1),
        ring_size: Some(64),
        full_policy: FullPolicy::Spill,
        critical: true,
        ..TopicConfig::default()
    }
}

#[test]
fn spill_without_durable_logs_is_refused_at_creation_naming_the_topic() {
    let bus = Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64)));
    let err = bus.create_topic("payments", spill_topic()).unwrap_err();
    assert_eq!(err, BusError::SpillUnavailable("payments".into()));
    assert!(err.to_string().contains("`payments`"), "{err}");
    assert!(bus.topics().is_empty());
}

#[test]
fn a_single_writer_spill_topic_is_refused() {
    let bus = bus_on_sim(&SimDisk::new(), LogOptions::default().segment_bytes);
    let config = TopicConfig {
        single_writer: true,
        ..spill_topic()
    };
    assert_eq!(
        bus.create_topic("solo", config),
        Err(BusError::SpillNeedsMultiWriter("solo".into()))
    );
}

#[test]
fn a_bad_topic_name_for_the_log_is_a_typed_error() {
    let bus = bus_on_sim(&SimDisk::new(), LogOptions::default().segment_bytes);
    match bus.create_topic("../etc", spill_topic()) {
        Err(BusError::DurableLog { topic, source }) => {
            assert_eq!(topic, "../etc");
            assert_eq!(source.op, "open");
        }
        other => panic!("expected a durable log error, got {other:?}"),
    }
}

fn bus_on(disk: &SimDisk) -> Bus {
    let bus = bus_on_sim(disk, LogOptions::default().segment_bytes);
    bus.create_topic("ledger", spill_topic()).unwrap();
    bus
}

#[test]
fn a_failing_log_makes_the_overflowing_publish_an_error_not_a_loss() {
    let disk = SimDisk::new();
    let bus = bus_on(&disk);
    let mut sub = bus.subscribe("ledger", "default").unwrap();
    let mut p = bus.publisher("ledger").unwrap();
    for i in 0..64u64 {
        assert_eq!(p.publish_word(None, i).unwrap(), PublishOutcome::Accepted);
    }
    assert_eq!(p.publish_word(None, 64).unwrap(), PublishOutcome::Spilled);
    disk.fail_after(0);
    match p.publish_word(None, 65) {
        Err(BusError::DurableLog { topic, source }) => {
            assert_eq!(topic, "ledger");
            assert!(source.to_string().contains("failed"), "{source}");
        }
        other => panic!("expected a durable log error, got {other:?}"),
    }
    // The refused message is not counted.
    let t = [("topic", "ledger")];
    assert_eq!(bus.metrics().get("published_total", &t), Some(65.0));
    assert_eq!(bus.metrics().get("spilled_total", &t), Some(1.0));
    let mut got = Vec::new();
    while sub.poll(|m| got.push(m.word)) > 0 {}
    assert_eq!(got, (0..64).collect::<Vec<u64>>());
    drop((sub, p, bus));
    // Reopened on a healed disk, the accepted spilled message is there and
    // the refused one is not.
    disk.heal();
    let bus = bus_on(&disk);
    let mut sub = bus.subscribe("ledger", "default").unwrap();
    bus.update_backpressure(1);
    let mut again = Vec::new();
    while sub.poll(|m| again.push(m.word)) > 0 {}
    assert_eq!(again, vec![64]);
}
