//! The seam the message bus spills through: when a ring is full and the
//! topic's policy says "spill", messages go to a durable log and are
//! replayed in order later. The bus depends on this trait, not on files.

use super::error::WalError;
use super::log::PartitionLog;
use super::sync::Receipt;

/// A log the bus can spill messages to and replay them from, in order.
pub trait DurableLog: Send + Sync {
    /// Appends one message; the receipt says when it is durable.
    fn spill(&self, payload: &[u8]) -> Result<Receipt, WalError>;
    /// Calls `deliver` on up to `max` messages from sequence `from`, in
    /// order; returns the sequence to resume from.
    fn replay(
        &self,
        from: u64,
        max: usize,
        deliver: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<u64, WalError>;
    /// Sequence the next spilled message gets.
    fn end(&self) -> u64;
    /// First sequence still kept.
    fn start(&self) -> u64;
    /// Makes every spilled message durable.
    fn flush(&self) -> Result<(), WalError>;
}

impl DurableLog for PartitionLog {
    fn spill(&self, payload: &[u8]) -> Result<Receipt, WalError> {
        self.append(payload)
    }

    fn replay(
        &self,
        from: u64,
        max: usize,
        deliver: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<u64, WalError> {
        self.visit(from, max, &mut |r| deliver(r.sequence, r.payload))
    }

    fn end(&self) -> u64 {
        self.next_sequence()
    }

    fn start(&self) -> u64 {
        self.first_sequence()
    }

    fn flush(&self) -> Result<(), WalError> {
        self.sync()
    }
}
