//! A spill topic with a 64-slot ring and stalled consumers: producers
//! publish far more than the rings hold, the overflow goes to the WAL
//! (outcome `Spilled`, counted in the metrics), and once the consumers
//! resume (while the producers go on) every group receives every message
//! exactly once, in per-key order, with matching checksums.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use keel_engine::bus::{Bus, FullPolicy, PublishOutcome, Subscriber, TopicConfig, WaitStrategy};
use keel_engine::Scalable;
use keel_storage::SimDisk;
use keel_tests::bus_support::bus_on_sim;

const PRODUCERS: u32 = 2;
const KEYS: u32 = 4;
const PER_PRODUCER: u32 = 3_000;
const RING: usize = 64;

/// producer, key, sequence within that (producer, key).
fn payload(producer: u32, key: u32, seq: u32) -> [u8; 12] {
    let mut b = [0; 12];
    b[..4].copy_from_slice(&producer.to_le_bytes());
    b[4..8].copy_from_slice(&key.to_le_bytes());
    b[8..].copy_from_slice(&seq.to_le_bytes());
    b
}

fn checksum(bytes: &[u8]) -> u64 {
    // FNV-1a over the payload; summed, so independent of arrival order.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Publishes messages `range` of every (producer, key) from one thread;
/// returns how many were spilled.
fn produce(bus: &Bus, producer: u32, range: std::ops::Range<u32>) -> u64 {
    let mut p = bus.publisher("events").unwrap();
    let mut spilled = 0;
    for seq in range {
        for key in 0..KEYS {
            let k = format!("p{producer}-k{key}");
            match p
                .publish(Some(k.as_bytes()), &payload(producer, key, seq))
                .unwrap()
            {
                PublishOutcome::Spilled => spilled += 1,
                o => assert!(o.accepted(), "critical spill topic refused: {o:?}"),
            }
        }
    }
    spilled
}

/// Reads until `expect` messages arrived (or a generous deadline).
fn consume(mut sub: Subscriber, expect: usize) -> Vec<(u32, Vec<u8>)> {
    sub.set_wait_strategy(WaitStrategy::Park);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut got = Vec::with_capacity(expect);
    while got.len() < expect && Instant::now() < deadline {
        sub.poll_wait(Duration::from_millis(50), |m| {
            got.push((m.partition, m.bytes.to_vec()))
        });
    }
    got
}

#[test]
fn a_stalled_consumer_makes_the_topic_spill_and_replay_everything_in_order() {
    let disk = SimDisk::new();
    let bus = Arc::new(bus_on_sim(&disk, 64 << 10));
    let config = TopicConfig {
        partitions: Some(2),
        ring_size: Some(RING),
        full_policy: FullPolicy::Spill,
        // Never shed: a full ring puts the topic in Shedding, and this test
        // is about spilling, not refusing.
        critical: true,
        groups: vec!["audit".into(), "work".into()],
        ..TopicConfig::default()
    };
    bus.create_topic("events", config).unwrap();
    let audit = bus.subscribe("events", "audit").unwrap();
    let work = bus.subscribe("events", "work").unwrap();

    // Phase 1: consumers stalled, producers publish half; the rings fill
    // and the rest spills.
    let half = PER_PRODUCER / 2;
    let mut spilled: u64 = thread::scope(|s| {
        let handles: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let bus = &bus;
                s.spawn(move || produce(bus, p, 0..half))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let total = (PRODUCERS * KEYS * PER_PRODUCER) as usize;
    // At most two rings' worth went straight in; once the first ring was
    // full, everything after it queued behind the backlog.
    let published = u64::from(PRODUCERS * KEYS * half);
    assert!(
        spilled >= published - 2 * RING as u64 && spilled < published,
        "{spilled} of {published} spilled"
    );
    let m = bus.metrics();
    let t = [("topic", "events")];
    assert_eq!(m.get("spilled_total", &t), Some(spilled as f64));
    assert_eq!(m.get("replayed_total", &t), Some(0.0));
    assert!(m.get("spill_backlog_records", &t).unwrap() > 0.0);

    // Phase 2: consumers resume and a tick replays, while the producers
    // publish the second half (behind the backlog, in order).
    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(2 + PRODUCERS as usize + 1));
    let (got_audit, got_work, spilled_late) = thread::scope(|s| {
        let ticker = {
            let (bus, done, start) = (Arc::clone(&bus), done.clone(), start.clone());
            s.spawn(move || {
                start.wait();
                let mut now_ns = 0;
                while !done.load(Ordering::Relaxed) {
                    now_ns += 1_000_000;
                    bus.update_backpressure(now_ns);
                    thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let readers: Vec<_> = [audit, work]
            .into_iter()
            .map(|sub| {
                let start = start.clone();
                s.spawn(move || {
                    start.wait();
                    consume(sub, total)
                })
            })
            .collect();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let (bus, start) = (&bus, start.clone());
                s.spawn(move || {
                    start.wait();
                    produce(bus, p, half..PER_PRODUCER)
                })
            })
            .collect();
        let late: u64 = producers.into_iter().map(|h| h.join().unwrap()).sum();
        let mut readers = readers.into_iter().map(|h| h.join().unwrap());
        let (a, w) = (readers.next().unwrap(), readers.next().unwrap());
        done.store(true, Ordering::Relaxed);
        ticker.join().unwrap();
        (a, w, late)
    });
    spilled += spilled_late;

    let expected_sum = (0..PRODUCERS)
        .flat_map(|p| (0..KEYS).flat_map(move |k| (0..PER_PRODUCER).map(move |s| (p, k, s))))
        .fold(0u64, |acc, (p, k, s)| {
            acc.wrapping_add(checksum(&payload(p, k, s)))
        });
    for (name, got) in [("audit", &got_audit), ("work", &got_work)] {
        assert_eq!(got.len(), total, "group {name}: every message, none twice");
        let sum = got
            .iter()
            .fold(0u64, |acc, (_, b)| acc.wrapping_add(checksum(b)));
        assert_eq!(sum, expected_sum, "group {name}: checksum");
        // Per (producer, key): 0, 1, 2, ... with no gap, repeat or swap,
        // always on one partition.
        let mut next: HashMap<(u32, u32), (u32, u32)> = HashMap::new();
        for (partition, b) in got {
            let p = u32::from_le_bytes(b[..4].try_into().unwrap());
            let k = u32::from_le_bytes(b[4..8].try_into().unwrap());
            let seq = u32::from_le_bytes(b[8..].try_into().unwrap());
            let entry = next.entry((p, k)).or_insert((0, *partition));
            assert_eq!(
                seq, entry.0,
                "group {name}: producer {p} key {k} out of order"
            );
            assert_eq!(
                *partition, entry.1,
                "group {name}: key {k} changed partition"
            );
            entry.0 += 1;
        }
        assert!(next.values().all(|&(n, _)| n == PER_PRODUCER));
    }
    let m = bus.metrics();
    assert_eq!(m.get("spilled_total", &t), Some(spilled as f64));
    assert_eq!(m.get("replayed_total", &t), Some(spilled as f64));
    assert_eq!(m.get("spill_backlog_records", &t), Some(0.0));
    assert_eq!(m.get("spill_failures_total", &t), Some(0.0));
    assert_eq!(m.get("published_total", &t), Some(total as f64));
}

/// Unkeyed words (`publish_word` and `publish_words`, which take the
/// publisher's fast path into the ring) also queue behind a spill backlog:
/// once the ring has room again, a new word must not overtake the spilled
/// ones.
#[test]
fn words_published_while_a_backlog_waits_do_not_overtake_it() {
    let disk = SimDisk::new();
    let bus = bus_on_sim(&disk, 64 << 10);
    let config = TopicConfig {
        partitions: Some(1),
        ring_size: Some(RING),
        full_policy: FullPolicy::Spill,
        critical: true,
        groups: vec!["g".into()],
        ..TopicConfig::default()
    };
    bus.create_topic("words", config).unwrap();
    let mut sub = bus.subscribe("words", "g").unwrap();
    let mut p = bus.publisher("words").unwrap();
    // The ring fills, then the next words spill.
    let mut next = 0u64;
    let mut spilled = 0;
    while next < 3 * RING as u64 {
        if p.publish_word(None, next).unwrap() == PublishOutcome::Spilled {
            spilled += 1;
        }
        next += 1;
    }
    assert_eq!(spilled, 2 * RING, "the ring holds {RING}, the rest spills");
    // Drain part of the ring: there is room, but a backlog still waits.
    let mut got = Vec::new();
    sub.poll(|m| got.push(m.word));
    assert_eq!(got.len(), RING);
    for _ in 0..3 {
        p.publish_word(None, next).unwrap();
        next += 1;
        p.publish_words(None, &[next, next + 1]).unwrap();
        next += 2;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while (got.len() as u64) < next && Instant::now() < deadline {
        // The tick replays the backlog into the ring.
        bus.update_backpressure(0);
        sub.poll(|m| got.push(m.word));
    }
    assert_eq!(
        got,
        (0..next).collect::<Vec<_>>(),
        "in publish order, once each"
    );
}
