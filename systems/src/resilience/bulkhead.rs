//! Bulkheads: a bounded number of operations in flight, plus a bounded
//! queue of callers waiting (with a timeout) for a permit.
//!
//! Permits are held as quota by stripes, one stripe per counter slot (see
//! `slots.rs`), each cache-padded. A stripe counts its operations in
//! flight; a thread is admitted when its stripe's count, after its own
//! increment, is within the stripe's quota. Only the slot's thread writes
//! the count, so admission and release are plain loads and stores: a
//! guarded call executes no locked instruction at all. (The one shared
//! stripe, for threads past the exclusive slots, uses read-modify-writes.)
//!
//! A stripe without spare quota takes one unit from the free pool, or
//! steals an unused unit (quota above its count in flight) from another
//! stripe, then retries. Owner and stealer form a Dekker pair with
//! asymmetric fences (`keel_engine::barrier`): the owner raises its count,
//! runs the light fence (a compiler fence where the kernel has
//! `membarrier`) and reads its quota; the stealer lowers the quota, runs
//! the heavy fence (`membarrier`, which makes every thread of the process
//! run a full barrier) and reads the count, giving the unit back if the
//! owner was admitted against the old quota. So `in_flight ≤ quota` holds
//! for every stripe, and
//!
//! `Σ quota + pool = capacity + debt`,
//!
//! where `debt` counts units owed after a shrink found fewer unused units
//! than it removed; releases pay it back before units can be reused. The
//! bound on operations in flight is exact, except that calls admitted
//! before a shrink finish.
//!
//! Costs: quota migrates to the stripes that use it, so once each busy
//! thread holds its share, admission never steals. A steal costs a
//! `membarrier` (microseconds); a bulkhead smaller than the number of
//! threads calling through it at once steals often and runs at that
//! speed, which is the regime where callers queue anyway. A permit orders
//! nothing: it bounds concurrency, it does not hand data from one holder
//! to the next.
//!
//! A release does not fence, so it can miss a waiter that registered at
//! the same moment; waiters therefore re-check at least every
//! `WAITER_POLL` besides being woken, and a missed wake-up costs at most
//! that long.

use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use keel_engine::barrier;

use crate::sync::{AtomicI64, AtomicU32, AtomicU64, Condvar, Mutex, Ordering};

/// Longest a waiter sleeps before looking for a permit again.
const WAITER_POLL: Duration = Duration::from_millis(1);

/// One stripe: its operations in flight and quota, and the refusal
/// counters of the threads that use it (counted here so an overload does
/// not bounce a shared line).
#[derive(Default)]
pub(crate) struct Stripe {
    in_flight: AtomicI64,
    quota: AtomicI64,
    pub(crate) rejected_full: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) rejected_open: AtomicU64,
    pub(crate) retries: AtomicU64,
}

/// A thread's stripe in one bulkhead, resolved once.
#[derive(Clone, Copy)]
pub(crate) struct Lane<'a> {
    stripe: &'a Stripe,
    index: usize,
    shared: bool,
}

impl Lane<'_> {
    /// The stripe's refusal counters.
    pub(crate) fn stats(&self) -> &Stripe {
        self.stripe
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }
}

/// A permit taken: its lane and that stripe's count before it.
#[derive(Clone, Copy)]
#[must_use = "a permit must be released"]
pub(crate) struct Held<'a> {
    lane: Lane<'a>,
    before: i64,
}

impl PartialEq for Held<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.lane.index == other.lane.index && self.before == other.before
    }
}

impl std::fmt::Debug for Held<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Held(stripe {}, before {})",
            self.lane.index, self.before
        )
    }
}

/// Why no permit was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Full, and the wait queue is full or waiting is off.
    Full,
    /// Waited `max_wait` without a permit.
    TimedOut(Duration),
}

/// What every release reads, in one word so a release loads it once:
/// callers waiting (low 32 bits) and permits owed after a shrink (high 32
/// bits). Written only when someone waits or after a shrink.
#[derive(Default)]
struct SlowPath {
    word: AtomicU64,
}

const WAITER: u64 = 1;
const DEBT: u64 = 1 << 32;

impl SlowPath {
    #[inline(always)]
    fn any(&self) -> bool {
        // Relaxed: a missed waiter re-checks within WAITER_POLL; debt is
        // re-checked by CAS when paid.
        self.word.load(Ordering::Relaxed) != 0
    }

    fn waiters(&self) -> u32 {
        // SeqCst: see `Bulkhead::release_slow` and `wait`.
        self.word.load(Ordering::SeqCst) as u32
    }

    fn debt(&self) -> i64 {
        // Relaxed: a hint; paying is a CAS.
        (self.word.load(Ordering::Relaxed) >> 32) as i64
    }

    /// Adds a waiter; returns how many there were.
    fn add_waiter(&self) -> u32 {
        // SeqCst: a place in the queue, counted before looking again.
        self.word.fetch_add(WAITER, Ordering::SeqCst) as u32
    }

    fn remove_waiter(&self) {
        self.word.fetch_sub(WAITER, Ordering::SeqCst);
    }

    fn add_debt(&self, n: i64) {
        // AcqRel: a count, exact under the RMW.
        self.word.fetch_add(n as u64 * DEBT, Ordering::AcqRel);
    }

    /// Pays up to `max` owed permits; returns how many.
    fn pay(&self, max: i64) -> i64 {
        let mut paid = 0;
        // AcqRel/Relaxed: a count, exact under CAS.
        let _ = self
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |w| {
                paid = ((w >> 32) as i64).min(max.max(0));
                Some(w - paid as u64 * DEBT)
            });
        paid
    }
}

pub(crate) struct Bulkhead {
    stripes: Box<[CachePadded<Stripe>]>,
    pool: CachePadded<AtomicI64>,
    slow: CachePadded<SlowPath>,
    capacity: AtomicU64,
    max_queue: AtomicU32,
    max_wait_us: AtomicU64,
    lock: Mutex<()>,
    wake: Condvar,
    resizing: Mutex<()>,
}

impl Bulkhead {
    /// `stripes` stripes; the last one is shared by any number of
    /// threads, the others have one writer each.
    pub(crate) fn new(stripes: usize, capacity: u32, max_queue: u32, max_wait: Duration) -> Self {
        barrier::init();
        let b = Bulkhead {
            stripes: (0..stripes.max(1))
                .map(|_| CachePadded::new(Stripe::default()))
                .collect(),
            pool: CachePadded::new(AtomicI64::new(0)),
            slow: CachePadded::new(SlowPath::default()),
            capacity: AtomicU64::new(0),
            max_queue: AtomicU32::new(max_queue),
            max_wait_us: AtomicU64::new(duration_us(max_wait)),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            resizing: Mutex::new(()),
        };
        b.resize(capacity);
        b
    }

    /// The stripe a thread with this slot uses.
    #[inline(always)]
    pub(crate) fn stripe_of(&self, slot: u32) -> usize {
        (slot as usize).min(self.stripes.len() - 1)
    }

    /// Wakes one waiter (or all), under the waiters' lock so a waiter
    /// about to sleep cannot miss it.
    fn wake(&self, all: bool) {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if all {
            self.wake.notify_all();
        } else {
            self.wake.notify_one();
        }
    }

    fn shared(&self, i: usize) -> bool {
        i == self.stripes.len() - 1
    }

    /// Stripe `i`'s lane.
    #[inline(always)]
    pub(crate) fn lane(&self, i: usize) -> Lane<'_> {
        Lane {
            stripe: &self.stripes[i],
            index: i,
            shared: self.shared(i),
        }
    }

    /// Admits one operation on stripe `i` against its quota now (the
    /// fast path; `acquire_spare` or `acquire` when it says no).
    #[inline(always)]
    pub(crate) fn admit(&self, i: usize) -> Option<Held<'_>> {
        self.admit_lane(self.lane(i))
    }

    /// Admits one operation on a resolved lane.
    #[inline(always)]
    pub(crate) fn admit_lane<'a>(&'a self, lane: Lane<'a>) -> Option<Held<'a>> {
        let s = lane.stripe;
        let before = if lane.shared {
            // Relaxed: ordered by the fence below; many writers.
            s.in_flight.fetch_add(1, Ordering::Relaxed)
        } else {
            // Relaxed load and store: this thread is the stripe's only
            // writer; ordered by the fence below.
            let n = s.in_flight.load(Ordering::Relaxed);
            s.in_flight.store(n + 1, Ordering::Relaxed);
            n
        };
        // The owner half of the Dekker pair with `steal_unit`: raise the
        // count, light fence, read the quota.
        barrier::light();
        let held = Held { lane, before };
        // Relaxed: ordered by the fence pair.
        if before < s.quota.load(Ordering::Relaxed) {
            return Some(held);
        }
        self.lower(held);
        None
    }

    /// Takes a permit without waiting.
    #[inline(always)]
    pub(crate) fn try_acquire(&self, i: usize) -> Option<Held<'_>> {
        self.admit(i).or_else(|| self.acquire_spare(i))
    }

    /// Takes a permit, waiting in the bounded queue if the bulkhead is
    /// full.
    pub(crate) fn acquire(&self, i: usize) -> Result<Held<'_>, Refused> {
        match self.try_acquire(i) {
            Some(held) => Ok(held),
            None => self.wait(i),
        }
    }

    /// Returns a permit. A thread returns its permits in the reverse order
    /// it took them (a guarded call's permit lives on its stack, so nested
    /// calls do).
    #[inline(always)]
    pub(crate) fn release(&self, held: Held<'_>) {
        self.lower(held);
        if self.slow.any() {
            self.release_slow(held.lane.index);
        }
    }

    #[inline(always)]
    fn lower(&self, held: Held<'_>) {
        let count = &held.lane.stripe.in_flight;
        if held.lane.shared {
            // Relaxed: a stealer reads the count after its heavy fence,
            // which makes this store visible; many threads write the
            // shared stripe, so a read-modify-write.
            count.fetch_sub(1, Ordering::Relaxed);
        } else {
            // Relaxed, as above. A plain store of the count from before
            // the matching admission: this thread is the only writer and
            // its permits come back in reverse order, so the count is
            // `before + 1` now. Storing a value known without loading the
            // count keeps a store-to-load round trip off the hot path.
            debug_assert_eq!(count.load(Ordering::Relaxed), held.before + 1);
            count.store(held.before, Ordering::Relaxed);
        }
    }

    /// Gets a spare unit of quota into stripe `i` and admits on it.
    #[cold]
    pub(crate) fn acquire_spare(&self, i: usize) -> Option<Held<'_>> {
        // Each round moves one unit here; another stealer may take it
        // before we use it, so give up after a few rounds.
        for _ in 0..2 * self.stripes.len() + 2 {
            if !self.take_unit(i) {
                return None;
            }
            // SeqCst: the quota's writers all use RMWs; our own `admit`
            // reads it next, in program order.
            self.stripes[i].quota.fetch_add(1, Ordering::SeqCst);
            if let Some(held) = self.admit(i) {
                return Some(held);
            }
        }
        None
    }

    /// One unit of quota from the pool or from another stripe's unused
    /// quota (removed from where it was; the caller places it).
    fn take_unit(&self, first: usize) -> bool {
        // SeqCst: the pool is a plain count; CAS keeps it from going
        // below zero.
        if self
            .pool
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |p| {
                (p > 0).then(|| p - 1)
            })
            .is_ok()
        {
            return true;
        }
        let n = self.stripes.len();
        (1..=n).any(|k| self.steal_unit((first + k) % n))
    }

    /// Takes one unused unit of stripe `j`'s quota.
    fn steal_unit(&self, j: usize) -> bool {
        self.steal_units(j, 1) == 1
    }

    /// Takes up to `want` unused units of stripe `j`'s quota with one
    /// heavy fence; returns how many it took.
    fn steal_units(&self, j: usize, want: i64) -> i64 {
        let s = &self.stripes[j];
        // Relaxed here: a first look; the decision is made after the CAS
        // and the heavy fence.
        let mut quota = s.quota.load(Ordering::Relaxed);
        loop {
            let take = (quota - s.in_flight.load(Ordering::Relaxed)).min(want);
            if take <= 0 {
                return 0;
            }
            // SeqCst: the quota is written by owners (`acquire_spare`),
            // stealers and resizes; the CAS keeps every unit.
            match s.quota.compare_exchange_weak(
                quota,
                quota - take,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    // The stealer half of the Dekker pair with `admit`:
                    // lower the quota, heavy fence, read the count.
                    barrier::heavy();
                    // Relaxed: ordered by the fence pair.
                    let over = s.in_flight.load(Ordering::Relaxed) - (quota - take);
                    if over > 0 {
                        // The owner was admitted against the old quota:
                        // those units are in use after all.
                        let back = over.min(take);
                        s.quota.fetch_add(back, Ordering::SeqCst);
                        return take - back;
                    }
                    return take;
                }
                Err(now) => quota = now,
            }
        }
    }

    #[cold]
    fn release_slow(&self, i: usize) {
        if self.slow.debt() > 0 && self.steal_unit(i) && self.slow.pay(1) == 0 {
            // Someone else paid it; the unit goes back.
            self.stripes[i].quota.fetch_add(1, Ordering::SeqCst);
        }
        if self.slow.waiters() != 0 {
            self.wake(false);
        }
    }

    #[cold]
    fn wait(&self, i: usize) -> Result<Held<'_>, Refused> {
        // Relaxed: limits; a call racing a change may see either value.
        let max_queue = self.max_queue.load(Ordering::Relaxed);
        let max_wait = Duration::from_micros(self.max_wait_us.load(Ordering::Relaxed));
        if max_queue == 0 || max_wait.is_zero() {
            return Err(Refused::Full);
        }
        if self.slow.add_waiter() >= max_queue {
            self.slow.remove_waiter();
            return Err(Refused::Full);
        }
        let start = Instant::now();
        let deadline = start + max_wait;
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let got = loop {
            if let Some(held) = self.try_acquire(i) {
                break Ok(held);
            }
            let now = Instant::now();
            if now >= deadline {
                break Err(Refused::TimedOut(now - start));
            }
            guard = self
                .wake
                .wait_timeout(guard, (deadline - now).min(WAITER_POLL))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        };
        drop(guard);
        self.slow.remove_waiter();
        if got.is_err() && self.free() > 0 {
            // A wake-up meant for us may have been spent on our timeout:
            // pass it on.
            self.wake(false);
        }
        got
    }

    /// Sets the number of permits. Growing pays any debt first and puts
    /// the rest in the pool; shrinking takes units from the pool, then
    /// unused quota, and what it cannot take becomes debt.
    pub(crate) fn resize(&self, capacity: u32) {
        let _one = self.resizing.lock().unwrap_or_else(|p| p.into_inner());
        // Relaxed: written only under `resizing`.
        let old = self.capacity.load(Ordering::Relaxed) as i64;
        let new = i64::from(capacity);
        if new > old {
            let grow = new - old - self.slow.pay(new - old);
            // SeqCst: new units must be seen by a waiter's next look.
            self.pool.fetch_add(grow, Ordering::SeqCst);
            if self.slow.waiters() != 0 {
                self.wake(true);
            }
        } else if new < old {
            let mut need = old - new;
            let taken = self
                .pool
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |p| {
                    Some(p - p.clamp(0, need))
                })
                .unwrap_or(0);
            need -= taken.clamp(0, need);
            for j in 0..self.stripes.len() {
                if need > 0 {
                    need -= self.steal_units(j, need);
                }
            }
            if need > 0 {
                self.slow.add_debt(need);
            }
        }
        self.capacity.store(new as u64, Ordering::Relaxed);
    }

    pub(crate) fn set_queue(&self, max_queue: u32, max_wait: Duration) {
        // Relaxed: limits read at the start of a wait.
        self.max_queue.store(max_queue, Ordering::Relaxed);
        self.max_wait_us
            .store(duration_us(max_wait), Ordering::Relaxed);
    }

    pub(crate) fn capacity(&self) -> u32 {
        self.capacity.load(Ordering::Relaxed) as u32
    }

    /// Operations in flight now (a racy sum, for metrics and tests).
    pub(crate) fn in_flight(&self) -> i64 {
        self.stripes
            .iter()
            .map(|s| s.in_flight.load(Ordering::Relaxed))
            .sum()
    }

    /// Permits free now (a racy sum, for metrics and tests).
    pub(crate) fn free(&self) -> i64 {
        self.capacity.load(Ordering::Relaxed) as i64 - self.in_flight()
    }

    pub(crate) fn waiting(&self) -> u32 {
        self.slow.waiters()
    }

    /// Sum of one stripe counter over all stripes.
    pub(crate) fn sum(&self, f: impl Fn(&Stripe) -> &AtomicU64) -> u64 {
        self.stripes
            .iter()
            .map(|s| f(s).load(Ordering::Relaxed))
            .sum()
    }
}

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn take(b: &Bulkhead, i: usize, n: usize) -> Vec<Held<'_>> {
        (0..n)
            .map(|_| b.try_acquire(i).expect("a permit"))
            .collect()
    }

    fn give(b: &Bulkhead, held: Vec<Held<'_>>) {
        for h in held.into_iter().rev() {
            b.release(h);
        }
    }

    #[test]
    fn permits_are_exact_across_stripes() {
        let b = Bulkhead::new(3, 4, 0, Duration::ZERO);
        let held = take(&b, 2, 4);
        assert_eq!(b.try_acquire(0), None);
        assert_eq!(b.try_acquire(1), None);
        assert_eq!(b.in_flight(), 4);
        give(&b, held);
        assert_eq!(b.free(), 4);
        // Units parked in stripe 2's quota are stolen by stripe 0.
        let held = take(&b, 0, 4);
        assert_eq!(b.try_acquire(2), None);
        give(&b, held);
    }

    #[test]
    fn shrink_below_in_flight_owes_permits_until_releases_pay() {
        let b = Bulkhead::new(2, 4, 0, Duration::ZERO);
        let mut held = take(&b, 0, 4);
        b.resize(2);
        for _ in 0..2 {
            b.release(held.pop().unwrap());
            assert_eq!(b.try_acquire(1), None, "debt must be paid first");
        }
        b.release(held.pop().unwrap());
        let h1 = b.try_acquire(1).expect("one permit is free again");
        assert_eq!(b.try_acquire(1), None);
        b.resize(3);
        let h0 = b.try_acquire(0).expect("the grown permit");
        assert_eq!(b.in_flight(), 3);
        b.release(h0);
        b.release(h1);
        b.release(held.pop().unwrap());
        assert_eq!(b.in_flight(), 0);
    }

    #[test]
    fn shrink_takes_parked_quota_in_bulk() {
        let b = Bulkhead::new(3, 8, 0, Duration::ZERO);
        // All eight units end up parked in stripe 0's quota.
        give(&b, take(&b, 0, 8));
        let held = take(&b, 0, 1);
        b.resize(2);
        assert_eq!(b.slow.debt(), 0, "seven unused units were taken at once");
        let more = take(&b, 1, 1);
        assert_eq!(b.try_acquire(2), None);
        give(&b, more);
        give(&b, held);
        assert_eq!(b.free(), 2);
    }

    #[test]
    fn a_waiter_gets_a_released_permit_and_a_full_queue_refuses() {
        let b = Arc::new(Bulkhead::new(3, 1, 1, Duration::from_secs(10)));
        let held = b.try_acquire(0).unwrap();
        let b2 = Arc::clone(&b);
        let waiter = std::thread::spawn(move || {
            let got = b2.acquire(1);
            if let Ok(h) = got {
                b2.release(h);
            }
            got.is_ok()
        });
        while b.waiting() == 0 {
            std::thread::yield_now();
        }
        // The queue (1 place) is taken: a second caller is refused.
        assert_eq!(b.acquire(2), Err(Refused::Full));
        b.release(held);
        assert!(waiter.join().unwrap());
        assert_eq!(b.free(), 1);
    }

    #[test]
    fn a_waiter_times_out_naming_how_long_it_waited() {
        let b = Bulkhead::new(2, 1, 4, Duration::from_millis(20));
        let _held = b.try_acquire(0).unwrap();
        match b.acquire(1) {
            Err(Refused::TimedOut(waited)) => assert!(waited >= Duration::from_millis(20)),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    fn use_once(b: &Bulkhead, inside: &AtomicU32, stripe: usize) {
        if let Some(held) = b.try_acquire(stripe) {
            assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
            inside.fetch_sub(1, Ordering::SeqCst);
            b.release(held);
        }
    }

    /// Two threads, each with its own stripe, take and return permits
    /// while the bulkhead holds one: never two in flight (the Dekker pair
    /// between admission and stealing), and the permit is never lost.
    #[test]
    fn loom_striped_permits_never_exceed_capacity() {
        // Bounded preemptions keep the search finite: the steal and
        // refill loops retry, and each retry multiplies the schedules.
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let b = Arc::new(Bulkhead::new(3, 1, 0, Duration::ZERO));
            let inside = Arc::new(AtomicU32::new(0));
            let handles: Vec<_> = (0..2)
                .map(|t| {
                    let (b, inside) = (Arc::clone(&b), Arc::clone(&inside));
                    loom::thread::spawn(move || use_once(&b, &inside, t))
                })
                .collect();
            // The main thread takes the unit first and parks it in its
            // stripe's quota, so the others must steal it.
            use_once(&b, &inside, 2);
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(b.free(), 1);
            assert_eq!(b.in_flight(), 0);
        });
    }
}
