//! A topic created while the bus is already under pressure reports it from
//! its first publish: the bus-wide state reaches new topics without waiting
//! for the next backpressure tick.

use std::sync::Arc;

use keel_engine::bus::{Bus, PublishOutcome, TopicConfig};
use keel_engine::config::BusConfig;
use keel_engine::{BackpressureState as S, EventLog};

#[test]
fn a_topic_made_while_the_bus_is_in_warning_flags_its_first_publishes() {
    let bus = Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64)));
    let small = TopicConfig {
        partitions: Some(1),
        ring_size: Some(128),
        ..TopicConfig::default()
    };
    bus.create_topic("full", small.clone()).unwrap();
    let mut sub = bus.subscribe("full", "default").unwrap();
    let mut p = bus.publisher("full").unwrap();
    for i in 0..100 {
        p.publish_word(None, i).unwrap();
    }
    bus.update_backpressure(1);
    assert_eq!(bus.state(), S::Warning);

    bus.create_topic("late", small).unwrap();
    let mut late = bus.publisher("late").unwrap();
    assert_eq!(
        late.publish_word(None, 1).unwrap(),
        PublishOutcome::AcceptedWithBackpressure
    );
    assert_eq!(
        late.publish_words(None, &[2, 3]).unwrap(),
        PublishOutcome::AcceptedWithBackpressure
    );

    while sub.poll(|_| {}) > 0 {}
    bus.update_backpressure(2);
    assert_eq!(bus.state(), S::Normal);
    assert_eq!(
        late.publish_word(None, 4).unwrap(),
        PublishOutcome::Accepted
    );
}
