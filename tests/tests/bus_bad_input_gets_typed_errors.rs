//! Bad bus input gets a typed error naming what was wrong, and nothing
//! already accepted is lost.

use std::sync::Arc;

use keel_engine::bus::{Bus, BusError, FullPolicy, TopicConfig};
use keel_engine::config::BusConfig;
use keel_engine::EventLog;

fn bus(config: BusConfig) -> Bus {
    Bus::new(&config, Arc::new(EventLog::new(64)))
}

#[test]
fn each_bad_argument_is_refused_by_name() {
    let bus = bus(BusConfig {
        max_topics: 2,
        max_subscribers_per_topic: 1,
        max_payload_bytes: 8,
        ..BusConfig::default()
    });
    let t = |f: fn(&mut TopicConfig)| {
        let mut c = TopicConfig::default();
        f(&mut c);
        c
    };
    assert_eq!(
        bus.create_topic("z", t(|c| c.partitions = Some(0))),
        Err(BusError::ZeroPartitions("z".into()))
    );
    assert!(matches!(
        bus.create_topic("r", t(|c| c.ring_size = Some(1000))),
        Err(BusError::BadRingSize { size: 1000, .. })
    ));
    assert!(matches!(
        bus.create_topic("s", t(|c| c.full_policy = FullPolicy::Spill)),
        Err(BusError::SpillUnavailable(_))
    ));
    assert!(matches!(
        bus.create_topic("g", t(|c| c.groups.clear())),
        Err(BusError::NoGroups(_))
    ));
    bus.create_topic("a", TopicConfig::default()).unwrap();
    assert_eq!(
        bus.create_topic("a", TopicConfig::default()),
        Err(BusError::TopicExists("a".into()))
    );
    bus.create_topic("b", TopicConfig::default()).unwrap();
    assert!(matches!(
        bus.create_topic("c", TopicConfig::default()),
        Err(BusError::TooManyTopics { max: 2, .. })
    ));
    assert!(matches!(
        bus.publisher("nope"),
        Err(BusError::UnknownTopic(_))
    ));
    assert!(matches!(
        bus.subscribe("a", "nope"),
        Err(BusError::UnknownGroup { .. })
    ));

    assert_eq!(
        bus.resize_topic("a", 0, 64),
        Err(BusError::ZeroPartitions("a".into()))
    );
    assert!(matches!(
        bus.resize_topic("a", 2, 100),
        Err(BusError::BadRingSize { size: 100, .. })
    ));
    assert!(matches!(
        bus.resize_topic("nope", 2, 64),
        Err(BusError::UnknownTopic(_))
    ));
    let mut sub = bus.subscribe("a", "default").unwrap();
    assert!(matches!(
        bus.subscribe("a", "default"),
        Err(BusError::TooManySubscribers { max: 1, .. })
    ));
    let mut p = bus.publisher("a").unwrap();
    p.publish(None, b"12345678").unwrap();
    assert_eq!(
        p.publish(None, b"123456789"),
        Err(BusError::PayloadTooLarge { len: 9, max: 8 })
    );
    let mut got = Vec::new();
    sub.poll(|m| got.push(m.bytes.to_vec()));
    assert_eq!(
        got,
        vec![b"12345678".to_vec()],
        "the accepted message survived the refused one"
    );
}
