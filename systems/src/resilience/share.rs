//! Breaker state shared between engines over the bus.
//!
//! Each local transition of a `shared` strategy's breaker is published on
//! [`STATE_TOPIC`] stamped with the row's Lamport clock and this node's
//! id. Receivers merge by mode:
//! - [`ShareMode::LastWriterWins`]: a remote transition whose
//!   `(lamport, node)` is greater than the row's last applied one is
//!   applied; the row's clock takes the remote value, so the next local
//!   transition (clock + 1) wins over it in turn;
//! - [`ShareMode::Quorum`]: a remote Open is a vote; the local breaker
//!   opens only when at least `nodes` distinct nodes reported it open
//!   within `window` (a node's Closed or HalfOpen withdraws its vote).
//!   Remote closes never close a local breaker: it recovers through its
//!   own half-open probes. One bad node cannot trip the cluster.
//!
//! Transitions caused by a merge are not re-published (no echo).
//!
//! Message layout (little-endian): `version u8 (=1) | state u8 | node u32
//! | lamport u64 | strategy_len u16 | strategy (UTF-8) | key_len u16 |
//! key`.

use std::collections::HashMap;
use std::time::Duration;

use keel_engine::bus::{Bus, BusError, FullPolicy, Publisher, Subscriber, TopicConfig};

use super::{BreakerState, ResilienceError};

/// The topic breaker transitions travel on.
pub const STATE_TOPIC: &str = "resilience.circuit-breaker.state";
const GROUP: &str = "resilience";
const LINK_GROUP: &str = "link";
const VERSION: u8 = 1;
const HEADER: usize = 1 + 1 + 4 + 8 + 2;

/// How remote transitions are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareMode {
    /// Lamport timestamps, last writer wins.
    LastWriterWins,
    /// A remote open counts only with a quorum of nodes.
    Quorum {
        /// Distinct nodes reporting Open needed to open locally.
        nodes: u32,
        /// How long a node's Open report counts.
        window: Duration,
    },
}

/// A transition received from another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTransition {
    /// The strategy's name.
    pub strategy: String,
    /// The breaker key (empty for the strategy's own breaker).
    pub key: Vec<u8>,
    /// The new state.
    pub state: BreakerState,
    /// The node that made it.
    pub node: u32,
    /// Its Lamport timestamp.
    pub lamport: u64,
}

/// Why a state message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the layout needs.
    #[error("state message truncated: {len} bytes, need {need}")]
    Truncated {
        /// Bytes present.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// A version this build does not read.
    #[error("state message version {0} is not supported (expected 1)")]
    Version(u8),
    /// A state byte outside 0..=2.
    #[error("state message has unknown breaker state {0}")]
    State(u8),
    /// The strategy name is not UTF-8.
    #[error("state message strategy name is not UTF-8")]
    Name,
    /// Bytes after the key.
    #[error("state message has {0} trailing bytes")]
    Trailing(usize),
}

/// Encodes a transition into `out` (cleared first).
pub fn encode_transition(
    strategy: &str,
    key: &[u8],
    state: BreakerState,
    node: u32,
    lamport: u64,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.push(VERSION);
    out.push(state as u8);
    out.extend_from_slice(&node.to_le_bytes());
    out.extend_from_slice(&lamport.to_le_bytes());
    out.extend_from_slice(&(strategy.len() as u16).to_le_bytes());
    out.extend_from_slice(strategy.as_bytes());
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(key);
}

/// Decodes a transition; every malformed input is a typed error.
pub fn decode_transition(bytes: &[u8]) -> Result<RemoteTransition, DecodeError> {
    let short = |need| DecodeError::Truncated {
        len: bytes.len(),
        need,
    };
    if bytes.len() < HEADER {
        return Err(short(HEADER));
    }
    if bytes[0] != VERSION {
        return Err(DecodeError::Version(bytes[0]));
    }
    let state = BreakerState::from_u8(bytes[1]).ok_or(DecodeError::State(bytes[1]))?;
    let node = u32::from_le_bytes(bytes[2..6].try_into().expect("4 bytes"));
    let lamport = u64::from_le_bytes(bytes[6..14].try_into().expect("8 bytes"));
    let name_len = usize::from(u16::from_le_bytes([bytes[14], bytes[15]]));
    let key_at = HEADER + name_len;
    if bytes.len() < key_at + 2 {
        return Err(short(key_at + 2));
    }
    let strategy = std::str::from_utf8(&bytes[HEADER..key_at])
        .map_err(|_| DecodeError::Name)?
        .to_owned();
    let key_len = usize::from(u16::from_le_bytes([bytes[key_at], bytes[key_at + 1]]));
    let end = key_at + 2 + key_len;
    if bytes.len() < end {
        return Err(short(end));
    }
    if bytes.len() > end {
        return Err(DecodeError::Trailing(bytes.len() - end));
    }
    Ok(RemoteTransition {
        strategy,
        key: bytes[key_at + 2..end].to_vec(),
        state,
        node,
        lamport,
    })
}

fn topic_config() -> TopicConfig {
    TopicConfig {
        partitions: Some(1),
        critical: true,
        full_policy: FullPolicy::Refuse,
        groups: vec![GROUP.to_owned(), LINK_GROUP.to_owned()],
        ring_size: Some(4_096),
        ..TopicConfig::default()
    }
}

fn ensure_topic(bus: &Bus) -> Result<(), ResilienceError> {
    match bus.create_topic(STATE_TOPIC, topic_config()) {
        Ok(()) | Err(BusError::TopicExists(_)) => Ok(()),
        Err(e) => Err(bus_err(e)),
    }
}

/// One engine's end of the state topic.
pub(crate) struct Share {
    pub(crate) mode: ShareMode,
    publisher: Publisher,
    subscriber: Subscriber,
    votes: HashMap<u32, Vec<(u32, u64)>>,
    buf: Vec<u8>,
    pub(crate) sent: u64,
    pub(crate) received: u64,
    pub(crate) applied: u64,
    pub(crate) bad_messages: u64,
    pub(crate) refused_publishes: u64,
    pub(crate) unknown_strategy: u64,
}

impl Share {
    pub(crate) fn attach(bus: &Bus, mode: ShareMode) -> Result<Share, ResilienceError> {
        ensure_topic(bus)?;
        Ok(Share {
            mode,
            publisher: bus.publisher(STATE_TOPIC).map_err(bus_err)?,
            subscriber: bus.subscribe(STATE_TOPIC, GROUP).map_err(bus_err)?,
            votes: HashMap::new(),
            buf: Vec::with_capacity(64),
            sent: 0,
            received: 0,
            applied: 0,
            bad_messages: 0,
            refused_publishes: 0,
            unknown_strategy: 0,
        })
    }

    pub(crate) fn publish(
        &mut self,
        strategy: &str,
        key: &[u8],
        state: BreakerState,
        node: u32,
        lamport: u64,
    ) {
        encode_transition(strategy, key, state, node, lamport, &mut self.buf);
        match self.publisher.publish(Some(strategy.as_bytes()), &self.buf) {
            Ok(keel_engine::bus::PublishOutcome::Refused(_)) | Err(_) => {
                self.refused_publishes += 1;
                tracing::warn!(
                    strategy,
                    "breaker transition not published: the state topic refused it"
                );
            }
            Ok(_) => self.sent += 1,
        }
    }

    /// Remote transitions waiting on the topic (not this node's own).
    pub(crate) fn poll(&mut self, own: u32, out: &mut Vec<RemoteTransition>) {
        let mut bad = 0;
        self.subscriber.poll(|m| match decode_transition(m.bytes) {
            Ok(t) if t.node != own => out.push(t),
            Ok(_) => {}
            Err(e) => {
                bad += 1;
                tracing::warn!(error = %e, "dropped a malformed breaker state message");
            }
        });
        self.bad_messages += bad;
    }

    /// Counts `node`'s report for `row`; true when a quorum reports Open.
    pub(crate) fn vote(&mut self, row: u32, node: u32, state: BreakerState, now_ns: u64) -> bool {
        let ShareMode::Quorum { nodes, window } = self.mode else {
            return false;
        };
        let votes = self.votes.entry(row).or_default();
        let window_ns = window.as_nanos() as u64;
        votes.retain(|(n, at)| *n != node && now_ns.saturating_sub(*at) <= window_ns);
        if state == BreakerState::Open {
            votes.push((node, now_ns));
        }
        votes.len() as u32 >= nodes
    }
}

/// An in-process transport joining several engines' buses: each bus's
/// own transitions are copied onto every other bus. The cross-node
/// transport is a later piece; this one lets tests and single-process
/// hosts run several nodes.
pub struct InProcessLink {
    ends: Vec<(u32, Publisher, Subscriber)>,
}

impl InProcessLink {
    /// Joins `buses`, each with the node id of the engine that shares over
    /// it. Creates the state topic where absent.
    pub fn new(buses: &[(&Bus, u32)]) -> Result<InProcessLink, ResilienceError> {
        let mut ends = Vec::with_capacity(buses.len());
        for (bus, node) in buses {
            ensure_topic(bus)?;
            ends.push((
                *node,
                bus.publisher(STATE_TOPIC).map_err(bus_err)?,
                bus.subscribe(STATE_TOPIC, LINK_GROUP).map_err(bus_err)?,
            ));
        }
        Ok(InProcessLink { ends })
    }

    /// Forwards what is waiting; returns the number of messages copied.
    pub fn pump(&mut self) -> usize {
        let mut copied = 0;
        for i in 0..self.ends.len() {
            let node = self.ends[i].0;
            let mut batch: Vec<Vec<u8>> = Vec::new();
            self.ends[i].2.poll(|m| {
                if decode_transition(m.bytes).is_ok_and(|t| t.node == node) {
                    batch.push(m.bytes.to_vec());
                }
            });
            for (j, end) in self.ends.iter_mut().enumerate() {
                if j == i {
                    continue;
                }
                for bytes in &batch {
                    if matches!(end.1.publish(None, bytes), Ok(o) if !matches!(o, keel_engine::bus::PublishOutcome::Refused(_)))
                    {
                        copied += 1;
                    }
                }
            }
        }
        copied
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_transition_survives_encode_and_decode() {
        let mut buf = Vec::new();
        encode_transition("db", b"shard-7", BreakerState::HalfOpen, 3, 99, &mut buf);
        let t = decode_transition(&buf).unwrap();
        assert_eq!(
            (t.strategy.as_str(), &t.key[..], t.state, t.node, t.lamport),
            ("db", &b"shard-7"[..], BreakerState::HalfOpen, 3, 99)
        );
    }

    #[test]
    fn malformed_messages_are_typed_errors() {
        let mut buf = Vec::new();
        encode_transition("db", b"", BreakerState::Open, 1, 1, &mut buf);
        assert!(matches!(
            decode_transition(&buf[..5]),
            Err(DecodeError::Truncated { .. })
        ));
        let mut v = buf.clone();
        v[0] = 9;
        assert_eq!(decode_transition(&v), Err(DecodeError::Version(9)));
        let mut s = buf.clone();
        s[1] = 7;
        assert_eq!(decode_transition(&s), Err(DecodeError::State(7)));
        let mut t = buf.clone();
        t.push(0);
        assert_eq!(decode_transition(&t), Err(DecodeError::Trailing(1)));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_transition(&bytes);
        }
    }
}

fn bus_err(e: BusError) -> ResilienceError {
    ResilienceError::Bus(e.to_string())
}
