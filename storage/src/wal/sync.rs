//! Receipts and group commit. Under policy "always" every appender waits
//! until a sync covers its record; one of them (the leader) runs the
//! `fdatasync` for everyone whose record was written before it started,
//! the others park (never spin) until the leader unparks them. It unparks
//! after dropping the commit lock, so a woken thread does not block on
//! that lock while the leader is still waking others (16 producers on 2
//! vCPUs: 9.0-9.3x the naive peer, against 7.4-7.8x waking under the
//! lock). Before syncing, the leader waits a bounded time (half the last
//! sync's duration) for appenders that are already inside `append` to add
//! their records, so 16 producers share one sync instead of alternating
//! in two halves. (The sync itself is kept short by the writer's zeros
//! ahead of the records: `Writer::zero_ahead` in `log.rs`.)

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::error::WalError;

/// A leader gathers for at most the last sync's duration divided by this
/// (measured with 16 producers on the 2-vCPU development VM: waiting half
/// a sync already fills batches to ~15.5 of 16; waiting longer only adds
/// latency, not waiting at all leaves batches at ~11).
pub const GATHER_SYNC_DIVISOR: u64 = 2;
/// Longest a leader waits for appenders already in flight to join a sync.
pub const GATHER_WAIT_US_MAX: u64 = 2_000;
/// Shortest gather wait (the estimate of one sync is clamped up to this).
pub const GATHER_WAIT_US_MIN: u64 = 50;
const _: () = assert!(GATHER_WAIT_US_MIN < GATHER_WAIT_US_MAX);

/// When an appended record becomes durable under the log's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Already synced when `append` returned (policy "always", or this
    /// append triggered the every-N sync).
    Durable,
    /// Synced when the log reaches this sequence (policy every N records).
    AtSequence(u64),
    /// Synced by this instant at the latest (policy every T ms).
    ByDeadline(Instant),
    /// Only when someone calls `sync` or waits on a receipt (policy never).
    OnExplicitSync,
    /// When [`PartitionLog::wait`](super::log::PartitionLog::wait) on this
    /// receipt returns (it syncs, sharing the sync with other waiters): an
    /// [`append_deferred`](super::log::PartitionLog::append_deferred)
    /// under policy "always", or one that reached every-N.
    OnWait,
}

/// What `append` returns: the record's sequence and when it is durable.
/// [`PartitionLog::wait`](super::log::PartitionLog::wait) blocks until it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a receipt says when the record is durable"]
pub struct Receipt {
    /// The record's sequence.
    pub sequence: u64,
    /// When it is durable.
    pub durability: Durability,
}

#[derive(Debug, Default)]
struct CommitState {
    /// A leader is between deciding to sync and publishing the result.
    syncing: bool,
    /// A leader is waiting for in-flight appenders to arrive.
    gathering: bool,
    /// Parked followers and their sequences, whose record no finished sync
    /// has covered yet (a leader removes and unparks the ones its sync
    /// covered, so threads still waking up are not counted as waiting).
    waiting: Vec<(u64, std::thread::Thread)>,
    /// Duration of the last sync, the gather wait's estimate.
    last_sync_ns: u64,
}

/// Shared sync state of one log.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    /// Every sequence below this is durable.
    durable_end: AtomicU64,
    /// Appenders inside `append` under policy "always" (a hint).
    in_flight: AtomicUsize,
    state: Mutex<CommitState>,
    /// Signalled when a waiter arrives while the leader gathers.
    arrived: Condvar,
}

/// Removes the waiters below `end` and returns them, plus one waiter not
/// covered (it stays listed) to lead the next sync unless one is running:
/// the caller unparks them after dropping the state lock, so the threads
/// it wakes do not block on that lock while it is still waking others.
fn release(st: &mut CommitState, end: u64) -> Vec<std::thread::Thread> {
    let mut wake = Vec::with_capacity(st.waiting.len());
    let mut baton_passed = st.syncing;
    st.waiting.retain(|(sequence, thread)| {
        let covered = *sequence < end;
        if covered || !baton_passed {
            baton_passed |= !covered;
            wake.push(thread.clone());
        }
        !covered
    });
    wake
}

fn unpark_all(threads: Vec<std::thread::Thread>) {
    for t in threads {
        t.unpark();
    }
}

/// Drops one waiter entry for `sequence`, if there is one.
fn remove_waiter(waiting: &mut Vec<(u64, std::thread::Thread)>, sequence: u64) {
    if let Some(at) = waiting.iter().position(|w| w.0 == sequence) {
        waiting.swap_remove(at);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts an appender in flight until dropped.
pub(crate) struct InFlight<'a>(&'a GroupCommit);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        // Relaxed: a hint for the leader's bounded gather wait; no data is
        // published through it (partner: the Relaxed load in `gather`).
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Waiter slots preallocated (more threads grow the vector once).
const WAITERS_PREALLOCATED: usize = 64;

impl GroupCommit {
    pub(crate) fn new(durable_end: u64) -> GroupCommit {
        let commit = GroupCommit::default();
        commit
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .waiting
            .reserve(WAITERS_PREALLOCATED);
        // Relaxed: not yet shared with any thread.
        commit.durable_end.store(durable_end, Ordering::Relaxed);
        commit
    }

    pub(crate) fn enter(&self) -> InFlight<'_> {
        // Relaxed: see `InFlight::drop`.
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Whether `sequence` is durable.
    pub(crate) fn is_durable(&self, sequence: u64) -> bool {
        self.durable_end() > sequence
    }

    /// The sequence below which every record is durable.
    pub(crate) fn durable_end(&self) -> u64 {
        // Acquire: pairs with the Release `fetch_max` in `raise`, so the
        // sync that made a record durable happened before we say it is.
        self.durable_end.load(Ordering::Acquire)
    }

    /// Every sequence below `end` is durable: wakes the waiters it covers.
    pub(crate) fn publish(&self, end: u64) {
        let end = self.raise(end);
        let wake = release(&mut lock(&self.state), end);
        unpark_all(wake);
    }

    /// Raises the durable mark; returns the mark now in force.
    fn raise(&self, end: u64) -> u64 {
        // Release: pairs with the Acquire load in `durable_end`, so a thread
        // that sees its record durable also sees the sync happened.
        self.durable_end.fetch_max(end, Ordering::Release).max(end)
    }

    /// Blocks until `sequence` is durable, running the sync as leader when
    /// no other thread is. `sync` flushes and syncs the log and returns the
    /// sequence below which everything is now durable.
    ///
    /// Followers park (no spinning, no shared lock on wake-up): the leader
    /// unparks exactly the waiters its sync covered, plus one uncovered
    /// waiter to lead the next sync, so sixteen released producers do not
    /// stampede on one mutex.
    pub(crate) fn wait_durable(
        &self,
        sequence: u64,
        gather: bool,
        sync: impl Fn() -> Result<u64, WalError>,
    ) -> Result<(), WalError> {
        if self.is_durable(sequence) {
            return Ok(());
        }
        let mut st = lock(&self.state);
        loop {
            if self.is_durable(sequence) {
                remove_waiter(&mut st.waiting, sequence);
                return Ok(());
            }
            if st.syncing {
                if !st.waiting.iter().any(|w| w.0 == sequence) {
                    st.waiting.push((sequence, std::thread::current()));
                    // Wake the gathering leader only when the last expected
                    // appender arrives, not once per arrival.
                    // Relaxed: see `InFlight::drop`.
                    if st.gathering
                        && st.waiting.len() + 1 >= self.in_flight.load(Ordering::Relaxed)
                    {
                        self.arrived.notify_one();
                    }
                }
                drop(st);
                std::thread::park();
                if self.is_durable(sequence) {
                    // Whoever published removes our entry under the lock
                    // (an extra unpark token only makes a later park return
                    // early, which every park here tolerates).
                    return Ok(());
                }
                st = lock(&self.state);
                continue;
            }
            remove_waiter(&mut st.waiting, sequence);
            st.syncing = true;
            if gather {
                st = self.gather(st);
            }
            drop(st);
            let started = Instant::now();
            let outcome = sync();
            st = lock(&self.state);
            st.last_sync_ns = started.elapsed().as_nanos() as u64;
            st.syncing = false;
            match outcome {
                Ok(end) => {
                    let wake = release(&mut st, self.raise(end));
                    drop(st);
                    unpark_all(wake);
                    // The leader is not listed (it removed itself above).
                    if self.is_durable(sequence) {
                        return Ok(());
                    }
                    st = lock(&self.state);
                }
                Err(e) => {
                    // Every waiter retries and meets the sticky failure.
                    let wake = st.waiting.drain(..).map(|(_, t)| t).collect();
                    drop(st);
                    unpark_all(wake);
                    return Err(e);
                }
            }
        }
    }

    /// Waits (bounded by half a sync's duration) until every appender
    /// in flight has a record waiting for this sync: threads the last sync
    /// released and that are appending again are waited for, threads that
    /// left `append` are not.
    fn gather<'a>(&'a self, mut st: MutexGuard<'a, CommitState>) -> MutexGuard<'a, CommitState> {
        let wait_us = (st.last_sync_ns / GATHER_SYNC_DIVISOR / 1_000)
            .clamp(GATHER_WAIT_US_MIN, GATHER_WAIT_US_MAX);
        let deadline = Instant::now() + Duration::from_micros(wait_us);
        // Relaxed: see `InFlight::drop`; a stale value only ends the wait early or late.
        while st.waiting.len() + 1 < self.in_flight.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st.gathering = true;
            let (guard, _) = self
                .arrived
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
        }
        st.gathering = false;
        st
    }
}
