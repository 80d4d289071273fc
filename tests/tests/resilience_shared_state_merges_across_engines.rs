//! Breaker transitions travel between engines on the bus: last writer
//! wins by Lamport timestamp, and in quorum mode one bad node cannot trip
//! the others.

use std::sync::Arc;
use std::time::Duration;

use keel_engine::bus::Bus;
use keel_engine::config::BusConfig;
use keel_engine::{EventLog, Scalable, SimClock};
use keel_systems::resilience::{
    encode_transition, BreakerState, InProcessLink, Resilience, ResilienceOptions, ShareMode,
    StrategyConfig, STATE_TOPIC,
};
use keel_tests::resilience_support::strict;

struct Node {
    bus: Bus,
    r: Resilience,
}

fn cluster(share: ShareMode) -> (Arc<SimClock>, Vec<Node>, InProcessLink) {
    let clock = Arc::new(SimClock::new());
    clock.advance(Duration::from_secs(1));
    let nodes: Vec<Node> = (1..=3)
        .map(|id| {
            let bus = Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64)));
            let options = ResilienceOptions {
                node_id: id,
                share,
                ..ResilienceOptions::default()
            };
            let r = Resilience::new(options, clock.clone()).unwrap();
            let mut c: StrategyConfig = strict(2);
            c.shared = true;
            r.add_strategy("db", c).unwrap();
            Node { bus, r }
        })
        .collect();
    let ends: Vec<(&Bus, u32)> = nodes.iter().map(|n| (&n.bus, n.r.node_id())).collect();
    let link = InProcessLink::new(&ends).unwrap();
    for n in &nodes {
        n.r.share_over(&n.bus).unwrap();
    }
    (clock, nodes, link)
}

fn trip(n: &Node, key: Option<&[u8]>) {
    let id = match key {
        Some(k) => n.r.breaker("db", k).unwrap(),
        None => n.r.strategy("db").unwrap(),
    };
    for _ in 0..2 {
        let _ = n.r.execute(id, || Err::<(), _>(()));
    }
}

fn round(nodes: &[Node], link: &mut InProcessLink) {
    for n in nodes {
        n.r.tick();
    }
    link.pump();
    for n in nodes {
        n.r.tick();
    }
}

fn state(n: &Node, key: Option<&[u8]>) -> BreakerState {
    let id = match key {
        Some(k) => n.r.breaker("db", k).unwrap(),
        None => n.r.strategy("db").unwrap(),
    };
    n.r.state(id)
}

#[test]
fn last_writer_wins_spreads_an_open_and_ignores_stale_news() {
    let (_clock, nodes, mut link) = cluster(ShareMode::LastWriterWins);
    trip(&nodes[0], None);
    trip(&nodes[0], Some(b"shard-9"));
    round(&nodes, &mut link);
    for n in &nodes {
        assert_eq!(state(n, None), BreakerState::Open);
        assert_eq!(
            state(n, Some(b"shard-9")),
            BreakerState::Open,
            "keyed rows are created on arrival"
        );
    }
    // A stale Closed (Lamport 0) from another node is ignored.
    let mut stale = Vec::new();
    encode_transition("db", b"", BreakerState::Closed, 7, 0, &mut stale);
    nodes[1]
        .bus
        .publisher(STATE_TOPIC)
        .unwrap()
        .publish(None, &stale)
        .unwrap();
    round(&nodes, &mut link);
    assert_eq!(state(&nodes[1], None), BreakerState::Open);
    // A newer one (same clock as the open, higher node id) wins.
    let mut newer = Vec::new();
    encode_transition("db", b"", BreakerState::Closed, 9, 1, &mut newer);
    nodes[1]
        .bus
        .publisher(STATE_TOPIC)
        .unwrap()
        .publish(None, &newer)
        .unwrap();
    round(&nodes, &mut link);
    assert_eq!(state(&nodes[1], None), BreakerState::Closed);
    // Garbage on the topic is counted, never fatal.
    nodes[2]
        .bus
        .publisher(STATE_TOPIC)
        .unwrap()
        .publish(None, b"\x01junk")
        .unwrap();
    round(&nodes, &mut link);
    let m = nodes[2].r.metrics();
    assert_eq!(m.get("share_bad_messages_total", &[]), Some(1.0));
}

#[test]
fn quorum_mode_needs_two_nodes_to_open_a_third() {
    let share = ShareMode::Quorum {
        nodes: 2,
        window: Duration::from_secs(60),
    };
    let (_clock, nodes, mut link) = cluster(share);
    trip(&nodes[0], None);
    round(&nodes, &mut link);
    assert_eq!(state(&nodes[0], None), BreakerState::Open);
    assert_eq!(
        state(&nodes[1], None),
        BreakerState::Closed,
        "one bad node must not trip the others"
    );
    assert_eq!(state(&nodes[2], None), BreakerState::Closed);
    trip(&nodes[2], None);
    round(&nodes, &mut link);
    assert_eq!(
        state(&nodes[1], None),
        BreakerState::Open,
        "two nodes agree: a quorum"
    );
}

#[test]
fn unshared_strategies_stay_local() {
    let (_clock, nodes, mut link) = cluster(ShareMode::LastWriterWins);
    nodes[0].r.add_strategy("local", strict(1)).unwrap();
    nodes[1].r.add_strategy("local", strict(1)).unwrap();
    let id = nodes[0].r.strategy("local").unwrap();
    let _ = nodes[0].r.execute(id, || Err::<(), _>(()));
    round(&nodes, &mut link);
    assert_eq!(nodes[0].r.state(id), BreakerState::Open);
    let other = nodes[1].r.strategy("local").unwrap();
    assert_eq!(nodes[1].r.state(other), BreakerState::Closed);
}
