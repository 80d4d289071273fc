//! The seam between the bus and durable storage. The bus spills through
//! [`DurableLog`] and opens logs through [`DurableLogs`]; it knows nothing
//! of files. `keel-storage` implements both over its WAL.

use std::sync::Arc;

/// Which log of a topic to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// The topic's spill log: messages that found their ring full under
    /// [`FullPolicy::Spill`](super::FullPolicy::Spill), one log per topic,
    /// each record naming its partition.
    Spill,
    /// Partition `n` of a durable topic: every message published to it,
    /// in the order subscribers see it.
    Partition(u32),
}

/// What [`DurableLog::append_deferred`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The record's sequence.
    pub sequence: u64,
    /// True if the log's sync policy wants the appender to wait
    /// ([`DurableLog::wait`]) before the record counts as durable (policy
    /// "always", or an append that reached every-N).
    pub wait: bool,
}

/// Why a durable log call failed (the storage error, rendered).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("durable log {op} failed: {message}")]
pub struct DurableLogError {
    /// What was being done (`open`, `append`, `read`, `commit`, `flush`).
    pub op: &'static str,
    /// The storage layer's message (it says what to do).
    pub message: String,
}

/// An append-only log of records with dense sequences, read back in order,
/// with durable consumer positions.
pub trait DurableLog: Send + Sync {
    /// Appends one record; returns its sequence. Durable per the log's
    /// sync policy.
    fn append(&self, record: &[u8]) -> Result<u64, DurableLogError>;
    /// Appends one record without waiting for a sync; the caller follows
    /// with [`DurableLog::wait`] when `Appended::wait` says so (outside its
    /// own locks, so concurrent appenders share one sync).
    fn append_deferred(&self, record: &[u8]) -> Result<Appended, DurableLogError>;
    /// Blocks until the record at `sequence` is durable, sharing a sync
    /// with other waiters.
    fn wait(&self, sequence: u64) -> Result<(), DurableLogError>;
    /// Calls `deliver(sequence, record)` on the records from `from` in
    /// order, at most `max`, until it returns false; returns the sequence
    /// after the last record it accepted (`from` if none).
    fn read(
        &self,
        from: u64,
        max: usize,
        deliver: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<u64, DurableLogError>;
    /// The sequence below which records may be shown to subscribers,
    /// making them so first where that takes work. A record a crash could
    /// take back must not be shown: its offset would come back holding
    /// another message. Under policy "always", the durable end (a message
    /// is delivered once synced, as its publisher is told); under the
    /// others, every appended record, once handed to the OS (a process
    /// crash keeps it; a power cut may take back what was delivered since
    /// the last sync, as it may what was acknowledged).
    fn visible_end(&self) -> Result<u64, DurableLogError>;
    /// First sequence still kept.
    fn start(&self) -> u64;
    /// Sequence the next append gets.
    fn end(&self) -> u64;
    /// The position `consumer` last committed (`None`: never committed).
    fn committed(&self, consumer: &str) -> Option<u64>;
    /// Durably records that `consumer` has taken every record below
    /// `next`; the log may then remove records no consumer still needs.
    /// The records below `next` are made durable first, so a committed
    /// position never runs ahead of what a crash keeps.
    fn commit(&self, consumer: &str, next: u64) -> Result<(), DurableLogError>;
    /// Makes every appended record durable now.
    fn flush(&self) -> Result<(), DurableLogError>;
}

/// Opens a topic's durable logs (the bus calls it when a topic needs one).
pub trait DurableLogs: Send + Sync {
    /// Opens (or creates, running recovery) `stream` of `topic`.
    fn open(&self, topic: &str, stream: LogStream) -> Result<Arc<dyn DurableLog>, DurableLogError>;
    /// How many partition logs `topic` has already (one past the highest
    /// [`LogStream::Partition`] found; 0 for a new topic).
    fn partitions(&self, topic: &str) -> Result<usize, DurableLogError>;
}
