//! The file backing store behind a bounded cache: [`FileCacheStore`]
//! implements the engine's `BackingStore<K, V>` trait over the durable
//! [`BackingStore`] (the engine knows nothing of files; this crate depends
//! on it, never the other way round), so a cache can read through from it
//! (`get_or_load`), write through to it, or write dirty entries back on
//! eviction and `flush`.
//!
//! A [`CacheCodec`] maps a cache key to a store key (a relative path such
//! as `wasm-state/{module}`) and a value to bytes and back; [`PrefixedBytes`]
//! is the codec for `String` keys and `Vec<u8>` values under one prefix.
//!
//! ```
//! use std::sync::Arc;
//! use keel_engine::{BoundedCache, EvictionPolicy, WritePolicy};
//! use keel_storage::{BackingStore, FileCacheStore, SimDisk};
//!
//! let store = BackingStore::open(Arc::new(SimDisk::new()), "/kv").unwrap();
//! let file = Arc::new(FileCacheStore::bytes(store, "wasm-state").unwrap());
//! let cache = BoundedCache::<String, Vec<u8>>::builder("wasm-state")
//!     .policy(EvictionPolicy::Lru)
//!     .max_entries(16)
//!     .shards(1)
//!     .backing(file.clone(), WritePolicy::WriteThrough)
//!     .build()
//!     .unwrap();
//! cache.put("counter".into(), b"42".to_vec()).unwrap(); // durable now
//! assert_eq!(file.inner().get("wasm-state/counter").unwrap().as_deref(), Some(&b"42"[..]));
//! ```

use std::borrow::Cow;

use keel_engine::{BackingError, BackingErrorKind};

use crate::backing_store::{validate_key, BackingStore, KeyError, StoreError};

/// How a cache's keys and values map onto the file store's keys and bytes.
pub trait CacheCodec<K, V>: Send + Sync {
    /// The store key of `key`: a relative path that
    /// [`validate_key`](crate::validate_key) accepts, or the operation
    /// fails with [`BackingErrorKind::BadKey`].
    fn store_key(&self, key: &K) -> String;

    /// The bytes stored for `value`.
    fn encode<'v>(&self, value: &'v V) -> Cow<'v, [u8]>;

    /// The value stored as `bytes`; `Err` says why they do not decode.
    fn decode(&self, bytes: Vec<u8>) -> Result<V, String>;
}

/// `String` keys under a fixed path prefix (`"wasm-state"`: key `m`
/// is stored as `wasm-state/m`), `Vec<u8>` values stored as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixedBytes {
    /// Ends with `/` unless empty.
    prefix: String,
}

impl PrefixedBytes {
    /// Keys under `prefix` (checked like a key; `""` for no prefix).
    pub fn new(prefix: &str) -> Result<PrefixedBytes, KeyError> {
        if prefix.is_empty() {
            return Ok(PrefixedBytes {
                prefix: String::new(),
            });
        }
        validate_key(prefix)?;
        Ok(PrefixedBytes {
            prefix: format!("{prefix}/"),
        })
    }
}

impl CacheCodec<String, Vec<u8>> for PrefixedBytes {
    fn store_key(&self, key: &String) -> String {
        format!("{}{key}", self.prefix)
    }

    fn encode<'v>(&self, value: &'v Vec<u8>) -> Cow<'v, [u8]> {
        Cow::Borrowed(value)
    }

    fn decode(&self, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(bytes)
    }
}

/// The durable file store as a cache's backing store; see the module docs.
/// Each `store` is atomic and durable when it returns (temp file, sync,
/// rename, directory sync), so a write-through `put` or a write-back
/// eviction that returned survives a crash.
#[derive(Debug, Clone)]
pub struct FileCacheStore<C> {
    store: BackingStore,
    codec: C,
}

impl FileCacheStore<PrefixedBytes> {
    /// `String` keys stored under `prefix/`, `Vec<u8>` values as they are.
    pub fn bytes(store: BackingStore, prefix: &str) -> Result<Self, KeyError> {
        Ok(FileCacheStore::with_codec(
            store,
            PrefixedBytes::new(prefix)?,
        ))
    }
}

impl<C> FileCacheStore<C> {
    /// Keys and values mapped by `codec`.
    pub fn with_codec(store: BackingStore, codec: C) -> FileCacheStore<C> {
        FileCacheStore { store, codec }
    }

    /// The file store underneath (to read or delete outside the cache).
    pub fn inner(&self) -> &BackingStore {
        &self.store
    }
}

/// The engine's error for a store error on `key` during `op`.
fn backing_error(op: &'static str, key: String, e: StoreError) -> BackingError {
    let kind = match &e {
        StoreError::Key(_) => BackingErrorKind::BadKey,
        StoreError::Io { .. } => BackingErrorKind::Io,
        StoreError::Corrupt { .. } => BackingErrorKind::Corrupt,
        StoreError::TooLarge(_) => BackingErrorKind::TooLarge,
    };
    BackingError {
        op,
        kind,
        key,
        message: e.to_string(),
    }
}

impl<K, V, C: CacheCodec<K, V>> keel_engine::BackingStore<K, V> for FileCacheStore<C> {
    fn load(&self, key: &K) -> Result<Option<V>, BackingError> {
        let path = self.codec.store_key(key);
        let Some(bytes) = self
            .store
            .get(&path)
            .map_err(|e| backing_error("load", path.clone(), e))?
        else {
            return Ok(None);
        };
        self.codec.decode(bytes).map(Some).map_err(|reason| {
            let corrupt = StoreError::Corrupt {
                key: path.clone(),
                reason,
            };
            backing_error("load", path, corrupt)
        })
    }

    fn store(&self, key: &K, value: &V) -> Result<(), BackingError> {
        let path = self.codec.store_key(key);
        let bytes = self.codec.encode(value);
        self.store
            .put(&path, &bytes)
            .map_err(|e| backing_error("store", path, e))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use keel_engine::BackingStore as _;

    use super::*;
    use crate::wal::sim::SimDisk;

    fn file_store(prefix: &str) -> FileCacheStore<PrefixedBytes> {
        let store = BackingStore::open(Arc::new(SimDisk::new()), "/kv").unwrap();
        FileCacheStore::bytes(store, prefix).unwrap()
    }

    #[test]
    fn values_round_trip_under_the_prefix() {
        let s = file_store("wasm-state");
        s.store(&"m1".to_owned(), &b"state".to_vec()).unwrap();
        assert_eq!(s.load(&"m1".to_owned()).unwrap(), Some(b"state".to_vec()));
        assert_eq!(
            s.inner().get("wasm-state/m1").unwrap().as_deref(),
            Some(&b"state"[..])
        );
        assert_eq!(s.load(&"m2".to_owned()).unwrap(), None);
    }

    #[test]
    fn a_bad_prefix_or_key_is_a_typed_error_naming_it() {
        let store = BackingStore::open(Arc::new(SimDisk::new()), "/kv").unwrap();
        assert!(matches!(
            FileCacheStore::bytes(store, "../up"),
            Err(KeyError::Dots(_))
        ));
        let s = file_store("wasm-state");
        let err = s.store(&"a b".to_owned(), &vec![1]).unwrap_err();
        assert_eq!(err.kind, BackingErrorKind::BadKey);
        assert_eq!(err.key, "wasm-state/a b");
        assert!(err.to_string().contains("wasm-state/a b"), "{err}");
    }

    #[test]
    fn undecodable_bytes_are_corrupt() {
        struct Utf8;
        impl CacheCodec<String, String> for Utf8 {
            fn store_key(&self, key: &String) -> String {
                key.clone()
            }
            fn encode<'v>(&self, value: &'v String) -> Cow<'v, [u8]> {
                Cow::Borrowed(value.as_bytes())
            }
            fn decode(&self, bytes: Vec<u8>) -> Result<String, String> {
                String::from_utf8(bytes).map_err(|e| e.to_string())
            }
        }
        let store = BackingStore::open(Arc::new(SimDisk::new()), "/kv").unwrap();
        store.put("k", &[0xff, 0xfe]).unwrap();
        let s = FileCacheStore::with_codec(store, Utf8);
        let err = s.load(&"k".to_owned()).unwrap_err();
        assert_eq!(
            (err.kind, err.key.as_str()),
            (BackingErrorKind::Corrupt, "k")
        );
    }
}
