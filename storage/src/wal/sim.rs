//! A simulated disk for tests: files in memory, each with the bytes the OS
//! has (written) and the bytes the media has (synced). It can fail every
//! operation after the N-th (a failing write may land half), and cut the
//! power: every write and directory change not yet synced is dropped.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::io::{parent_dir, Backend, BackendFile, FileBytes};

#[derive(Debug, Default)]
struct Content {
    written: Vec<u8>,
    synced: Vec<u8>,
    /// Preallocated length: reads see zeros up to here (kept sparse so a
    /// sync copies only what was written).
    len: usize,
}

#[derive(Debug, Default)]
struct SimFile {
    content: Mutex<Content>,
}

#[derive(Debug, Default)]
struct Names {
    /// What `list` and `open` see.
    live: BTreeMap<PathBuf, Arc<SimFile>>,
    /// What survives a power cut: updated per directory by `sync_dir`.
    durable: BTreeMap<PathBuf, Arc<SimFile>>,
}

#[derive(Debug)]
struct Faults {
    /// Operations done so far.
    ops: AtomicU64,
    /// Operations allowed before every one fails (`u64::MAX`: never).
    fail_after: AtomicU64,
}

/// An in-memory disk with fault injection. Cloning shares the disk.
#[derive(Debug, Clone)]
pub struct SimDisk {
    names: Arc<Mutex<Names>>,
    faults: Arc<Faults>,
}

impl Default for SimDisk {
    fn default() -> Self {
        SimDisk::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug)]
struct SimHandle {
    file: Arc<SimFile>,
    faults: Arc<Faults>,
}

impl Faults {
    /// Counts one operation; `Err` once the budget is spent.
    fn tick(&self) -> io::Result<()> {
        // Relaxed: a counter for fault injection only; nothing is published
        // through it (partner: the Relaxed loads in `tick` and `ops`).
        let n = self.ops.fetch_add(1, Ordering::Relaxed);
        if n >= self.fail_after.load(Ordering::Relaxed) {
            return Err(io::Error::other("injected I/O failure"));
        }
        Ok(())
    }
}

impl BackendFile for SimHandle {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let failed = self.faults.tick();
        // A failing write may land half: the first half goes in.
        let take = if failed.is_err() {
            buf.len() / 2
        } else {
            buf.len()
        };
        let mut c = lock(&self.file.content);
        let end = offset as usize + take;
        if c.written.len() < end {
            c.written.resize(end, 0);
        }
        c.written[offset as usize..end].copy_from_slice(&buf[..take]);
        failed
    }

    fn sync_data(&self) -> io::Result<()> {
        self.faults.tick()?;
        let mut c = lock(&self.file.content);
        c.synced = c.written.clone();
        Ok(())
    }
}

impl SimDisk {
    /// An empty disk that never fails.
    pub fn new() -> SimDisk {
        SimDisk {
            names: Arc::default(),
            faults: Arc::new(Faults {
                ops: AtomicU64::new(0),
                fail_after: AtomicU64::new(u64::MAX),
            }),
        }
    }

    /// Every operation after `n` more fails (writes land half).
    pub fn fail_after(&self, n: u64) {
        // Relaxed: see `Faults::tick`.
        let done = self.faults.ops.load(Ordering::Relaxed);
        self.faults
            .fail_after
            .store(done.saturating_add(n), Ordering::Relaxed);
    }

    /// Stops injecting failures.
    pub fn heal(&self) {
        // Relaxed: see `Faults::tick`.
        self.faults.fail_after.store(u64::MAX, Ordering::Relaxed);
    }

    /// Operations done so far.
    pub fn ops(&self) -> u64 {
        // Relaxed: see `Faults::tick`.
        self.faults.ops.load(Ordering::Relaxed)
    }

    /// Power cut: drops every write and directory change not yet synced.
    /// Open handles keep pointing at the old files; reopen everything.
    pub fn power_cut(&self) {
        let mut names = lock(&self.names);
        let durable = names.durable.clone();
        let mut live = BTreeMap::new();
        for (path, file) in durable {
            let synced = lock(&file.content).synced.clone();
            let fresh = Arc::new(SimFile {
                content: Mutex::new(Content {
                    written: synced.clone(),
                    synced,
                    len: lock(&file.content).len,
                }),
            });
            live.insert(path, fresh);
        }
        names.durable = live.clone();
        names.live = live;
    }

    fn file(&self, path: &Path) -> io::Result<Arc<SimFile>> {
        lock(&self.names)
            .live
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, path.display().to_string()))
    }

    fn handle(&self, file: Arc<SimFile>) -> Arc<dyn BackendFile> {
        Arc::new(SimHandle {
            file,
            faults: self.faults.clone(),
        })
    }
}

impl Backend for SimDisk {
    fn create(&self, path: &Path, len: u64) -> io::Result<Arc<dyn BackendFile>> {
        self.faults.tick()?;
        let mut names = lock(&self.names);
        if names.live.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                path.display().to_string(),
            ));
        }
        let file = Arc::new(SimFile::default());
        lock(&file.content).len = len as usize;
        names.live.insert(path.to_path_buf(), file.clone());
        drop(names);
        Ok(self.handle(file))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn BackendFile>> {
        self.faults.tick()?;
        Ok(self.handle(self.file(path)?))
    }

    fn read(&self, path: &Path) -> io::Result<FileBytes> {
        self.faults.tick()?;
        let file = self.file(path)?;
        let c = lock(&file.content);
        let mut bytes = c.written.clone();
        bytes.resize(bytes.len().max(c.len), 0);
        Ok(FileBytes::Owned(bytes))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.faults.tick()?;
        let names = lock(&self.names);
        Ok(names
            .live
            .keys()
            .filter(|p| parent_dir(p) == dir)
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.faults.tick()?;
        let mut names = lock(&self.names);
        names
            .live
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, path.display().to_string()))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.faults.tick()?;
        let mut names = lock(&self.names);
        let file = names
            .live
            .remove(from)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, from.display().to_string()))?;
        names.live.insert(to.to_path_buf(), file);
        Ok(())
    }

    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        // Directories are implied by paths here; the call still counts
        // toward fault injection.
        self.faults.tick()
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.faults.tick()?;
        let mut names = lock(&self.names);
        names.durable.retain(|p, _| parent_dir(p) != dir);
        let entries: Vec<_> = names
            .live
            .iter()
            .filter(|(p, _)| parent_dir(p) == dir)
            .map(|(p, f)| (p.clone(), f.clone()))
            .collect();
        names.durable.extend(entries);
        Ok(())
    }
}
