//! Keel's subsystems on top of the engine core and storage.
//!
//! [`resilience`]: guarded execution with circuit breakers kept in a
//! columnar table, striped bulkheads, retries with backoff, jitter and a
//! retry budget, adaptive thresholds run as tick systems, and breaker state
//! shared between engines over the bus.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod resilience;
mod sync;
