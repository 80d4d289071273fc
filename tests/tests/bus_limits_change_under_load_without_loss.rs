//! Limits change through the registry while producers and consumers run,
//! the topic's partition count and ring size among them; every message
//! published before, during and after the change is delivered exactly once
//! to each group (counts and checksums), and each producer's messages keep
//! their order across the changes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keel_engine::bus::{Bus, TopicConfig};
use keel_engine::config::BusConfig;
use keel_engine::{EventLog, Limits, Registry, SimClock};

#[test]
fn reconfigure_while_publishing_loses_and_duplicates_nothing() {
    let events = Arc::new(EventLog::new(64));
    let bus = Arc::new(Bus::new(&BusConfig::default(), events.clone()));
    let registry = Registry::new(events, Arc::new(SimClock::new()));
    registry.register(bus.clone()).unwrap();
    let config = TopicConfig {
        partitions: Some(2),
        ring_size: Some(1024),
        groups: vec!["a".into(), "b".into()],
        ..TopicConfig::default()
    };
    bus.create_topic("t", config).unwrap();
    let mut subs = [
        bus.subscribe("t", "a").unwrap(),
        bus.subscribe("t", "b").unwrap(),
    ];
    const PER: u64 = 20_000;
    let done = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..2u64)
        .map(|p| {
            let mut publisher = bus.publisher("t").unwrap();
            std::thread::spawn(move || {
                for i in 0..PER {
                    let w = p * PER + i;
                    // Shedding refuses; a well-behaved producer retries.
                    let key = p.to_le_bytes();
                    while !publisher
                        .publish_words(Some(&key), &[w])
                        .unwrap()
                        .accepted()
                    {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                }
            })
        })
        .collect();
    let changer = {
        let (done, bus) = (done.clone(), bus.clone());
        std::thread::spawn(move || {
            let mut flip = false;
            let mut changes = 0;
            while !done.load(Ordering::Relaxed) {
                flip = !flip;
                // Every limit, including the topic's partition count and ring
                // size (a new generation of rings under load).
                let limits = Limits::new()
                    .with("max_payload_bytes", if flip { 64 } else { 1 << 20 })
                    .with("max_topics", if flip { 8 } else { 1_024 })
                    .with("max_subscribers_per_topic", if flip { 4 } else { 64 })
                    .with("topic.t.partitions", if flip { 3 } else { 2 })
                    .with("topic.t.ring_size", if flip { 256 } else { 1_024 });
                registry.reconfigure("bus", &limits).unwrap();
                bus.update_backpressure(changes);
                changes += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            changes
        })
    };
    let total = 2 * PER;
    let mut sums = [0u64; 2];
    let mut counts = [0u64; 2];
    // Keyed by producer, so each producer's messages share a partition in
    // every generation: their order must hold across resizes.
    let mut last = [[None::<u64>; 2]; 2];
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while counts.iter().any(|&c| c < total) {
        assert!(
            std::time::Instant::now() < deadline,
            "stalled at {counts:?} of {total}"
        );
        for (g, sub) in subs.iter_mut().enumerate() {
            sub.poll_wait(Duration::from_millis(5), |m| {
                sums[g] = sums[g].wrapping_add(m.word.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let producer = (m.word / PER) as usize;
                if let Some(prev) = last[g][producer] {
                    assert!(m.word > prev, "group {g}: {} after {prev}", m.word);
                }
                last[g][producer] = Some(m.word);
                counts[g] += 1;
            });
        }
    }
    for p in producers {
        p.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    assert!(changer.join().unwrap() > 1, "limits changed during the run");
    let text = keel_engine::render_prometheus(&[keel_engine::Scalable::metrics(&*bus)]);
    assert!(
        !text.contains("generation=\"0\""),
        "the topic was resized: generation 0 is gone\n{text}"
    );
    let expected = (0..total).fold(0u64, |s, w| {
        s.wrapping_add(w.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    });
    assert_eq!(counts, [total, total]);
    assert_eq!(sums, [expected, expected]);
    for sub in &mut subs {
        assert_eq!(sub.poll(|_| {}), 0);
    }
}
