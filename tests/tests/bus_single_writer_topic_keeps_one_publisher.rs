//! A single-writer topic admits one publisher at a time (the ring uses the
//! single-producer claim), hands the ring to the next publisher when the
//! first is dropped, and keeps exactly-once, in-order delivery across a
//! live resize.

use std::sync::Arc;
use std::time::Duration;

use keel_engine::bus::{Bus, BusError, TopicConfig};
use keel_engine::config::BusConfig;
use keel_engine::EventLog;

fn topic() -> TopicConfig {
    TopicConfig {
        partitions: Some(2),
        ring_size: Some(256),
        single_writer: true,
        ..TopicConfig::default()
    }
}

#[test]
fn a_second_publisher_is_refused_until_the_first_is_dropped() {
    let bus = Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64)));
    bus.create_topic("s", topic()).unwrap();
    let mut sub = bus.subscribe("s", "default").unwrap();
    let mut first = bus.publisher("s").unwrap();
    assert!(matches!(
        bus.publisher("s"),
        Err(BusError::SingleWriterTaken(_))
    ));
    first.publish_word(None, 1).unwrap();
    drop(first);
    let mut second = bus.publisher("s").unwrap();
    second.publish_word(None, 2).unwrap();
    let mut got = Vec::new();
    while sub.poll(|m| got.push(m.word)) > 0 {}
    got.sort_unstable();
    assert_eq!(got, vec![1, 2]);
}

#[test]
fn the_single_writer_moves_across_resizes_without_loss_or_reorder() {
    let bus = Arc::new(Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64))));
    bus.create_topic("s", topic()).unwrap();
    let mut sub = bus.subscribe("s", "default").unwrap();
    let mut publisher = bus.publisher("s").unwrap();
    const N: u64 = 30_000;
    let producer = std::thread::spawn(move || {
        for i in 0..N {
            while !publisher
                .publish_words(Some(b"k"), &[i])
                .unwrap()
                .accepted()
            {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    });
    let resizer = {
        let bus = Arc::clone(&bus);
        std::thread::spawn(move || {
            for round in 0..20 {
                let (partitions, ring) = if round % 2 == 0 { (3, 64) } else { (2, 256) };
                bus.resize_topic("s", partitions, ring).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let mut expected = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while expected < N {
        assert!(
            std::time::Instant::now() < deadline,
            "stalled at {expected}"
        );
        sub.poll_wait(Duration::from_millis(5), |m| {
            assert_eq!(
                m.word, expected,
                "one key: strict order, no gap, no duplicate"
            );
            expected += 1;
        });
    }
    producer.join().unwrap();
    resizer.join().unwrap();
    assert_eq!(sub.poll(|_| {}), 0);
}
