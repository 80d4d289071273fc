//! The message bus (SPEC §3.1): topics with partitions on Disruptor rings,
//! publisher and subscriber handles, typed publish outcomes, backpressure
//! from ring fill, limits changeable at run time.
//!
//! ```
//! use std::sync::Arc;
//! use keel_engine::bus::{Bus, PublishOutcome, TopicConfig};
//! use keel_engine::{config::BusConfig, EventLog};
//!
//! let bus = Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64)));
//! bus.create_topic("orders", TopicConfig { partitions: Some(2), ..TopicConfig::default() }).unwrap();
//! let mut sub = bus.subscribe("orders", "default").unwrap();
//! let mut publisher = bus.publisher("orders").unwrap();
//! assert_eq!(publisher.publish(Some(b"customer-7"), b"hello").unwrap(), PublishOutcome::Accepted);
//! let mut got = Vec::new();
//! sub.poll(|m| got.push(m.bytes.to_vec()));
//! assert_eq!(got, vec![b"hello".to_vec()]);
//! ```

#[allow(clippy::module_inception)]
mod bus;
mod durable;
mod generation;
mod lane;
mod message;
mod notify;
mod outcome;
mod publisher;
mod quiesce;
mod ring;
mod subscriber;
mod topic;

pub use bus::{Bus, MAX_PARTITIONS};
pub use durable::{Appended, DurableLog, DurableLogError, DurableLogs, LogStream};
pub use lane::{
    REPLAY_CONSUMER, REPLAY_PASS_RECORDS_MAX, SPILL_HEADER_BYTES, SPILL_MESSAGE_HEADER_BYTES,
    SPILL_RECORD_VERSION,
};
pub use message::{stable_hash, Message, FLAG_BACKPRESSURE, FLAG_KEYED};
pub use outcome::{BusError, PublishOutcome, Refusal};
pub use publisher::Publisher;
pub use subscriber::{Subscriber, WaitStrategy};
pub use topic::{FullPolicy, TopicConfig};
