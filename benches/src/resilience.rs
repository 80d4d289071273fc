//! Resilience workloads: a direct call, Keel's guarded call and the
//! `failsafe` crate's breaker around the same trivial operation, on one
//! or more threads sharing one strategy; and the tick over many breakers.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use failsafe::CircuitBreaker;
use keel_engine::MonotonicClock;
use keel_systems::resilience::{BreakerId, Resilience, ResilienceOptions, StrategyConfig};

/// The guarded operation: as cheap as an operation can be, so the
/// figures are the guard's own cost.
#[inline(always)]
fn op(i: u64) -> Result<u64, ()> {
    Ok(black_box(i))
}

/// Runs `n` direct calls; returns a checksum.
pub fn direct(n: u64) -> u64 {
    let mut sum = 0u64;
    for i in 0..n {
        sum = sum.wrapping_add(op(i).unwrap_or(0));
    }
    sum
}

/// A resilience instance with one strategy that never trips during the
/// run (closed breaker), sized for `breakers` rows.
pub fn keel(breakers: usize) -> (Arc<Resilience>, BreakerId) {
    let options = ResilienceOptions {
        max_breakers: breakers,
        ..ResilienceOptions::default()
    };
    let r = Resilience::new(options, Arc::new(MonotonicClock::new())).expect("valid options");
    let mut c = StrategyConfig::default();
    c.bulkhead.max_concurrent = Some(1_024);
    let id = r.add_strategy("bench", c).expect("one strategy");
    (Arc::new(r), id)
}

/// Runs `n` guarded calls through a thread-bound guard (the API for a
/// hot loop); returns a checksum.
pub fn keel_guarded(r: &Resilience, id: BreakerId, n: u64) -> u64 {
    let guard = r.guard(id).expect("the bench's own breaker");
    let mut sum = 0u64;
    for i in 0..n {
        sum = sum.wrapping_add(guard.execute(|| op(i)).unwrap_or(0));
    }
    sum
}

/// Runs `n` guarded calls by breaker id (each looks up the strategy and
/// the thread's slot); returns a checksum.
pub fn keel_execute(r: &Resilience, id: BreakerId, n: u64) -> u64 {
    let mut sum = 0u64;
    for i in 0..n {
        sum = sum.wrapping_add(r.execute(id, || op(i)).unwrap_or(0));
    }
    sum
}

/// failsafe's default breaker (success rate over a window or consecutive
/// failures, jittered backoff).
pub type Failsafe = failsafe::StateMachine<
    failsafe::failure_policy::OrElse<
        failsafe::failure_policy::SuccessRateOverTimeWindow<failsafe::backoff::EqualJittered>,
        failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::EqualJittered>,
    >,
    (),
>;

/// A failsafe breaker with its default policy.
pub fn failsafe() -> Failsafe {
    failsafe::Config::new().build()
}

/// Runs `n` calls through failsafe; returns a checksum.
pub fn failsafe_guarded(cb: &Failsafe, n: u64) -> u64 {
    let mut sum = 0u64;
    for i in 0..n {
        sum = sum.wrapping_add(cb.call(|| op(i)).unwrap_or(0));
    }
    sum
}

/// Runs `body(n)` on `threads` threads started together; returns the
/// mean nanoseconds per call as each thread saw it.
pub fn per_call_ns_on_threads(
    threads: usize,
    n: u64,
    body: impl Fn(u64) -> u64 + Send + Sync + 'static,
) -> f64 {
    let body = Arc::new(body);
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (body, start) = (Arc::clone(&body), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let t0 = Instant::now();
                black_box(body(n));
                t0.elapsed().as_nanos() as f64 / n as f64
            })
        })
        .collect();
    let per_thread: Vec<f64> = handles
        .into_iter()
        .map(|h| h.join().expect("bench thread"))
        .collect();
    per_thread.iter().sum::<f64>() / per_thread.len() as f64
}

/// `breakers` breakers: the strategy's own plus keyed ones.
pub fn many_breakers(breakers: usize) -> (Arc<Resilience>, Vec<BreakerId>) {
    let (r, first) = keel(breakers);
    let mut ids = Vec::with_capacity(breakers);
    ids.push(first);
    for k in 1..breakers as u32 {
        ids.push(
            r.breaker("bench", &k.to_le_bytes())
                .expect("table sized for them"),
        );
    }
    (r, ids)
}

/// One guarded call on every breaker, so each has new outcomes for the
/// tick to fold in.
pub fn touch_all(r: &Resilience, ids: &[BreakerId]) -> u64 {
    let mut sum = 0u64;
    for (i, id) in ids.iter().enumerate() {
        sum = sum.wrapping_add(r.execute(*id, || op(i as u64)).unwrap_or(0));
    }
    sum
}
