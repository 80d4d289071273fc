//! The file operations the log and the backing store need, behind a trait
//! so tests can inject faults ([`SimDisk`](super::sim::SimDisk)) and power cuts.
//!
//! [`OsBackend`] writes with `pwrite(2)` and syncs with `fdatasync(2)`
//! (measured: see `storage/FORMAT.md`, "Why pwrite"), and reads through
//! read-only memory maps (`memmap2`).

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Deref;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An open file the log writes to.
pub trait BackendFile: Send + Sync + Debug {
    /// Writes all of `buf` at `offset` (one `pwrite` loop).
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes every write so far durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
}

/// A file system: what the log, offsets and backing store do to files.
pub trait Backend: Send + Sync + Debug {
    /// Creates a new file of `len` bytes, preallocated and zero-filled.
    /// Fails if it exists.
    fn create(&self, path: &Path, len: u64) -> io::Result<Arc<dyn BackendFile>>;
    /// Opens an existing file for writing.
    fn open(&self, path: &Path) -> io::Result<Arc<dyn BackendFile>>;
    /// The whole content of a file, for reading.
    fn read(&self, path: &Path) -> io::Result<FileBytes>;
    /// The files (not directories) directly in `dir`, by name.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Atomically replaces `to` with `from`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creates, renames, removes) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// File content lent for reading: a read-only map or an owned copy.
#[derive(Debug)]
pub enum FileBytes {
    /// A read-only memory map of the file.
    Mapped(memmap2::Mmap),
    /// A copy (empty files, simulated disks).
    Owned(Vec<u8>),
}

impl Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m,
            FileBytes::Owned(v) => v,
        }
    }
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsBackend;

#[derive(Debug)]
struct OsFile(File);

impl BackendFile for OsFile {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_all_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

fn preallocate(file: &File, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::other("length over off_t"))?;
    // SAFETY: the descriptor is open and owned by `file` for this call;
    // fallocate reads no memory of ours.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        // File systems without fallocate: a sparse file reads as zeros too.
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => file.set_len(len as u64),
        _ => Err(err),
    }
}

impl Backend for OsBackend {
    fn create(&self, path: &Path, len: u64) -> io::Result<Arc<dyn BackendFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(path)?;
        if len > 0 {
            preallocate(&file, len)?;
        }
        Ok(Arc::new(OsFile(file)))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn BackendFile>> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Arc::new(OsFile(file)))
    }

    fn read(&self, path: &Path) -> io::Result<FileBytes> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(FileBytes::Owned(Vec::new()));
        }
        // Keel's writers only append past the bytes a reader has been told
        // about (or zero a cut tail before any reader sees it); a foreign
        // truncation could still fault (documented in storage/FORMAT.md).
        // SAFETY: the map is read-only and, as above, its bytes do not
        // change under readers.
        let map = unsafe { memmap2::MmapOptions::new().map(&file)? };
        // Readers walk the file front to back; failure to advise is harmless.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(FileBytes::Mapped(map))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Some(name) = entry.file_name().to_str() {
                    names.push(name.to_owned());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// The parent directory of a path ("." for a bare name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
