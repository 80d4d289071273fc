//! The write-ahead log: segments, records, group commit, offsets,
//! retention and recovery.

pub(crate) mod error;
pub(crate) mod io;
pub(crate) mod log;
pub(crate) mod offsets;
pub(crate) mod record;
pub(crate) mod recovery;
pub(crate) mod retention;
pub(crate) mod segment;
pub(crate) mod sim;
pub(crate) mod spill;
pub(crate) mod sync;
