//! Helpers shared by the `wal_*` tests and the crash child.

use keel_storage::{PartitionLog, Record};

/// Bytes of every test payload (the benchmark's record size).
pub const PAYLOAD_BYTES: usize = 100;

/// A 100-byte payload naming its writer: run, thread, per-thread index.
pub fn payload(run: u32, thread: u32, index: u64) -> Vec<u8> {
    let mut p = Vec::with_capacity(PAYLOAD_BYTES);
    p.extend_from_slice(&run.to_le_bytes());
    p.extend_from_slice(&thread.to_le_bytes());
    p.extend_from_slice(&index.to_le_bytes());
    let fill = (run as u8) ^ (thread as u8) ^ (index as u8);
    p.resize(PAYLOAD_BYTES, fill);
    p
}

/// The (run, thread, index) of a payload made by [`payload`], if intact.
pub fn parse_payload(p: &[u8]) -> Option<(u32, u32, u64)> {
    if p.len() != PAYLOAD_BYTES {
        return None;
    }
    let run = u32::from_le_bytes(p[0..4].try_into().ok()?);
    let thread = u32::from_le_bytes(p[4..8].try_into().ok()?);
    let index = u64::from_le_bytes(p[8..16].try_into().ok()?);
    (payload(run, thread, index) == p).then_some((run, thread, index))
}

/// Every record of the log, in order.
pub fn read_all(log: &PartitionLog) -> Vec<Record> {
    let mut out = Vec::new();
    let mut at = log.first_sequence();
    let end = log.next_sequence();
    while at < end {
        let batch = log.read(at, 4_096).expect("read");
        assert!(!batch.is_empty(), "read at {at} of {end} returned nothing");
        at = batch.last().expect("non-empty").sequence + 1;
        out.extend(batch);
    }
    out
}

/// A small deterministic generator (xorshift64*), for tests that need
/// reproducible randomness without a dependency.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// Seeded generator (a zero seed is replaced).
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    /// Seeded from the clock; prints the seed so a failure can be rerun.
    pub fn from_clock() -> XorShift {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos() as u64;
        eprintln!("seed {seed}");
        XorShift::new(seed)
    }

    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}
