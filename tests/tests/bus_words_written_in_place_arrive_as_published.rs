//! `Publisher::publish_words_with` writes a batch straight into the ring:
//! each batch lands whole in one partition (round-robin, or the key's), in
//! index order, and a batch that cannot fit the ring is refused by name
//! with nothing delivered.

use std::sync::Arc;

use keel_engine::bus::{stable_hash, Bus, BusError, PublishOutcome, Subscriber, TopicConfig};
use keel_engine::config::BusConfig;
use keel_engine::EventLog;

/// (partition, sequence, key hash, word) of everything ready.
fn drain(sub: &mut Subscriber) -> Vec<(u32, i64, u64, u64)> {
    let mut seen = Vec::new();
    while sub.poll(|m| seen.push((m.partition, m.sequence, m.key_hash, m.word))) > 0 {}
    seen.sort_unstable();
    seen
}

#[test]
fn batches_written_in_place_keep_their_order_and_route_whole() {
    let bus = Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64)));
    let config = TopicConfig {
        partitions: Some(2),
        ring_size: Some(64),
        groups: vec!["g".into()],
        ..TopicConfig::default()
    };
    bus.create_topic("t", config).unwrap();
    let mut sub = bus.subscribe("t", "g").unwrap();
    let mut p = bus.publisher("t").unwrap();

    // Unkeyed: the first batch to partition 0, the next to partition 1.
    for base in [100u64, 200] {
        let outcome = p.publish_words_with(None, 5, |i| base + i as u64).unwrap();
        assert_eq!(outcome, PublishOutcome::Accepted);
    }
    let want: Vec<_> = (0..2u32)
        .flat_map(|part| (0..5i64).map(move |i| (part, i, 0, 100 * (part as u64 + 1) + i as u64)))
        .collect();
    assert_eq!(drain(&mut sub), want);

    // Keyed: the whole batch goes to the key's partition.
    let hash = stable_hash(b"k");
    let part = (hash % 2) as u32;
    p.publish_words_with(Some(b"k"), 3, |i| 7 * i as u64)
        .unwrap();
    let want: Vec<_> = (0..3i64)
        .map(|i| (part, 5 + i, hash, 7 * i as u64))
        .collect();
    assert_eq!(drain(&mut sub), want);

    // Nothing to publish is accepted and delivers nothing.
    assert_eq!(
        p.publish_words_with(None, 0, |_| unreachable!("no word is asked for")),
        Ok(PublishOutcome::Accepted)
    );
    assert_eq!(drain(&mut sub), []);

    // A batch larger than the ring is refused as a whole.
    match p.publish_words_with(None, 65, |i| i as u64) {
        Err(BusError::PayloadTooLarge { len: 65, max: 64 }) => {}
        other => panic!("a 65-word batch into a 64-slot ring gave {other:?}"),
    }
    assert_eq!(drain(&mut sub), []);
}
