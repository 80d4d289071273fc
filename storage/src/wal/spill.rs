//! The bus's durable logs over the WAL: the engine's `DurableLog` trait
//! implemented by a `PartitionLog` with its consumer offsets, and
//! `DurableLogs` opening one per topic stream under a root directory
//! (`{root}/{topic}-spill` for a spill log, `{root}/{topic}-p{n}` for
//! partition `n` of a durable topic, see `storage/FORMAT.md`).

use std::path::PathBuf;
use std::sync::Arc;

use keel_engine::bus::{Appended, DurableLog, DurableLogError, DurableLogs, LogStream};
use keel_engine::config::FsyncPolicy;

use super::io::Backend;
use super::log::{LogOptions, PartitionLog};
use super::offsets::ConsumerOffsets;
use super::sync::Durability;
use crate::backing_store::validate_key;

fn failed(op: &'static str, e: impl std::fmt::Display) -> DurableLogError {
    DurableLogError {
        op,
        message: e.to_string(),
    }
}

/// One WAL partition log and its consumer offsets, as the bus sees it.
/// Committing a position removes whole segments every consumer of the log
/// has passed (retention by acknowledgement).
#[derive(Debug)]
pub struct WalDurableLog {
    log: PartitionLog,
    offsets: ConsumerOffsets,
}

impl WalDurableLog {
    /// Opens (or creates, running recovery) the log and its offsets in
    /// `dir`.
    pub fn open(
        backend: Arc<dyn Backend>,
        dir: impl Into<PathBuf>,
        options: LogOptions,
    ) -> Result<WalDurableLog, DurableLogError> {
        let dir = dir.into();
        let (log, report) = PartitionLog::open(Arc::clone(&backend), &dir, options)
            .map_err(|e| failed("open", e))?;
        if let Some(cut) = &report.cut {
            tracing::warn!(dir = %dir.display(), ?cut, "durable log: torn tail cut on open");
        }
        let offsets = ConsumerOffsets::open(backend, &dir).map_err(|e| failed("open", e))?;
        Ok(WalDurableLog { log, offsets })
    }

    /// The underlying partition log.
    pub fn log(&self) -> &PartitionLog {
        &self.log
    }
}

impl DurableLog for WalDurableLog {
    fn append(&self, record: &[u8]) -> Result<u64, DurableLogError> {
        let receipt = self.log.append(record).map_err(|e| failed("append", e))?;
        Ok(receipt.sequence)
    }

    fn append_deferred(&self, record: &[u8]) -> Result<Appended, DurableLogError> {
        let receipt = self
            .log
            .append_deferred(record)
            .map_err(|e| failed("append", e))?;
        Ok(Appended {
            sequence: receipt.sequence,
            wait: receipt.durability == Durability::OnWait,
        })
    }

    fn wait(&self, sequence: u64) -> Result<(), DurableLogError> {
        self.log.wait_for(sequence).map_err(|e| failed("sync", e))
    }

    fn read(
        &self,
        from: u64,
        max: usize,
        deliver: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<u64, DurableLogError> {
        let (mut next, mut stopped) = (from, false);
        // `visit` reads one segment per call: go on while records come.
        while !stopped && ((next - from) as usize) < max {
            let left = max - (next - from) as usize;
            let before = next;
            next = self
                .log
                .visit(next, left, &mut |r| {
                    let ok = deliver(r.sequence, r.payload);
                    stopped |= !ok;
                    ok
                })
                .map_err(|e| failed("read", e))?;
            if next == before {
                break;
            }
        }
        Ok(next)
    }

    fn visible_end(&self) -> Result<u64, DurableLogError> {
        if self.log.options().fsync == FsyncPolicy::Always {
            return Ok(self.log.durable_end());
        }
        self.log.write_out().map_err(|e| failed("write", e))
    }

    fn start(&self) -> u64 {
        self.log.first_sequence()
    }

    fn end(&self) -> u64 {
        self.log.next_sequence()
    }

    fn committed(&self, consumer: &str) -> Option<u64> {
        self.offsets.get(consumer)
    }

    fn commit(&self, consumer: &str, next: u64) -> Result<(), DurableLogError> {
        let end = self.log.next_sequence();
        if next > end {
            return Err(failed(
                "commit",
                format!("position {next} is past the log's end {end}"),
            ));
        }
        // A position never runs ahead of the durable records: after a
        // crash the log must still hold everything below it.
        if next > 0 {
            self.wait(next - 1)?;
        }
        self.offsets
            .commit(consumer, next)
            .map_err(|e| failed("commit", e))?;
        if let Some(lowest) = self.offsets.min_committed() {
            self.log
                .remove_segments_below(lowest)
                .map_err(|e| failed("commit", e))?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), DurableLogError> {
        self.log.sync().map_err(|e| failed("flush", e))
    }
}

/// Opens the bus's durable logs under one root directory with one set of
/// log options: `Bus::with_durable_logs(Arc::new(WalDurableLogs::new(..)))`.
#[derive(Debug, Clone)]
pub struct WalDurableLogs {
    backend: Arc<dyn Backend>,
    root: PathBuf,
    options: LogOptions,
}

impl WalDurableLogs {
    /// Logs under `root` (usually `wal.dir`) on `backend`.
    pub fn new(
        backend: Arc<dyn Backend>,
        root: impl Into<PathBuf>,
        options: LogOptions,
    ) -> WalDurableLogs {
        WalDurableLogs {
            backend,
            root: root.into(),
            options,
        }
    }

    /// The directory of `topic`'s `stream`; the topic name must be one
    /// path segment of `[A-Za-z0-9_.-]` not starting with `.`.
    pub fn dir(&self, topic: &str, stream: LogStream) -> Result<PathBuf, DurableLogError> {
        validate_key(topic).map_err(|e| failed("open", format!("topic name: {e}")))?;
        if topic.contains('/') {
            return Err(failed(
                "open",
                format!("topic name {topic:?} must be one path segment (no `/`) to name a log directory"),
            ));
        }
        Ok(match stream {
            LogStream::Spill => self.root.join(format!("{topic}-spill")),
            LogStream::Partition(n) => self.root.join(format!("{topic}-p{n}")),
        })
    }
}

impl DurableLogs for WalDurableLogs {
    fn open(&self, topic: &str, stream: LogStream) -> Result<Arc<dyn DurableLog>, DurableLogError> {
        let dir = self.dir(topic, stream)?;
        let log = WalDurableLog::open(Arc::clone(&self.backend), dir, self.options)?;
        Ok(Arc::new(log))
    }

    fn partitions(&self, topic: &str) -> Result<usize, DurableLogError> {
        // Partition logs are created together and only added at the end
        // (a durable topic's partition count never shrinks), so they are
        // numbered densely from 0: count until the first one missing. A
        // log directory always holds its active segment.
        let mut n = 0u32;
        loop {
            let dir = self.dir(topic, LogStream::Partition(n))?;
            let present = self.backend.list(&dir).is_ok_and(|names| !names.is_empty());
            if !present {
                return Ok(n as usize);
            }
            n += 1;
        }
    }
}
