//! Consumer offsets of one partition: the next sequence each subscriber
//! will read, kept in one checksummed file replaced atomically on every
//! commit (write temp, fdatasync, rename, fsync dir).
//!
//! File: `"KEELOFS\0"`, version u32, count u32, then per consumer
//! `[name_len u16][name][next_sequence u64]`, then crc32c u32 of all before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::atomic_file::{atomic_replace, TEMP_SUFFIX};

use super::io::Backend;

/// File name of the offsets file in a partition directory.
pub const OFFSETS_FILE: &str = "offsets.keel";
/// Subscribers per partition at most.
pub const CONSUMERS_MAX: usize = 1_024;
/// Bytes of a consumer name at most.
pub const CONSUMER_NAME_BYTES_MAX: usize = 255;
const OFFSETS_MAGIC: [u8; 8] = *b"KEELOFS\0";
const OFFSETS_VERSION: u32 = 1;

/// Why offsets could not be read or committed.
#[derive(Debug, thiserror::Error)]
pub enum OffsetsError {
    /// I/O failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The call.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is damaged; nothing is guessed.
    #[error("offsets file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A bad consumer name.
    #[error("consumer name {0:?} must be 1..=255 bytes")]
    BadName(String),
    /// Too many consumers.
    #[error("partition already has {CONSUMERS_MAX} consumers")]
    TooManyConsumers,
}

/// Encodes the offsets file.
fn encode(map: &BTreeMap<String, u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + map.len() * 32);
    out.extend_from_slice(&OFFSETS_MAGIC);
    out.extend_from_slice(&OFFSETS_VERSION.to_le_bytes());
    out.extend_from_slice(&(map.len() as u32).to_le_bytes());
    for (name, next) in map {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&next.to_le_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes an offsets file; `Err` names what was wrong.
pub fn decode_offsets(bytes: &[u8]) -> Result<BTreeMap<String, u64>, String> {
    if bytes.len() < 20 {
        return Err(format!(
            "{} bytes, shorter than the 20-byte minimum",
            bytes.len()
        ));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
    let computed = crc32c::crc32c(body);
    if stored != computed {
        return Err(format!(
            "crc32c stored {stored:#010x}, computed {computed:#010x}"
        ));
    }
    if body[..8] != OFFSETS_MAGIC {
        return Err("bad magic".into());
    }
    let version = u32::from_le_bytes(body[8..12].try_into().expect("4 bytes"));
    if version != OFFSETS_VERSION {
        return Err(format!(
            "format version {version}, this build reads {OFFSETS_VERSION}"
        ));
    }
    let count = u32::from_le_bytes(body[12..16].try_into().expect("4 bytes")) as usize;
    if count > CONSUMERS_MAX {
        return Err(format!("{count} consumers, over the limit {CONSUMERS_MAX}"));
    }
    let mut at = 16;
    let mut map = BTreeMap::new();
    for i in 0..count {
        let take = |at: &mut usize, n: usize| -> Result<&[u8], String> {
            let s = body
                .get(*at..*at + n)
                .ok_or(format!("entry {i} runs past the end"))?;
            *at += n;
            Ok(s)
        };
        let len = u16::from_le_bytes(take(&mut at, 2)?.try_into().expect("2 bytes")) as usize;
        let name = std::str::from_utf8(take(&mut at, len)?)
            .map_err(|_| format!("entry {i}: name is not UTF-8"))?
            .to_owned();
        let next = u64::from_le_bytes(take(&mut at, 8)?.try_into().expect("8 bytes"));
        map.insert(name, next);
    }
    if at != body.len() {
        return Err(format!("{} bytes after the last entry", body.len() - at));
    }
    Ok(map)
}

/// The committed offsets of one partition's consumers.
#[derive(Debug)]
pub struct ConsumerOffsets {
    backend: Arc<dyn Backend>,
    dir: PathBuf,
    map: Mutex<BTreeMap<String, u64>>,
}

impl ConsumerOffsets {
    /// Loads the offsets of the partition in `dir` (none if no file yet).
    pub fn open(
        backend: Arc<dyn Backend>,
        dir: impl Into<PathBuf>,
    ) -> Result<ConsumerOffsets, OffsetsError> {
        let dir = dir.into();
        let path = dir.join(OFFSETS_FILE);
        let names = backend.list(&dir).map_err(|e| OffsetsError::Io {
            op: "list",
            path: dir.clone(),
            source: e,
        })?;
        // Temp files of commits a crash interrupted: never the committed state.
        let temp_prefix = format!(".{OFFSETS_FILE}.");
        for stale in names
            .iter()
            .filter(|n| n.starts_with(&temp_prefix) && n.ends_with(TEMP_SUFFIX))
        {
            let path = dir.join(stale);
            backend.remove(&path).map_err(|e| OffsetsError::Io {
                op: "remove",
                path,
                source: e,
            })?;
        }
        let map = if names.iter().any(|n| n == OFFSETS_FILE) {
            let bytes = backend.read(&path).map_err(|e| OffsetsError::Io {
                op: "read",
                path: path.clone(),
                source: e,
            })?;
            decode_offsets(&bytes).map_err(|reason| OffsetsError::Corrupt {
                path: path.clone(),
                reason,
            })?
        } else {
            BTreeMap::new()
        };
        Ok(ConsumerOffsets {
            backend,
            dir,
            map: Mutex::new(map),
        })
    }

    /// The committed next sequence of a consumer, if it ever committed.
    pub fn get(&self, consumer: &str) -> Option<u64> {
        self.lock().get(consumer).copied()
    }

    /// All consumers and their next sequences.
    pub fn all(&self) -> BTreeMap<String, u64> {
        self.lock().clone()
    }

    /// The lowest committed next sequence over all consumers: every record
    /// below it was acknowledged by everyone. `None` without consumers.
    pub fn min_committed(&self) -> Option<u64> {
        self.lock().values().copied().min()
    }

    /// Durably records that `consumer` has processed every record below
    /// `next_sequence`. Durable when it returns.
    pub fn commit(&self, consumer: &str, next_sequence: u64) -> Result<(), OffsetsError> {
        if consumer.is_empty() || consumer.len() > CONSUMER_NAME_BYTES_MAX {
            return Err(OffsetsError::BadName(consumer.to_owned()));
        }
        let mut map = self.lock();
        if !map.contains_key(consumer) && map.len() >= CONSUMERS_MAX {
            return Err(OffsetsError::TooManyConsumers);
        }
        let mut next = map.clone();
        next.insert(consumer.to_owned(), next_sequence);
        self.persist(&mut map, next)
    }

    /// Forgets a consumer (durably).
    pub fn remove(&self, consumer: &str) -> Result<(), OffsetsError> {
        let mut map = self.lock();
        let mut next = map.clone();
        if next.remove(consumer).is_none() {
            return Ok(());
        }
        self.persist(&mut map, next)
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `next` durably, then makes it the offsets in memory; on error
    /// the old offsets stay in force on disk and in memory.
    fn persist(
        &self,
        map: &mut std::sync::MutexGuard<'_, BTreeMap<String, u64>>,
        next: BTreeMap<String, u64>,
    ) -> Result<(), OffsetsError> {
        let path = self.dir.join(OFFSETS_FILE);
        atomic_replace(self.backend.as_ref(), &path, &encode(&next)).map_err(|(op, source)| {
            OffsetsError::Io {
                op,
                path: path.clone(),
                source,
            }
        })?;
        **map = next;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_and_every_flip_is_caught() {
        let mut map = BTreeMap::new();
        map.insert("a".to_owned(), 5);
        map.insert("reader-two".to_owned(), 1 << 40);
        let bytes = encode(&map);
        assert_eq!(decode_offsets(&bytes).unwrap(), map);
        for bit in 0..bytes.len() * 8 {
            let mut bad = bytes.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                decode_offsets(&bad).is_err(),
                "flip of bit {bit} went unnoticed"
            );
        }
    }
}
