//! Worker threads that run batches of jobs together with the calling thread.
//!
//! A batch is `n` jobs numbered `0..n` and one task `Fn(job)`. The caller
//! publishes the batch by storing one word, `claim` = (epoch, next, n);
//! every participant (workers and the caller) takes a job by advancing
//! `next` with a compare-exchange, runs it, and counts it in `done`. The
//! caller returns when `done == n`. A worker whose compare-exchange
//! succeeded holds a job of the live batch, and the caller cannot publish
//! another batch until that job is counted, so a late worker can never run a
//! job of the wrong batch or touch a finished one.
//!
//! Idle workers spin for a bounded time (`spin_ns`), then park; the caller
//! unparks only as many sleepers as the batch can use. No allocation happens
//! per batch.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crossbeam_utils::CachePadded;

use crate::sync::{spin_loop, thread, Arc, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering};

#[cfg(loom)]
use loom::sync::atomic::AtomicPtr;
#[cfg(not(loom))]
use std::sync::atomic::AtomicPtr;

/// Runs first on each worker thread with its index (to pin it to a core).
/// A plain `std` Arc: it is not part of the modelled synchronisation.
pub(crate) type PinFn = std::sync::Arc<dyn Fn(usize) + Send + Sync>;

/// Most jobs one batch may hold (`next` and `n` are 16-bit fields).
pub(crate) const MAX_JOBS_PER_BATCH: usize = u16::MAX as usize;

fn pack(epoch: u32, next: usize, n: usize) -> u64 {
    (u64::from(epoch) << 32) | ((next as u64) << 16) | n as u64
}

fn unpack(word: u64) -> (u32, usize, usize) {
    (
        (word >> 32) as u32,
        ((word >> 16) & 0xFFFF) as usize,
        (word & 0xFFFF) as usize,
    )
}

struct Batch<'a> {
    task: &'a (dyn Fn(usize) + Sync),
}

struct Shared {
    /// (epoch, next job, job count) of the live batch.
    claim: CachePadded<AtomicU64>,
    /// Jobs of the live batch that finished.
    done: CachePadded<AtomicUsize>,
    /// The live batch; valid while a job of it is claimed and not done.
    batch: AtomicPtr<Batch<'static>>,
    /// One flag per worker: it is parked, or about to park.
    sleeping: Box<[CachePadded<AtomicBool>]>,
    /// The caller is parked, or about to park, waiting for `done == n`.
    caller_waiting: AtomicBool,
    /// The thread that published the live batch.
    caller: Mutex<Option<thread::Thread>>,
    shutdown: AtomicBool,
    /// A job panicked (jobs are expected to catch their own panics).
    panicked: AtomicBool,
    spin_ns: u64,
}

impl Shared {
    /// Claims and runs one job of the live batch; false if none is left.
    fn try_run_one(&self) -> bool {
        // Acquire: pairs with the SeqCst (Release) store in `WorkerPool::run`
        // so the batch pointer and `done = 0` are visible.
        let mut word = self.claim.load(Ordering::Acquire);
        let (job, n) = loop {
            let (epoch, next, n) = unpack(word);
            if next >= n {
                return false;
            }
            // AcqRel on success: Acquire pairs with the publishing store in
            // `run`; Release orders this claim before our `done` increment.
            match self.claim.compare_exchange_weak(
                word,
                pack(epoch, next + 1, n),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break (next, n),
                Err(actual) => word = actual,
            }
        };
        // Relaxed: ordered by the claim compare-exchange above, which read
        // the value `run` stored after this pointer.
        let batch = self.batch.load(Ordering::Relaxed);
        // SAFETY: we hold an uncounted job of the live batch, so the caller
        // is still inside `run` and `batch` points at its live stack value.
        let task = unsafe { (*batch).task };
        if catch_unwind(AssertUnwindSafe(|| task(job))).is_err() {
            // Relaxed: read by the caller after its Acquire load of `done`.
            self.panicked.store(true, Ordering::Relaxed);
        }
        // SeqCst: Release publishes the job's effects to the caller's
        // Acquire load of `done`; SeqCst because this increment is half of
        // the Dekker pair with `wait_done` (increment, then swap
        // `caller_waiting`; versus store `caller_waiting`, then load
        // `done`). With AcqRel the caller could miss both and park forever,
        // which Miri found. The batch must not be touched after this.
        let finished = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        // SeqCst: Dekker pair with the caller's SeqCst store of
        // `caller_waiting` followed by its SeqCst load of `done`.
        if finished == n && self.caller_waiting.swap(false, Ordering::SeqCst) {
            if let Some(caller) = self
                .caller
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
            {
                caller.unpark();
            }
        }
        true
    }

    fn has_work(&self) -> bool {
        // SeqCst: the worker's half of the Dekker pair with `run`'s SeqCst
        // claim store and sleeping-flag loads.
        let (_, next, n) = unpack(self.claim.load(Ordering::SeqCst));
        next < n
    }

    /// Spins up to `spin_ns` until `ready()`; true if it became ready.
    fn spin_until(&self, ready: impl Fn() -> bool) -> bool {
        #[cfg(not(loom))]
        {
            if self.spin_ns == 0 {
                return ready();
            }
            let start = std::time::Instant::now();
            loop {
                for _ in 0..64 {
                    if ready() {
                        return true;
                    }
                    spin_loop();
                }
                if start.elapsed().as_nanos() as u64 >= self.spin_ns {
                    return ready();
                }
            }
        }
        #[cfg(loom)]
        {
            // One spin under loom: each is a scheduling point to explore.
            if self.spin_ns > 0 && ready() {
                return true;
            }
            spin_loop();
            ready()
        }
    }
}

/// The scheduler's worker threads. Dropping the pool stops and joins them.
pub(crate) struct WorkerPool {
    shared: Arc<Shared>,
    threads: Vec<thread::JoinHandle<()>>,
    /// Handles used to unpark workers, index-aligned with `sleeping`.
    handles: Vec<thread::Thread>,
    epoch: u32,
}

impl WorkerPool {
    /// Starts `threads` workers; `pin(i)` runs first on worker `i` (to pin
    /// it to a core). With zero threads every job runs on the caller, in
    /// order.
    pub(crate) fn new(threads: usize, spin_ns: u64, pin: PinFn) -> WorkerPool {
        let shared = Arc::new(Shared {
            claim: CachePadded::new(AtomicU64::new(0)),
            done: CachePadded::new(AtomicUsize::new(0)),
            batch: AtomicPtr::new(std::ptr::null_mut()),
            sleeping: (0..threads)
                .map(|_| CachePadded::new(AtomicBool::new(false)))
                .collect(),
            caller_waiting: AtomicBool::new(false),
            caller: Mutex::new(None),
            shutdown: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
            spin_ns,
        });
        let threads: Vec<_> = (0..threads)
            .map(|i| {
                let shared = Arc::clone(&shared);
                let pin = std::sync::Arc::clone(&pin);
                thread::Builder::new()
                    .name(format!("keel-worker-{i}"))
                    .spawn(move || {
                        pin(i);
                        worker_main(&shared, i);
                    })
                    .expect("spawning a worker thread")
            })
            .collect();
        let handles = threads.iter().map(|t| t.thread().clone()).collect();
        WorkerPool {
            shared,
            threads,
            handles,
            epoch: 0,
        }
    }

    /// Runs `task(0..n)` on the workers and the calling thread; returns when
    /// all have finished. Panics if a job panicked.
    pub(crate) fn run(&mut self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        assert!(
            n <= MAX_JOBS_PER_BATCH,
            "batch of {n} jobs exceeds {MAX_JOBS_PER_BATCH}"
        );
        if n == 0 {
            return;
        }
        if self.threads.is_empty() {
            (0..n).for_each(task);
            return;
        }
        let batch = Batch { task };
        let shared = &*self.shared;
        *shared.caller.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread::current());
        // Relaxed (both): published by the claim store below.
        shared.batch.store(
            (&batch as *const Batch<'_>)
                .cast::<Batch<'static>>()
                .cast_mut(),
            Ordering::Relaxed,
        );
        shared.done.store(0, Ordering::Relaxed);
        self.epoch = self.epoch.wrapping_add(1);
        // SeqCst: Release pairs with the Acquire claim loads in
        // `try_run_one`; SeqCst with the workers' sleeping-flag protocol.
        shared.claim.store(pack(self.epoch, 0, n), Ordering::SeqCst);
        self.wake_sleepers(n - 1);
        while shared.try_run_one() {}
        self.wait_done(n);
        // Relaxed: ordered after every job by the Acquire in `wait_done`.
        if shared.panicked.swap(false, Ordering::Relaxed) {
            panic!("a job panicked on a worker thread");
        }
    }

    fn wake_sleepers(&self, mut wanted: usize) {
        for (flag, handle) in self.shared.sleeping.iter().zip(&self.handles) {
            if wanted == 0 {
                break;
            }
            // SeqCst: pairs with the worker's SeqCst store of its flag
            // before it re-checks `claim` (see `worker_main`).
            if flag.load(Ordering::SeqCst) && flag.swap(false, Ordering::SeqCst) {
                handle.unpark();
            }
            wanted -= 1;
        }
    }

    fn wait_done(&self, n: usize) {
        let shared = &*self.shared;
        // Acquire: pairs with the SeqCst increments in `try_run_one`.
        if shared.spin_until(|| shared.done.load(Ordering::Acquire) == n) {
            return;
        }
        loop {
            // SeqCst: Dekker pair with the finishing worker's SeqCst
            // increment of `done` then swap of `caller_waiting`.
            shared.caller_waiting.store(true, Ordering::SeqCst);
            if shared.done.load(Ordering::SeqCst) == n {
                shared.caller_waiting.store(false, Ordering::Relaxed);
                return;
            }
            thread::park();
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        // SeqCst: read by workers before they park (see `worker_main`).
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for handle in &self.handles {
            handle.unpark();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn worker_main(shared: &Shared, me: usize) {
    loop {
        // Acquire: pairs with the SeqCst store in `Drop`.
        if shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        if shared.try_run_one() {
            continue;
        }
        if shared.spin_until(|| shared.has_work() || shared.shutdown.load(Ordering::Relaxed)) {
            continue;
        }
        // SeqCst: Dekker pair with `run`'s SeqCst claim store followed by
        // its SeqCst load of this flag: either we see the new batch below,
        // or `run` sees us sleeping and unparks us.
        shared.sleeping[me].store(true, Ordering::SeqCst);
        if shared.has_work() || shared.shutdown.load(Ordering::SeqCst) {
            shared.sleeping[me].store(false, Ordering::Relaxed);
            continue;
        }
        thread::park();
        // Relaxed: only a hint to `run`; a stale `true` costs one spurious
        // unpark.
        shared.sleeping[me].store(false, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn no_pin() -> PinFn {
        std::sync::Arc::new(|_| {})
    }

    #[test]
    fn every_job_runs_exactly_once_across_many_batches() {
        for (threads, spin_ns) in [(0, 0), (1, 0), (3, 0), (2, 20_000)] {
            let mut pool = WorkerPool::new(threads, spin_ns, no_pin());
            let hits: Vec<AtomicU32> = (0..64).map(|_| AtomicU32::new(0)).collect();
            let rounds = if cfg!(miri) { 20 } else { 300 };
            for round in 1..=rounds {
                let n = (round as usize % 64) + 1;
                pool.run(n, &|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                for (i, h) in hits.iter().enumerate() {
                    assert_eq!(
                        h.swap(0, Ordering::Relaxed),
                        u32::from(i < n),
                        "job {i} of {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_panicking_job_is_reported_and_the_pool_survives() {
        let mut pool = WorkerPool::new(1, 0, no_pin());
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            pool.run(4, &|i| assert!(i != 2, "job two fails"));
        }));
        assert!(result.is_err());
        let count = AtomicU32::new(0);
        pool.run(4, &|_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 4);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    /// Two batches of two jobs on one worker plus the caller. Preemptions
    /// are bounded (4) to keep the search finite; the bug classes we care
    /// about (a lost wake-up, a job run twice or by a late worker from the
    /// previous batch) need fewer.
    #[test]
    fn batches_run_each_job_once_and_wait_for_all() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(4);
        builder.check(|| {
            let mut pool = WorkerPool::new(1, 0, std::sync::Arc::new(|_| {}));
            let hits = [AtomicUsize::new(0), AtomicUsize::new(0)];
            for _ in 0..2 {
                pool.run(2, &|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                for h in &hits {
                    assert_eq!(h.swap(0, Ordering::Relaxed), 1);
                }
            }
        });
    }
}
