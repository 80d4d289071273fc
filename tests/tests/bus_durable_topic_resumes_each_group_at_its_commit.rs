//! A durable topic writes every message to its partition's log before a
//! subscriber sees it. After a power cut, the topic created again over the
//! same logs delivers to each group exactly what comes after its last
//! commit, per partition, in publish order; a group that committed
//! everything gets nothing again.

use std::collections::BTreeMap;
use std::sync::Arc;

use keel_engine::bus::{stable_hash, Bus, BusError, FullPolicy, PublishOutcome, TopicConfig};
use keel_engine::config::BusConfig;
use keel_engine::{EventLog, Scalable};
use keel_storage::SimDisk;
use keel_tests::bus_support::{bus_on_sim, drain, drain_all, Got};

const RING: usize = 64;
const PARTITIONS: usize = 4;
const MESSAGES: u64 = 1_000;

fn bus_on(disk: &SimDisk) -> Bus {
    bus_on_sim(disk, 8 << 10)
}

/// A bus over `disk` with the durable topic "orders" created (again).
fn orders_on(disk: &SimDisk, policy: FullPolicy, partitions: Option<usize>) -> Bus {
    let bus = bus_on(disk);
    bus.create_topic("orders", durable(policy, partitions))
        .unwrap();
    bus
}

fn durable(policy: FullPolicy, partitions: Option<usize>) -> TopicConfig {
    TopicConfig {
        partitions,
        ring_size: Some(RING),
        full_policy: policy,
        durable: true,
        critical: true,
        groups: vec!["a".into(), "b".into()],
        ..TopicConfig::default()
    }
}

fn key(i: u64) -> [u8; 1] {
    [(i % 10) as u8]
}

/// The words of delivered messages, in delivery order.
fn words(got: &[Got]) -> Vec<u64> {
    got.iter().map(|m| m.2).collect()
}

/// Per partition, the words in publish order (the model).
fn model() -> BTreeMap<u32, Vec<u64>> {
    let mut by_partition: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for i in 0..MESSAGES {
        let p = (stable_hash(&key(i)) % PARTITIONS as u64) as u32;
        by_partition.entry(p).or_default().push(i);
    }
    by_partition
}

#[test]
fn each_group_resumes_at_its_last_commit_after_a_power_cut() {
    let disk = SimDisk::new();
    let bus = orders_on(&disk, FullPolicy::Spill, Some(PARTITIONS));
    let mut a = bus.subscribe("orders", "a").unwrap();
    let mut b = bus.subscribe("orders", "b").unwrap();
    let mut p = bus.publisher("orders").unwrap();
    for i in 0..MESSAGES {
        let outcome = p.publish_word(Some(&key(i)), i).unwrap();
        assert!(
            matches!(outcome, PublishOutcome::Accepted | PublishOutcome::Spilled),
            "message {i}: {outcome:?}"
        );
    }
    // Group b handles everything and commits it; group a handles
    // everything too but commits only once, after about 300.
    let (mut tick, mut all_b, mut handled_a) = (0, Vec::new(), Vec::new());
    let mut committed: Option<(usize, BTreeMap<u32, u64>)> = None;
    while all_b.len() as u64 + handled_a.len() as u64 != 2 * MESSAGES {
        tick += 1;
        bus.update_backpressure(tick);
        b.poll(|m| all_b.push((m.partition, m.offset.expect("durable"), m.word)));
        a.poll(|m| handled_a.push((m.partition, m.offset.expect("durable"), m.word)));
        if committed.is_none() && handled_a.len() >= 300 {
            let mut at = BTreeMap::new();
            for &(partition, offset, _) in &handled_a {
                at.insert(partition, offset + 1);
            }
            assert!(a.commit().unwrap() > 0);
            assert_eq!(a.commit().unwrap(), 0, "nothing new to commit");
            committed = Some((handled_a.len(), at));
        }
    }
    assert_eq!(b.commit().unwrap(), PARTITIONS);
    let (handled_at_commit, committed) = committed.expect("a committed");

    // Within each partition, offsets are dense and follow publish order.
    let model = model();
    for (partition, words) in &model {
        let got: Vec<(u64, u64)> = all_b
            .iter()
            .filter(|m| m.0 == *partition)
            .map(|m| (m.1, m.2))
            .collect();
        let expect: Vec<(u64, u64)> = words
            .iter()
            .enumerate()
            .map(|(k, &w)| (k as u64, w))
            .collect();
        assert_eq!(got, expect, "partition {partition}");
    }
    drop((a, b, p, bus));
    // Policy "always": every publish was durable when it returned.
    disk.power_cut();

    let bus = orders_on(&disk, FullPolicy::Spill, Some(PARTITIONS));
    let mut a = bus.subscribe("orders", "a").unwrap();
    let mut b = bus.subscribe("orders", "b").unwrap();
    let mut again = drain_all(&bus, &mut [&mut a, &mut b], &mut tick);
    let (again_a, again_b) = (again.remove(0), again.remove(0));
    assert!(again_b.is_empty(), "b committed everything: {again_b:?}");
    for (partition, words) in &model {
        let from = committed.get(partition).copied().unwrap_or(0);
        let got: Vec<u64> = again_a
            .iter()
            .filter(|m| m.0 == *partition)
            .map(|m| m.2)
            .collect();
        assert_eq!(got, words[from as usize..], "partition {partition}");
    }
    assert_eq!(
        again_a.len() as u64,
        MESSAGES - handled_at_commit as u64,
        "exactly what a had not committed"
    );
    // New publishes continue each partition's log.
    let mut p = bus.publisher("orders").unwrap();
    p.publish_word(Some(&key(0)), 7_777).unwrap();
    let next = drain_all(&bus, &mut [&mut a, &mut b], &mut tick);
    let p0 = (stable_hash(&key(0)) % PARTITIONS as u64) as u32;
    let want = vec![(p0, model[&p0].len() as u64, 7_777)];
    assert_eq!(next, vec![want.clone(), want]);
}

#[test]
fn a_full_ring_under_refuse_appends_nothing() {
    let disk = SimDisk::new();
    let bus = orders_on(&disk, FullPolicy::Refuse, Some(1));
    let _held = bus.subscribe("orders", "a").unwrap();
    let mut p = bus.publisher("orders").unwrap();
    let mut accepted = Vec::new();
    for i in 0..100u64 {
        match p.publish_word(None, i).unwrap() {
            PublishOutcome::Accepted => accepted.push(i),
            PublishOutcome::Refused(_) => {}
            other => panic!("message {i}: {other:?}"),
        }
    }
    assert_eq!(accepted, (0..RING as u64).collect::<Vec<_>>());
    drop((p, _held, bus));
    disk.power_cut();

    let bus = orders_on(&disk, FullPolicy::Refuse, Some(1));
    let mut a = bus.subscribe("orders", "a").unwrap();
    let mut tick = 0;
    assert_eq!(
        words(&drain(&bus, &mut a, &mut tick)),
        accepted,
        "the refused ones were never written"
    );
}

#[test]
fn concurrent_waiting_producers_lose_nothing_and_a_full_commit_replays_nothing() {
    let disk = SimDisk::new();
    let bus = Arc::new(orders_on(&disk, FullPolicy::Wait, Some(2)));
    let mut a = bus.subscribe("orders", "a").unwrap();
    let mut b = bus.subscribe("orders", "b").unwrap();
    const PRODUCERS: u64 = 3;
    const EACH: u64 = 400;
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|t| {
            let bus = Arc::clone(&bus);
            std::thread::spawn(move || {
                let mut p = bus.publisher("orders").unwrap();
                for i in 0..EACH {
                    let outcome = p.publish_word(Some(&[t as u8]), t << 32 | i).unwrap();
                    assert_eq!(outcome, PublishOutcome::Accepted);
                }
            })
        })
        .collect();
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    while (got_a.len() as u64) < PRODUCERS * EACH || (got_b.len() as u64) < PRODUCERS * EACH {
        a.poll_wait(std::time::Duration::from_millis(5), |m| got_a.push(m.word));
        b.poll(|m| got_b.push(m.word));
        if got_a.len() % 97 == 0 {
            a.commit().unwrap();
        }
    }
    for t in producers {
        t.join().unwrap();
    }
    for got in [&got_a, &got_b] {
        for t in 0..PRODUCERS {
            let mine: Vec<u64> = got.iter().copied().filter(|w| w >> 32 == t).collect();
            assert_eq!(mine, (0..EACH).map(|i| t << 32 | i).collect::<Vec<_>>());
        }
    }
    a.commit().unwrap();
    b.commit().unwrap();
    drop((a, b));
    let bus = Arc::into_inner(bus).expect("producers joined");
    drop(bus);
    disk.power_cut();

    let bus = orders_on(&disk, FullPolicy::Wait, Some(2));
    let mut a = bus.subscribe("orders", "a").unwrap();
    let mut tick = 0;
    assert!(drain(&bus, &mut a, &mut tick).is_empty());
}

#[test]
fn durable_topics_refuse_bad_shapes_with_typed_errors() {
    let plain = Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64)));
    assert!(matches!(
        plain.create_topic("t", durable(FullPolicy::Wait, Some(2))),
        Err(BusError::DurableUnavailable(t)) if t == "t"
    ));
    plain.create_topic("plain", TopicConfig::default()).unwrap();
    let mut sub = plain.subscribe("plain", "default").unwrap();
    assert!(matches!(sub.commit(), Err(BusError::NotDurable(t)) if t == "plain"));

    let disk = SimDisk::new();
    let bus = bus_on(&disk);
    let single = TopicConfig {
        single_writer: true,
        ..durable(FullPolicy::Wait, Some(2))
    };
    assert!(matches!(
        bus.create_topic("t", single),
        Err(BusError::DurableNeedsMultiWriter(_))
    ));
    bus.create_topic("t", durable(FullPolicy::Spill, Some(2)))
        .unwrap();
    assert!(matches!(
        bus.resize_topic("t", 1, RING),
        Err(BusError::DurableShrink {
            existing: 2,
            requested: 1,
            ..
        })
    ));
    // Growing opens logs for the new partitions; they survive a restart.
    bus.resize_topic("t", 3, RING).unwrap();
    let mut p = bus.publisher("t").unwrap();
    for i in 0..6 {
        p.publish_word(None, i).unwrap();
    }
    let t = [("topic", "t"), ("partition", "2")];
    assert_eq!(bus.metrics().get("log_end_sequence", &t), Some(2.0));
    drop((p, bus));

    let bus = bus_on(&disk);
    assert!(matches!(
        bus.create_topic("t", durable(FullPolicy::Spill, Some(2))),
        Err(BusError::DurableShrink {
            existing: 3,
            requested: 2,
            ..
        })
    ));
    bus.create_topic("t", durable(FullPolicy::Spill, None))
        .unwrap();
    let mut a = bus.subscribe("t", "a").unwrap();
    assert_eq!(a.partitions().len(), 3, "adopts the logs on disk");
    let mut tick = 0;
    let mut got = words(&drain(&bus, &mut a, &mut tick));
    got.sort_unstable();
    assert_eq!(got, (0..6).collect::<Vec<_>>());
}

#[test]
fn a_position_past_a_damaged_logs_end_resumes_at_the_end_not_beyond() {
    let disk = SimDisk::new();
    let bus = orders_on(&disk, FullPolicy::Wait, Some(1));
    let mut p = bus.publisher("orders").unwrap();
    for i in 0..3 {
        p.publish_word(None, i).unwrap();
    }
    drop((p, bus));
    // Group a's position says 100 though the log ends at 3 (as if the
    // log had lost records the position covered).
    let offsets =
        keel_storage::ConsumerOffsets::open(Arc::new(disk.clone()), "/wal/orders-p0").unwrap();
    offsets.commit("a", 100).unwrap();
    drop(offsets);

    let bus = orders_on(&disk, FullPolicy::Wait, Some(1));
    let (mut a, mut b) = (
        bus.subscribe("orders", "a").unwrap(),
        bus.subscribe("orders", "b").unwrap(),
    );
    let mut p = bus.publisher("orders").unwrap();
    p.publish_word(None, 42).unwrap();
    let mut tick = 0;
    let got = drain_all(&bus, &mut [&mut a, &mut b], &mut tick);
    assert_eq!(
        words(&got[0]),
        vec![42],
        "a resumes at the end, sees new messages"
    );
    assert_eq!(words(&got[1]), vec![0, 1, 2, 42]);
}

#[test]
fn a_batch_larger_than_the_ring_is_refused_with_or_without_a_backlog() {
    let disk = SimDisk::new();
    let bus = orders_on(&disk, FullPolicy::Spill, Some(1));
    let _held = bus.subscribe("orders", "a").unwrap();
    let mut p = bus.publisher("orders").unwrap();
    let too_many = vec![0u64; RING + 1];
    let too_large = |r| matches!(r, Err(BusError::PayloadTooLarge { len, .. }) if len == RING + 1);
    assert!(too_large(p.publish_words(None, &too_many)), "no backlog");
    for i in 0..=RING as u64 {
        p.publish_word(None, i).unwrap();
    }
    assert_eq!(
        p.publish_word(None, 0).unwrap(),
        PublishOutcome::Spilled,
        "a backlog now"
    );
    assert!(
        too_large(p.publish_words(None, &too_many)),
        "behind a backlog"
    );
}
