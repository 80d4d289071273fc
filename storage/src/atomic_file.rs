//! Whole-file atomic replacement: write a temp file, `fdatasync` it,
//! rename it over the target, `fsync` the directory. A reader sees the old
//! content or the new, never a mix; after it returns the new content
//! survives a power cut.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::wal::io::{parent_dir, Backend};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Suffix of temp files; they start with a dot, which no key or offsets
/// file name does, so a leftover one is never mistaken for data.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// The temp path for one write of `path`.
fn temp_path(path: &Path) -> PathBuf {
    // Relaxed: only uniqueness matters; no data is published through it.
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    parent_dir(path).join(format!(".{name}.{}.{n}{TEMP_SUFFIX}", std::process::id()))
}

/// Replaces `path` with `bytes` atomically and durably. On error, the call
/// that failed and its OS error; the old content is still in place.
pub(crate) fn atomic_replace(
    backend: &dyn Backend,
    path: &Path,
    bytes: &[u8],
) -> Result<(), (&'static str, io::Error)> {
    let temp = temp_path(path);
    let file = backend.create(&temp, 0).map_err(|e| ("create", e))?;
    let written = file
        .write_at(bytes, 0)
        .map_err(|e| ("write", e))
        .and_then(|()| file.sync_data().map_err(|e| ("fdatasync", e)));
    drop(file);
    if let Err(e) = written {
        let _ = backend.remove(&temp);
        return Err(e);
    }
    if let Err(e) = backend.rename(&temp, path) {
        let _ = backend.remove(&temp);
        return Err(("rename", e));
    }
    backend
        .sync_dir(&parent_dir(path))
        .map_err(|e| ("fsync dir", e))
}
