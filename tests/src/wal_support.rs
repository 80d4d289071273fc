//! Helpers shared by the `wal_*` tests and the crash child.

use std::io;
use std::path::Path;
use std::sync::Arc;

use keel_storage::{Backend, BackendFile, FileBytes, PartitionLog, Record, SimDisk};

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

/// Wraps a file handle of a [`WrappedDisk`] to change what its writes or
/// syncs do.
pub trait WrapHandle: Send + Sync + std::fmt::Debug {
    /// The handle the log gets in place of `inner`.
    fn wrap(&self, inner: Arc<dyn BackendFile>) -> Arc<dyn BackendFile>;
}

/// A [`SimDisk`] whose file handles (from `create` and `open`) pass
/// through `wrap`; every other call goes to the disk.
#[derive(Debug)]
pub struct WrappedDisk<W> {
    /// The simulated disk underneath.
    pub disk: SimDisk,
    /// What wraps each handle.
    pub wrap: W,
}

impl<W: WrapHandle> Backend for WrappedDisk<W> {
    fn create(&self, p: &Path, len: u64) -> io::Result<Arc<dyn BackendFile>> {
        Ok(self.wrap.wrap(self.disk.create(p, len)?))
    }
    fn open(&self, p: &Path) -> io::Result<Arc<dyn BackendFile>> {
        Ok(self.wrap.wrap(self.disk.open(p)?))
    }
    fn read(&self, p: &Path) -> io::Result<FileBytes> {
        self.disk.read(p)
    }
    fn list(&self, d: &Path) -> io::Result<Vec<String>> {
        self.disk.list(d)
    }
    fn remove(&self, p: &Path) -> io::Result<()> {
        self.disk.remove(p)
    }
    fn rename(&self, a: &Path, b: &Path) -> io::Result<()> {
        self.disk.rename(a, b)
    }
    fn create_dir_all(&self, d: &Path) -> io::Result<()> {
        self.disk.create_dir_all(d)
    }
    fn sync_dir(&self, d: &Path) -> io::Result<()> {
        self.disk.sync_dir(d)
    }
}
