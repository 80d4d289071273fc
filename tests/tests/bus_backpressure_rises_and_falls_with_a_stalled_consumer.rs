//! Backpressure follows ring fill: as a consumer stalls the bus goes
//! Warning (flagged), Critical (delayed), Shedding (non-critical refused,
//! critical accepted); as it drains, back to Normal, with one state-changed
//! event per transition.

use std::sync::Arc;
use std::time::Duration;

use keel_engine::bus::{Bus, PublishOutcome, Refusal, TopicConfig};
use keel_engine::config::BusConfig;
use keel_engine::{BackpressureState as S, Event, EventLog};

#[test]
fn states_rise_and_fall_and_only_non_critical_topics_are_shed() {
    let events = Arc::new(EventLog::new(256));
    let bus = Bus::new(&BusConfig::default(), events.clone());
    let one = |critical| TopicConfig {
        partitions: Some(1),
        ring_size: Some(100_usize.next_power_of_two()),
        critical,
        ..TopicConfig::default()
    };
    bus.create_topic("normal", one(false)).unwrap();
    bus.create_topic("critical", one(true)).unwrap();
    let mut sub = bus.subscribe("normal", "default").unwrap();
    let mut critical_sub = bus.subscribe("critical", "default").unwrap();
    let mut p = bus.publisher("normal").unwrap();
    let mut pc = bus.publisher("critical").unwrap();
    let ring = 128;

    let fill_to =
        |p: &mut keel_engine::bus::Publisher, pc: &mut keel_engine::bus::Publisher, n: usize| {
            for _ in 0..n {
                p.publish_word(None, 1).unwrap();
                pc.publish_word(None, 1).unwrap();
            }
        };
    fill_to(&mut p, &mut pc, ring * 72 / 100);
    bus.update_backpressure(1);
    assert_eq!(bus.state(), S::Warning);
    assert_eq!(
        p.publish_word(None, 1).unwrap(),
        PublishOutcome::AcceptedWithBackpressure
    );
    pc.publish_word(None, 1).unwrap();

    fill_to(&mut p, &mut pc, ring * 15 / 100);
    bus.update_backpressure(2);
    assert_eq!(bus.state(), S::Critical);
    match p.publish_word(None, 1).unwrap() {
        PublishOutcome::Delayed(d) => assert!(
            d >= Duration::from_millis(10) && d <= Duration::from_secs(1),
            "{d:?}"
        ),
        other => panic!("expected a delay, got {other:?}"),
    }
    pc.publish_word(None, 1).unwrap();

    fill_to(&mut p, &mut pc, ring - ring * 88 / 100 - 2);
    bus.update_backpressure(3);
    assert_eq!(bus.state(), S::Shedding);
    assert_eq!(
        p.publish_word(None, 1).unwrap(),
        PublishOutcome::Refused(Refusal::Shedding)
    );
    assert!(
        pc.publish_word(None, 1).unwrap().accepted(),
        "critical topics are never shed"
    );

    let mut flagged = 0;
    while sub.poll(|m| flagged += usize::from(m.backpressure())) > 0 {}
    while critical_sub.poll(|_| {}) > 0 {}
    assert!(
        flagged > 0,
        "messages published under pressure carry the flag"
    );
    bus.update_backpressure(4);
    assert_eq!(bus.state(), S::Normal);
    assert_eq!(p.publish_word(None, 1).unwrap(), PublishOutcome::Accepted);

    let bus_changes: Vec<(S, S)> = events
        .snapshot()
        .into_iter()
        .filter_map(|e| match e {
            Event::BackpressureChanged(c) if c.subsystem == "bus" => Some((c.previous, c.current)),
            _ => None,
        })
        .collect();
    assert_eq!(
        bus_changes,
        vec![
            (S::Normal, S::Warning),
            (S::Warning, S::Critical),
            (S::Critical, S::Shedding),
            (S::Shedding, S::Normal)
        ]
    );
}

#[test]
fn a_full_ring_refuses_or_waits_per_policy_and_loses_nothing() {
    let bus = Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64)));
    let refuse = TopicConfig {
        partitions: Some(1),
        ring_size: Some(64),
        full_policy: keel_engine::bus::FullPolicy::Refuse,
        ..TopicConfig::default()
    };
    bus.create_topic("r", refuse).unwrap();
    let mut sub = bus.subscribe("r", "default").unwrap();
    let mut p = bus.publisher("r").unwrap();
    for i in 0..64 {
        assert!(p.publish_word(None, i).unwrap().accepted());
    }
    assert_eq!(
        p.publish_word(None, 64).unwrap(),
        PublishOutcome::Refused(Refusal::RingFull)
    );
    let mut got = Vec::new();
    while sub.poll(|m| got.push(m.word)) > 0 {}
    assert_eq!(got, (0..64).collect::<Vec<_>>());

    let wait = TopicConfig {
        partitions: Some(1),
        ring_size: Some(64),
        ..TopicConfig::default()
    };
    bus.create_topic("w", wait).unwrap();
    let mut sub = bus.subscribe("w", "default").unwrap();
    let mut p = bus.publisher("w").unwrap();
    let producer = std::thread::spawn(move || {
        for i in 0..1_000 {
            assert!(p.publish_word(None, i).unwrap().accepted());
        }
    });
    let mut got = Vec::new();
    while got.len() < 1_000 {
        sub.poll_wait(Duration::from_secs(5), |m| got.push(m.word));
    }
    producer.join().unwrap();
    assert_eq!(
        got,
        (0..1_000).collect::<Vec<_>>(),
        "the waiting producer lost nothing"
    );
}
