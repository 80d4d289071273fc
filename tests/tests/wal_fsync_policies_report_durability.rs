//! Each fsync policy's receipts say truthfully when a record is durable:
//! "always" and the N-th record under "every N" are durable on return,
//! "every T ms" becomes durable by its deadline without further appends,
//! "never" only on an explicit sync or wait. A failed sync makes the log
//! refuse every later write with a sticky error.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_engine::config::FsyncPolicy;
use keel_storage::{Durability, LogOptions, PartitionLog, SimDisk, WalError};
use keel_tests::wal_support::{WrapHandle, WrappedDisk};

fn open(disk: &SimDisk, fsync: FsyncPolicy) -> PartitionLog {
    let options = LogOptions {
        segment_bytes: 1 << 20,
        fsync,
        fsync_every_records: 3,
        fsync_every_ms: 20,
    };
    PartitionLog::open(Arc::new(disk.clone()), "/p", options)
        .unwrap()
        .0
}

#[test]
fn always_is_durable_on_return() {
    let disk = SimDisk::new();
    let log = open(&disk, FsyncPolicy::Always);
    let r = log.append(b"x").unwrap();
    assert_eq!(r.durability, Durability::Durable);
    disk.power_cut();
    drop(log);
    assert_eq!(open(&disk, FsyncPolicy::Always).next_sequence(), 1);
}

#[test]
fn a_deferred_append_is_durable_once_waited_on() {
    let disk = SimDisk::new();
    let log = open(&disk, FsyncPolicy::Always);
    let a = log.append_deferred(b"a").unwrap();
    let b = log.append_deferred(b"b").unwrap();
    assert_eq!(a.durability, Durability::OnWait);
    assert!(!log.is_durable(&a), "deferred: no sync yet");
    log.wait(&b).unwrap();
    assert!(
        log.is_durable(&a) && log.is_durable(&b),
        "one sync covers both"
    );
    let c = log.append_deferred(b"c").unwrap();
    disk.power_cut();
    drop(log);
    let log = open(&disk, FsyncPolicy::Always);
    assert_eq!(log.next_sequence(), 2, "c ({c:?}) was never waited on");

    // Every N: only the append that reaches N defers a sync.
    let log = open(&SimDisk::new(), FsyncPolicy::EveryN);
    let a = log.append_deferred(b"a").unwrap();
    assert_eq!(a.durability, Durability::AtSequence(2));
    let b = log.append_deferred(b"b").unwrap();
    assert_eq!(b.durability, Durability::AtSequence(2));
    let c = log.append_deferred(b"c").unwrap();
    assert_eq!(c.durability, Durability::OnWait);
}

#[test]
fn every_n_syncs_on_the_nth_record() {
    let disk = SimDisk::new();
    let log = open(&disk, FsyncPolicy::EveryN);
    let a = log.append(b"a").unwrap();
    let b = log.append(b"b").unwrap();
    assert_eq!(a.durability, Durability::AtSequence(2));
    assert_eq!(b.durability, Durability::AtSequence(2));
    assert!(!log.is_durable(&a));
    let c = log.append(b"c").unwrap();
    assert_eq!(c.durability, Durability::Durable);
    assert!(log.is_durable(&a) && log.is_durable(&b));
    let d = log.append(b"d").unwrap();
    disk.power_cut();
    drop(log);
    let log = open(&disk, FsyncPolicy::EveryN);
    assert_eq!(
        log.next_sequence(),
        3,
        "d ({d:?}) was not durable, a..c were"
    );
}

#[test]
fn every_ms_becomes_durable_by_the_deadline_without_more_appends() {
    let disk = SimDisk::new();
    let log = open(&disk, FsyncPolicy::EveryMs);
    let r = log.append(b"x").unwrap();
    let Durability::ByDeadline(deadline) = r.durability else {
        panic!("{r:?}")
    };
    let give_up = Instant::now() + Duration::from_secs(5);
    while !log.is_durable(&r) {
        assert!(Instant::now() < give_up, "never synced");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(Instant::now() >= deadline - Duration::from_millis(20));
    disk.power_cut();
    drop(log);
    assert_eq!(open(&disk, FsyncPolicy::EveryMs).next_sequence(), 1);
}

#[test]
fn never_is_durable_only_when_asked() {
    let disk = SimDisk::new();
    let log = open(&disk, FsyncPolicy::Never);
    let r = log.append(b"x").unwrap();
    assert_eq!(r.durability, Durability::OnExplicitSync);
    assert!(!log.is_durable(&r));
    log.wait(&r).unwrap();
    assert!(log.is_durable(&r));
    let _ = log.append(b"y").unwrap();
    disk.power_cut();
    drop(log);
    assert_eq!(open(&disk, FsyncPolicy::Never).next_sequence(), 1);
}

#[test]
fn a_failed_sync_is_sticky() {
    let disk = SimDisk::new();
    let log = open(&disk, FsyncPolicy::Always);
    let _ = log.append(b"ok").unwrap();
    disk.fail_after(1); // the write lands, the fdatasync fails
    let err = log.append(b"lost?").unwrap_err();
    assert!(
        matches!(
            err,
            WalError::Io {
                op: "fdatasync",
                ..
            }
        ),
        "{err}"
    );
    disk.heal();
    for _ in 0..3 {
        let err = log.append(b"more").unwrap_err();
        assert!(
            matches!(
                err,
                WalError::Failed {
                    op: "fdatasync",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("reopen"), "{err}");
    }
    assert!(matches!(log.sync(), Err(WalError::Failed { .. })));
}

/// Makes every sync of a handle take 0.5 ms once `slow` is set.
#[derive(Debug)]
struct SlowSyncs {
    syncs: Arc<AtomicUsize>,
    slow: Arc<AtomicBool>,
}

#[derive(Debug)]
struct SlowFile {
    inner: Arc<dyn keel_storage::BackendFile>,
    syncs: Arc<AtomicUsize>,
    slow: Arc<AtomicBool>,
}

impl keel_storage::BackendFile for SlowFile {
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        // Relaxed: test counters, read after the threads are joined.
        if self.slow.load(Ordering::Relaxed) {
            self.syncs.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_micros(500));
        }
        self.inner.sync_data()
    }
}

impl WrapHandle for SlowSyncs {
    fn wrap(
        &self,
        inner: Arc<dyn keel_storage::BackendFile>,
    ) -> Arc<dyn keel_storage::BackendFile> {
        Arc::new(SlowFile {
            inner,
            syncs: self.syncs.clone(),
            slow: self.slow.clone(),
        })
    }
}

/// 16 threads appending under "always" share syncs: far fewer syncs than
/// records (a sync takes 0.5 ms here, like a real fdatasync).
#[test]
fn always_shares_one_sync_between_concurrent_appenders() {
    let backend = WrappedDisk {
        disk: SimDisk::new(),
        wrap: SlowSyncs {
            syncs: Arc::new(AtomicUsize::new(0)),
            slow: Arc::new(AtomicBool::new(false)),
        },
    };
    let (syncs, slow) = (backend.wrap.syncs.clone(), backend.wrap.slow.clone());
    let options = LogOptions {
        fsync: FsyncPolicy::Always,
        ..LogOptions::default()
    };
    let log = Arc::new(
        PartitionLog::open(Arc::new(backend), "/p", options)
            .unwrap()
            .0,
    );
    slow.store(true, Ordering::Relaxed);
    const THREADS: usize = 16;
    const PER_THREAD: usize = 40;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let r = log.append(&[t as u8, i as u8]).unwrap();
                    assert!(log.is_durable(&r));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let records = THREADS * PER_THREAD;
    let syncs = syncs.load(Ordering::Relaxed);
    assert!(
        syncs * 4 <= records,
        "{syncs} syncs for {records} records: not shared"
    );
}
