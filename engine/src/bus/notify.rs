//! Wakes parked subscribers when a publisher adds messages.
//!
//! A subscriber with nothing to read registers itself, polls once more,
//! then parks for at most `PARK_MAX`. A publisher checks one counter per
//! publish (a relaxed load of a read-mostly line) and wakes the registered
//! threads when it is non-zero. The check is not a fence-backed handshake:
//! a wake-up lost to that race costs at most `PARK_MAX` of latency, never a
//! message, and keeps a fence off the publish path.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::Thread;
use std::time::Duration;

use crossbeam_utils::CachePadded;

/// Longest a subscriber parks before polling again.
pub(crate) const PARK_MAX: Duration = Duration::from_millis(1);

#[derive(Default)]
pub(crate) struct Notifier {
    sleepers: CachePadded<AtomicUsize>,
    threads: Mutex<Vec<Thread>>,
}

impl Notifier {
    /// Called by publishers after publishing.
    #[inline]
    pub(crate) fn notify(&self) {
        // Relaxed: a hint; see the module comment for why a missed wake-up
        // is bounded. Pairs with the increment in `park`.
        if self.sleepers.load(Ordering::Relaxed) != 0 {
            self.wake_all();
        }
    }

    #[cold]
    fn wake_all(&self) {
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        // Relaxed: under the mutex, which orders it with `park`.
        self.sleepers.store(0, Ordering::Relaxed);
        for t in threads.drain(..) {
            t.unpark();
        }
    }

    /// Parks the calling subscriber unless `ready()` turns true after it
    /// registered.
    pub(crate) fn park(&self, ready: impl Fn() -> bool, timeout: Duration) {
        let me = std::thread::current();
        let id = me.id();
        {
            let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
            threads.push(me);
            // Relaxed: under the mutex; read as a hint by `notify`.
            self.sleepers.fetch_add(1, Ordering::Relaxed);
        }
        if !ready() {
            std::thread::park_timeout(timeout.min(PARK_MAX));
        }
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = threads.iter().position(|t| t.id() == id) {
            threads.swap_remove(i);
            // Relaxed: under the mutex.
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
