//! Typed results of bus calls.

use std::time::Duration;

use super::durable::DurableLogError;

/// What happened to a publish that was not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Accepted; the bus is in Normal.
    Accepted,
    /// Accepted and flagged: the bus is in Warning; slow down if you can.
    AcceptedWithBackpressure,
    /// Accepted; the bus is Critical and asks the producer to wait this long
    /// before publishing again (`Publisher::publish_paced` does).
    Delayed(Duration),
    /// Accepted into the topic's durable log: the ring was full (or held
    /// back by earlier spilled messages) under `FullPolicy::Spill`. It
    /// reaches the ring in order, after every message published before it.
    Spilled,
    /// Not accepted; nothing was enqueued.
    Refused(Refusal),
}

impl PublishOutcome {
    /// True if the message (or batch) was enqueued (into a ring, or
    /// spilled to the durable log).
    pub fn accepted(&self) -> bool {
        !matches!(self, PublishOutcome::Refused(_))
    }
}

/// Why a publish was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The bus is Shedding and the topic is not critical.
    Shedding,
    /// The partition's ring is full and the topic's policy is to refuse.
    RingFull,
}

/// Why a bus call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// No topic has this name.
    #[error("no topic named `{0}`")]
    UnknownTopic(String),
    /// A topic with this name exists.
    #[error("topic `{0}` already exists")]
    TopicExists(String),
    /// The bus holds `max_topics` topics.
    #[error("cannot create topic `{topic}`: the bus already holds max_topics = {max}")]
    TooManyTopics {
        /// The refused topic.
        topic: String,
        /// The limit in force.
        max: u64,
    },
    /// The topic has `max_subscribers_per_topic` subscribers.
    #[error("topic `{topic}` already has max_subscribers_per_topic = {max} subscribers")]
    TooManySubscribers {
        /// The topic.
        topic: String,
        /// The limit in force.
        max: u64,
    },
    /// A topic needs at least one partition.
    #[error("topic `{0}`: partitions must be at least 1")]
    ZeroPartitions(String),
    /// More partitions than the bus allows.
    #[error("topic `{topic}`: {partitions} partitions exceeds the maximum of {max}")]
    TooManyPartitions {
        /// The topic.
        topic: String,
        /// Asked for.
        partitions: usize,
        /// Allowed.
        max: usize,
    },
    /// Ring sizes are powers of two.
    #[error("topic `{topic}`: ring size {size} is not a power of two in 64..=16777216")]
    BadRingSize {
        /// The topic.
        topic: String,
        /// The refused size.
        size: usize,
    },
    /// A payload over `max_payload_bytes`.
    #[error("payload of {len} bytes exceeds max_payload_bytes = {max}")]
    PayloadTooLarge {
        /// The payload's length.
        len: usize,
        /// The limit in force.
        max: u64,
    },
    /// A subscriber group the topic was not created with.
    #[error("topic `{topic}` has no subscriber group `{group}`")]
    UnknownGroup {
        /// The topic.
        topic: String,
        /// The group asked for.
        group: String,
    },
    /// A topic needs at least one subscriber group.
    #[error("topic `{0}` needs at least one subscriber group")]
    NoGroups(String),
    /// A single-writer topic already has a live publisher.
    #[error("topic `{0}` is single-writer and already has a publisher")]
    SingleWriterTaken(String),
    /// The spill policy needs a durable log to spill to.
    #[error("topic `{0}`: the spill policy needs a durable log; none is attached to this bus (Bus::with_durable_logs)")]
    SpillUnavailable(String),
    /// The spill policy replays beside the topic's producers, which a
    /// single-writer ring does not allow.
    #[error("topic `{0}`: the spill policy needs a multi-writer topic; unset single_writer or choose the Wait or Refuse policy")]
    SpillNeedsMultiWriter(String),
    /// A durable topic needs durable logs to write to.
    #[error("topic `{0}`: a durable topic needs durable logs; none are attached to this bus (Bus::with_durable_logs)")]
    DurableUnavailable(String),
    /// A durable topic's partition lanes are the only producers of its
    /// rings, which a single-writer ring does not allow.
    #[error("topic `{0}`: a durable topic needs a multi-writer topic; unset single_writer")]
    DurableNeedsMultiWriter(String),
    /// A durable topic's partition count may not shrink: messages in the
    /// logs of the partitions dropped would never be delivered.
    #[error("topic `{topic}` is durable with {existing} partition logs; it cannot have {requested} partitions (the count may grow, never shrink)")]
    DurableShrink {
        /// The topic.
        topic: String,
        /// Partition logs it has.
        existing: usize,
        /// Partitions asked for.
        requested: usize,
    },
    /// Committing positions needs a durable topic.
    #[error("topic `{0}` is not durable: there are no log positions to commit")]
    NotDurable(String),
    /// The topic's durable log failed; the publish was not accepted.
    #[error("topic `{topic}`: {source}")]
    DurableLog {
        /// The topic.
        topic: String,
        /// What the log said.
        #[source]
        source: DurableLogError,
    },
    /// A durable topic's partition log reached the largest sequence a
    /// message carries (2^56 - 1); the publish was not appended.
    #[error("topic `{topic}` partition {partition}: its log would pass sequence {max}, the largest a message carries")]
    LogSequencesExhausted {
        /// The topic.
        topic: String,
        /// The partition whose log is full.
        partition: usize,
        /// The largest sequence a message carries.
        max: u64,
    },
    /// A record in the topic's spill log is not a bus spill record (the
    /// WAL checksum held, so it was written so, e.g. by another version):
    /// replay stops there rather than skip it.
    #[error("topic `{topic}`: spill record at sequence {sequence} is unreadable: {reason}")]
    SpillCorrupt {
        /// The topic.
        topic: String,
        /// The record's sequence in the spill log.
        sequence: u64,
        /// What was wrong.
        reason: String,
    },
}
