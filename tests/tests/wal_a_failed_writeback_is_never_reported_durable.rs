//! Linux reports a failed writeback to one `fsync` per open file
//! description, then clears it for that description. The log must not let
//! two syncs share a description: when a group-commit leader takes the
//! error, a segment roll syncing at the same time must still see it, and
//! the record whose writeback failed must never be reported durable.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use keel_engine::config::FsyncPolicy;
use keel_storage::{BackendFile, LogOptions, PartitionLog, SimDisk};
use keel_tests::wal_support::{WrapHandle, WrappedDisk};

/// Writeback errors as Linux's `errseq_t` reports them.
#[derive(Debug, Default)]
struct Errors {
    /// Bumped by every failed writeback.
    seq: u64,
    /// The next sync fails its writeback and then blocks until another
    /// sync has run.
    arm: bool,
    /// A sync is blocked holding the error it took.
    blocked: bool,
    /// Another sync has run since.
    other_synced: bool,
}

#[derive(Debug, Default)]
struct Shared {
    errors: Mutex<Errors>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Errors> {
        self.errors.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug)]
struct Handle {
    inner: Arc<dyn BackendFile>,
    shared: Arc<Shared>,
    /// The error sequence this handle has reported up to.
    seen: Mutex<u64>,
}

/// `EIO` on Linux.
const EIO: i32 = 5;

fn eio() -> io::Error {
    io::Error::from_raw_os_error(EIO)
}

impl BackendFile for Handle {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write_at(buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut e = self.shared.lock();
        if e.arm {
            // The writeback of what this sync covers fails; this handle
            // takes the error, then waits (bounded, so a log that never
            // syncs again cannot hang the test) for another sync.
            e.arm = false;
            e.seq += 1;
            *seen = e.seq;
            drop(seen);
            e.blocked = true;
            self.shared.changed.notify_all();
            let (mut e, _) = self
                .shared
                .changed
                .wait_timeout_while(e, Duration::from_secs(10), |e| !e.other_synced)
                .unwrap_or_else(|e| e.into_inner());
            e.blocked = false;
            return Err(eio());
        }
        let report = *seen < e.seq;
        *seen = e.seq;
        if e.blocked {
            e.other_synced = true;
            self.shared.changed.notify_all();
        }
        drop(e);
        if report {
            return Err(eio());
        }
        self.inner.sync_data()
    }
}

/// Handles that report writeback errors like open file descriptions do:
/// each handle sees an error once.
#[derive(Debug)]
struct Errseq(Arc<Shared>);

impl WrapHandle for Errseq {
    fn wrap(&self, inner: Arc<dyn BackendFile>) -> Arc<dyn BackendFile> {
        // A new description reports only errors after it was opened.
        let seen = Mutex::new(self.0.lock().seq);
        Arc::new(Handle {
            inner,
            shared: self.0.clone(),
            seen,
        })
    }
}

/// A leader's sync takes the writeback error of the first record; while it
/// holds it, a second append fills the segment and rolls it, syncing the
/// same segment. The roll must see the error too, and the first record must
/// never count as durable.
#[test]
fn a_roll_beside_a_failing_group_sync_still_sees_the_error() {
    let shared = Arc::new(Shared::default());
    let backend = WrappedDisk {
        disk: SimDisk::new(),
        wrap: Errseq(shared.clone()),
    };
    let options = LogOptions {
        segment_bytes: 4 << 10,
        fsync: FsyncPolicy::Always,
        fsync_every_records: 1,
        fsync_every_ms: 20,
    };
    let log = Arc::new(
        PartitionLog::open(Arc::new(backend), "/p", options)
            .unwrap()
            .0,
    );
    shared.lock().arm = true;
    let leader = {
        let log = log.clone();
        std::thread::spawn(move || log.append(&[1u8; 2_500]))
    };
    {
        let e = shared.lock();
        let (e, timeout) = shared
            .changed
            .wait_timeout_while(e, Duration::from_secs(10), |e| !e.blocked)
            .unwrap_or_else(|e| e.into_inner());
        assert!(!timeout.timed_out() && e.blocked, "the leader never synced");
    }
    // Does not fit behind the first record: rolls the segment.
    let second = log.append(&[2u8; 2_500]);
    let first = leader.join().unwrap();
    assert!(
        first.is_err(),
        "the failed sync was acknowledged: {first:?}"
    );
    assert!(second.is_err(), "appended over a failed sync: {second:?}");
    assert!(
        log.wait_for(0).is_err(),
        "the record whose writeback failed is reported durable"
    );
}
