//! The backing store: a key-value store for spilled and persisted state.
//! Keys are relative paths (`wasm-state/{module}`); each value is one file
//! replaced atomically and durably (temp file, fdatasync, rename, directory
//! fsync), framed with a checksum so damage is reported, never returned.
//!
//! Value file: `"KEELKV\0\0"`, version u32, payload length u64, crc32c u32
//! of the payload, then the payload.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::atomic_file::atomic_replace;
use crate::wal::io::Backend;

/// Bytes of a key at most.
pub const KEY_BYTES_MAX: usize = 1_024;
/// Bytes of one path segment of a key at most.
pub const KEY_SEGMENT_BYTES_MAX: usize = 200;
/// Bytes of a value at most.
pub const VALUE_BYTES_MAX: usize = 1 << 32;
const KV_MAGIC: [u8; 8] = *b"KEELKV\0\0";
const KV_VERSION: u32 = 1;
const KV_HEADER_BYTES: usize = 24;

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Empty key or empty segment (`a//b`, trailing `/`).
    #[error("key {0:?} is empty or has an empty path segment")]
    Empty(String),
    /// Starts with `/`.
    #[error("key {0:?} is absolute; keys are relative paths like `wasm-state/module`")]
    Absolute(String),
    /// A `.` or `..` segment, or one starting with a dot.
    #[error("key {0:?} has a `.`/`..` segment or one starting with a dot")]
    Dots(String),
    /// A character outside `[A-Za-z0-9_.-]` in a segment.
    #[error("key {key:?} has the character {bad:?}; allowed: letters, digits, `_`, `-`, `.`, and `/` between segments")]
    BadChar {
        /// The key.
        key: String,
        /// The first bad character.
        bad: char,
    },
    /// Over the length limits.
    #[error(
        "key {0:?} is over {KEY_BYTES_MAX} bytes or has a segment over {KEY_SEGMENT_BYTES_MAX}"
    )]
    TooLong(String),
}

/// Why a backing-store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A refused key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// I/O failed; the old value (if any) is intact.
    #[error("{op} {path}: {source}")]
    Io {
        /// The call.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The stored value is damaged.
    #[error("value of key {key:?} is corrupt: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// The value is over the limit.
    #[error("value of {0} bytes is over the limit of {VALUE_BYTES_MAX}")]
    TooLarge(usize),
}

/// Checks a key: relative, `/`-separated segments of `[A-Za-z0-9_.-]`, no
/// empty, `.`, `..` or dot-leading segment.
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty(key.into()));
    }
    if key.starts_with('/') {
        return Err(KeyError::Absolute(key.into()));
    }
    if key.len() > KEY_BYTES_MAX {
        return Err(KeyError::TooLong(key.into()));
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return Err(KeyError::Empty(key.into()));
        }
        if segment.starts_with('.') {
            return Err(KeyError::Dots(key.into()));
        }
        if segment.len() > KEY_SEGMENT_BYTES_MAX {
            return Err(KeyError::TooLong(key.into()));
        }
        if let Some(bad) = segment
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return Err(KeyError::BadChar {
                key: key.into(),
                bad,
            });
        }
    }
    Ok(())
}

/// Atomic, durable key-value store over a directory.
#[derive(Debug, Clone)]
pub struct BackingStore {
    backend: Arc<dyn Backend>,
    root: PathBuf,
}

impl BackingStore {
    /// A store rooted at `root` (created if missing).
    pub fn open(
        backend: Arc<dyn Backend>,
        root: impl Into<PathBuf>,
    ) -> Result<BackingStore, StoreError> {
        let root = root.into();
        backend.create_dir_all(&root).map_err(|e| StoreError::Io {
            op: "create dir",
            path: root.clone(),
            source: e,
        })?;
        Ok(BackingStore { backend, root })
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, KeyError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    /// Stores `value` under `key`: when it returns, the value is durable
    /// and a reader sees it whole; on error the old value is intact.
    pub fn put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        if value.len() > VALUE_BYTES_MAX {
            return Err(StoreError::TooLarge(value.len()));
        }
        let dir = crate::wal::io::parent_dir(&path);
        if dir != self.root {
            self.backend
                .create_dir_all(&dir)
                .map_err(|e| StoreError::Io {
                    op: "create dir",
                    path: dir.clone(),
                    source: e,
                })?;
            self.sync_new_dirs(&dir)?;
        }
        let mut bytes = Vec::with_capacity(KV_HEADER_BYTES + value.len());
        bytes.extend_from_slice(&KV_MAGIC);
        bytes.extend_from_slice(&KV_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(value.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(value).to_le_bytes());
        bytes.extend_from_slice(value);
        atomic_replace(self.backend.as_ref(), &path, &bytes).map_err(|(op, e)| StoreError::Io {
            op,
            path: path.clone(),
            source: e,
        })
    }

    /// Makes the directory chain from `dir` up to the root durable.
    fn sync_new_dirs(&self, dir: &Path) -> Result<(), StoreError> {
        let mut at = dir.to_path_buf();
        while at != self.root {
            let parent = crate::wal::io::parent_dir(&at);
            self.backend.sync_dir(&parent).map_err(|e| StoreError::Io {
                op: "fsync dir",
                path: parent.clone(),
                source: e,
            })?;
            at = parent;
        }
        Ok(())
    }

    /// The value under `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path_of(key)?;
        let bytes = match self.backend.read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StoreError::Io {
                    op: "read",
                    path,
                    source: e,
                })
            }
        };
        decode_value(&bytes)
            .map(|v| Some(v.to_vec()))
            .map_err(|reason| StoreError::Corrupt {
                key: key.into(),
                reason,
            })
    }

    /// Removes `key` durably; `false` if it was not there.
    pub fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let path = self.path_of(key)?;
        match self.backend.remove(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                return Err(StoreError::Io {
                    op: "remove",
                    path,
                    source: e,
                })
            }
        }
        let dir = crate::wal::io::parent_dir(&path);
        self.backend.sync_dir(&dir).map_err(|e| StoreError::Io {
            op: "fsync dir",
            path: dir,
            source: e,
        })?;
        Ok(true)
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn decode_value(bytes: &[u8]) -> Result<&[u8], String> {
    if bytes.len() < KV_HEADER_BYTES {
        return Err(format!(
            "{} bytes, shorter than the {KV_HEADER_BYTES}-byte header",
            bytes.len()
        ));
    }
    if bytes[..8] != KV_MAGIC {
        return Err("bad magic".into());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != KV_VERSION {
        return Err(format!(
            "format version {version}, this build reads {KV_VERSION}"
        ));
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    let stored = u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes"));
    let value = &bytes[KV_HEADER_BYTES..];
    if value.len() as u64 != len {
        return Err(format!(
            "header says {len} bytes, file holds {}",
            value.len()
        ));
    }
    let computed = crc32c::crc32c(value);
    if stored != computed {
        return Err(format!(
            "crc32c stored {stored:#010x}, computed {computed:#010x}"
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::sim::SimDisk;

    #[test]
    fn keys_are_validated() {
        assert!(validate_key("wasm-state/mod_1.v2").is_ok());
        assert!(matches!(
            validate_key("/etc/passwd"),
            Err(KeyError::Absolute(_))
        ));
        assert!(matches!(validate_key("a/../b"), Err(KeyError::Dots(_))));
        assert!(matches!(validate_key(".."), Err(KeyError::Dots(_))));
        assert!(matches!(validate_key("a//b"), Err(KeyError::Empty(_))));
        assert!(matches!(
            validate_key("a\\b"),
            Err(KeyError::BadChar { .. })
        ));
        assert!(matches!(validate_key(""), Err(KeyError::Empty(_))));
    }

    #[test]
    fn put_survives_power_cut_and_failed_put_keeps_old() {
        let disk = SimDisk::new();
        let store = BackingStore::open(Arc::new(disk.clone()), "/kv").unwrap();
        store.put("wasm-state/m", b"one").unwrap();
        disk.power_cut();
        assert_eq!(
            store.get("wasm-state/m").unwrap().as_deref(),
            Some(&b"one"[..])
        );
        for n in 0..6 {
            disk.fail_after(n);
            assert!(store.put("wasm-state/m", b"two-longer").is_err());
            disk.heal();
            disk.power_cut();
            assert_eq!(
                store.get("wasm-state/m").unwrap().as_deref(),
                Some(&b"one"[..]),
                "n = {n}"
            );
        }
        store.put("wasm-state/m", b"two").unwrap();
        disk.power_cut();
        assert_eq!(
            store.get("wasm-state/m").unwrap().as_deref(),
            Some(&b"two"[..])
        );
        assert!(store.delete("wasm-state/m").unwrap());
        disk.power_cut();
        assert_eq!(store.get("wasm-state/m").unwrap(), None);
    }
}
