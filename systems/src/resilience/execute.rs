//! The guarded call: bulkhead acquire → breaker check → retry loop → run →
//! record outcome → release.

use std::cell::Cell;
use std::marker::PhantomData;
use std::time::Duration;

use super::breaker::{Admission, BreakerTable, Site};
use super::bulkhead::{Bulkhead, Held, Lane, Refused};
use super::retry::delay;
use super::{slots, BreakerId, ExecuteError, Resilience, ResilienceError, Strategy};
use crate::sync::Ordering;

/// Returns a bulkhead permit when dropped, also when the operation
/// panics.
struct Permit<'a> {
    bulkhead: &'a Bulkhead,
    held: Held<'a>,
}

impl Drop for Permit<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.bulkhead.release(self.held);
    }
}

/// Counts a failure if the operation unwinds (a half-open probe that
/// panicked must not hold its place for ever); forgotten when it returns.
struct PanicRecorder<'a> {
    table: &'a BreakerTable,
    site: Site<'a>,
    admission: Admission,
}

impl Drop for PanicRecorder<'_> {
    fn drop(&mut self) {
        self.table.record_at(&self.site, false, self.admission);
    }
}

/// Where a call runs: its strategy, its thread's slot, its bulkhead
/// lane and its breaker site, all resolved.
#[derive(Clone, Copy)]
struct Call<'a> {
    strategy: &'a Strategy,
    slot: u32,
    lane: Lane<'a>,
    site: Site<'a>,
    sample: bool,
}

impl Resilience {
    /// Runs `op` guarded by breaker `id`: takes a bulkhead permit (waiting
    /// in the bounded queue when full), checks the breaker, runs the
    /// operation, counts the outcome, and retries failures with backoff
    /// while retries and the retry budget last. The permit is returned on
    /// every path, including a panic in `op` (which counts as a failure
    /// and then unwinds).
    #[inline]
    pub fn execute<T, E>(
        &self,
        id: BreakerId,
        mut op: impl FnMut() -> Result<T, E>,
    ) -> Result<T, ExecuteError<E>> {
        let Some(strategy) = self.resolve(id) else {
            return Err(ExecuteError::UnknownBreaker);
        };
        let (slot, sample) = slots::current(self.sample_mask);
        let call = self.call(strategy, id, slot, sample);
        self.run(&call, &mut op)
    }

    /// The strategy of breaker `id`, if it names a live strategy and a row
    /// within the table.
    #[inline(always)]
    fn resolve(&self, id: BreakerId) -> Option<&Strategy> {
        self.strategy_at(id.strategy)
            .filter(|_| id.row() < self.table.capacity())
    }

    #[inline(always)]
    fn call<'a>(
        &'a self,
        strategy: &'a Strategy,
        id: BreakerId,
        slot: u32,
        sample: bool,
    ) -> Call<'a> {
        let row = id.row();
        let keyed = (row != strategy.row as usize).then_some(id.strategy);
        Call {
            strategy,
            slot,
            lane: strategy.bulkhead.lane(strategy.bulkhead.stripe_of(slot)),
            site: self.table.site(slot, row, keyed),
            sample,
        }
    }

    /// Binds breaker `id` to the calling thread: the strategy, row and
    /// this thread's counter slot are looked up once, so each
    /// [`Guard::execute`] skips those lookups. A guard stays on the thread
    /// that made it (it is not `Send`).
    pub fn guard(&self, id: BreakerId) -> Result<Guard<'_>, ResilienceError> {
        let unknown = ResilienceError::UnknownBreaker {
            strategy: id.strategy_index(),
            row: id.row(),
        };
        let strategy = self.resolve(id).ok_or(unknown)?;
        let (slot, _) = slots::current(self.sample_mask);
        Ok(Guard {
            r: self,
            call: self.call(strategy, id, slot, false),
            calls: Cell::new(0),
            _thread_bound: PhantomData,
        })
    }

    /// The guarded call proper.
    #[inline(always)]
    fn run<T, E>(
        &self,
        call: &Call<'_>,
        op: &mut impl FnMut() -> Result<T, E>,
    ) -> Result<T, ExecuteError<E>> {
        let bulkhead = &call.strategy.bulkhead;
        let held = match bulkhead.admit_lane(call.lane) {
            Some(held) => held,
            None => self.permit_slow(call)?,
        };
        let _permit = Permit { bulkhead, held };
        match self.attempt(call, op) {
            None => Err(ExecuteError::Open),
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => self.retry(call, e, op),
        }
    }

    /// Checks the breaker and, if it admits, runs `op` once and counts the
    /// outcome; `None` if the breaker refused (counted as `rejected_open`).
    #[inline(always)]
    fn attempt<T, E>(
        &self,
        call: &Call<'_>,
        op: &mut impl FnMut() -> Result<T, E>,
    ) -> Option<Result<T, E>> {
        let admission = self
            .table
            .admit_at(&call.site, &call.strategy.half_open_max);
        if admission == Admission::Refuse {
            self.count_refused_open(call);
            return None;
        }
        let started = call.sample.then(|| self.clock.now_ns());
        let recorder = PanicRecorder {
            table: &self.table,
            site: call.site,
            admission,
        };
        let result = op();
        std::mem::forget(recorder);
        if let Some(t0) = started {
            call.strategy
                .latency
                .record(self.clock.now_ns().saturating_sub(t0));
        }
        self.table.record_at(&call.site, result.is_ok(), admission);
        Some(result)
    }

    #[cold]
    fn retry<T, E>(
        &self,
        call: &Call<'_>,
        first: E,
        op: &mut impl FnMut() -> Result<T, E>,
    ) -> Result<T, ExecuteError<E>> {
        let policy = *call
            .strategy
            .retry
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let mut rng = fastrand::Rng::new();
        let mut last = first;
        let mut attempts = 1u32;
        let mut previous = Duration::ZERO;
        loop {
            if attempts > policy.max_retries {
                return Err(ExecuteError::RetriesExhausted { attempts, last });
            }
            if !call.strategy.budget.take() {
                return Err(ExecuteError::RetryBudgetSpent { attempts, last });
            }
            // Relaxed: a statistic.
            call.lane.stats().retries.fetch_add(1, Ordering::Relaxed);
            let wait = delay(&policy, attempts, previous, &mut rng);
            previous = wait;
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            match self.attempt(call, op) {
                None => return Err(ExecuteError::OpenedDuringRetry { attempts, last }),
                Some(Ok(v)) => return Ok(v),
                Some(Err(e)) => {
                    last = e;
                    attempts += 1;
                }
            }
        }
    }

    #[cold]
    fn permit_slow<'a, E>(&self, call: &Call<'a>) -> Result<Held<'a>, ExecuteError<E>> {
        // Every thread comes here on its first call through a strategy.
        self.table.mark_seen(call.slot);
        let counters = call.lane.stats();
        // `acquire` tries the free pool and the other stripes before
        // queueing.
        match call.strategy.bulkhead.acquire(call.lane.index()) {
            Ok(held) => Ok(held),
            Err(Refused::Full) => {
                // Relaxed: statistics.
                counters.rejected_full.fetch_add(1, Ordering::Relaxed);
                Err(ExecuteError::BulkheadFull)
            }
            Err(Refused::TimedOut(waited)) => {
                counters.timed_out.fetch_add(1, Ordering::Relaxed);
                Err(ExecuteError::TimedOut(waited))
            }
        }
    }

    #[cold]
    fn count_refused_open(&self, call: &Call<'_>) {
        // Relaxed: a statistic.
        call.lane
            .stats()
            .rejected_open
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// A breaker bound to one thread (see [`Resilience::guard`]).
///
/// ```
/// use keel_systems::resilience::{Resilience, ResilienceOptions, StrategyConfig};
/// use keel_engine::MonotonicClock;
/// use std::sync::Arc;
///
/// let r = Resilience::new(ResilienceOptions::default(), Arc::new(MonotonicClock::new())).unwrap();
/// let id = r.add_strategy("db", StrategyConfig::default()).unwrap();
/// let guard = r.guard(id).unwrap();
/// let total: u64 = (0..100u64).map(|i| guard.execute(|| Ok::<_, ()>(i)).unwrap()).sum();
/// assert_eq!(total, 4_950);
/// ```
pub struct Guard<'r> {
    r: &'r Resilience,
    call: Call<'r>,
    calls: Cell<u32>,
    /// The counter slot belongs to the thread that made the guard.
    _thread_bound: PhantomData<*const ()>,
}

impl Guard<'_> {
    /// Like [`Resilience::execute`] for this guard's breaker.
    #[inline]
    pub fn execute<T, E>(
        &self,
        mut op: impl FnMut() -> Result<T, E>,
    ) -> Result<T, ExecuteError<E>> {
        let n = self.calls.get().wrapping_add(1);
        self.calls.set(n);
        let call = Call {
            sample: n & self.r.sample_mask == 0,
            ..self.call
        };
        self.r.run(&call, &mut op)
    }
}
