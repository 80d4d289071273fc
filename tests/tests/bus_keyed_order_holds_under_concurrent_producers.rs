//! Property: with several producer threads publishing keyed messages
//! (single and batched), every message arrives exactly once and each key's
//! messages arrive in the order their producer sent them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use keel_engine::bus::{Bus, TopicConfig};
use keel_engine::config::BusConfig;
use keel_engine::EventLog;
use proptest::prelude::*;

/// word = producer << 48 | key << 32 | counter
fn word(producer: u64, key: u64, counter: u64) -> u64 {
    producer << 48 | key << 32 | counter
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn per_key_order_and_exactly_once(
        producers in 1usize..4,
        keys in 1u64..6,
        per_producer in 1u64..3_000,
        partitions in 1usize..5,
        batch in 1usize..20,
    ) {
        let bus = Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64)));
        let config = TopicConfig { partitions: Some(partitions), ring_size: Some(256), ..TopicConfig::default() };
        bus.create_topic("t", config).unwrap();
        let mut sub = bus.subscribe("t", "default").unwrap();
        let handles: Vec<_> = (0..producers as u64)
            .map(|p| {
                let mut publisher = bus.publisher("t").unwrap();
                std::thread::spawn(move || {
                    let mut counters = vec![0u64; keys as usize];
                    let mut sent = 0;
                    while sent < per_producer {
                        let key = (sent * 7 + p) % keys;
                        let n = (batch as u64).min(per_producer - sent) as usize;
                        let words: Vec<u64> = (0..n)
                            .map(|_| {
                                counters[key as usize] += 1;
                                word(p, key, counters[key as usize])
                            })
                            .collect();
                        let k = key.to_le_bytes();
                        assert!(publisher.publish_words(Some(&k), &words).unwrap().accepted());
                        sent += n as u64;
                    }
                })
            })
            .collect();
        let total = producers as u64 * per_producer;
        let mut last: HashMap<(u64, u64), u64> = HashMap::new();
        let mut received = 0u64;
        let mut partition_of_key: HashMap<u64, u32> = HashMap::new();
        while received < total {
            sub.poll_wait(Duration::from_secs(5), |m| {
                let (p, key, counter) = (m.word >> 48, (m.word >> 32) & 0xFFFF, m.word & 0xFFFF_FFFF);
                let prev = last.insert((p, key), counter).unwrap_or(0);
                assert_eq!(counter, prev + 1, "producer {p} key {key}: gap, duplicate or reorder");
                let part = *partition_of_key.entry(key).or_insert(m.partition);
                assert_eq!(part, m.partition, "a key stays on one partition");
                received += 1;
            });
        }
        for h in handles {
            h.join().unwrap();
        }
        prop_assert_eq!(received, total);
        prop_assert_eq!(sub.poll(|_| {}), 0, "nothing extra");
    }
}
