//! The bulkhead never lets more than its maximum run at once, queues a
//! bounded number of waiters with a timeout, and returns permits when the
//! operation panics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use keel_engine::{Limits, Scalable};
use keel_systems::resilience::{ExecuteError, ResilienceOptions};
use keel_tests::resilience_support::{on_threads, sim, strict};

#[test]
fn never_more_in_flight_than_the_maximum() {
    let (_clock, r) = sim(ResilienceOptions::default());
    let mut c = strict(1_000_000);
    c.bulkhead.max_concurrent = Some(3);
    c.bulkhead.max_queue = 64;
    c.bulkhead.max_wait = Duration::from_secs(30);
    let id = r.add_strategy("pool", c).unwrap();
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    {
        let (r, inside, peak) = (Arc::clone(&r), Arc::clone(&inside), Arc::clone(&peak));
        on_threads(8, move || {
            for _ in 0..100 {
                r.execute(id, || {
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::yield_now();
                    inside.fetch_sub(1, Ordering::SeqCst);
                    Ok::<_, ()>(())
                })
                .unwrap();
            }
        });
    }
    assert!(
        peak.load(Ordering::SeqCst) <= 3,
        "peak {} > 3",
        peak.load(Ordering::SeqCst)
    );
    let m = r.metrics();
    assert_eq!(m.get("bulkhead_in_use", &[("strategy", "pool")]), Some(0.0));
}

#[test]
fn full_queue_refuses_and_a_waiter_times_out() {
    let (_clock, r) = sim(ResilienceOptions::default());
    let mut c = strict(1_000_000);
    c.bulkhead.max_concurrent = Some(1);
    c.bulkhead.max_queue = 1;
    c.bulkhead.max_wait = Duration::from_millis(50);
    let id = r.add_strategy("one", c).unwrap();
    let entered = Arc::new(Barrier::new(2));
    let leave = Arc::new(Barrier::new(2));
    let holder = {
        let (r, entered, leave) = (Arc::clone(&r), Arc::clone(&entered), Arc::clone(&leave));
        std::thread::spawn(move || {
            r.execute(id, || {
                entered.wait();
                leave.wait();
                Ok::<_, ()>(())
            })
        })
    };
    entered.wait();
    let waiter = {
        let r = Arc::clone(&r);
        std::thread::spawn(move || r.execute(id, || Ok::<_, ()>(())))
    };
    // Wait until the waiter holds the one queue place.
    while r.metrics().get("bulkhead_waiting", &[("strategy", "one")]) != Some(1.0) {
        std::thread::yield_now();
    }
    assert_eq!(
        r.execute(id, || Ok::<_, ()>(())),
        Err(ExecuteError::BulkheadFull)
    );
    match waiter.join().unwrap() {
        Err(ExecuteError::TimedOut(waited)) => assert!(waited >= Duration::from_millis(50)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    leave.wait();
    holder.join().unwrap().unwrap();
    assert_eq!(r.execute(id, || Ok::<_, ()>(9)), Ok(9));
}

#[test]
fn a_panicking_operation_returns_its_permit() {
    let (_clock, r) = sim(ResilienceOptions::default());
    let mut c = strict(1_000_000);
    c.bulkhead.max_concurrent = Some(1);
    c.bulkhead.max_queue = 0;
    let id = r.add_strategy("fragile", c).unwrap();
    for _ in 0..3 {
        let r2 = Arc::clone(&r);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = r2.execute(id, || -> Result<(), ()> { panic!("boom") });
        }));
        assert!(caught.is_err());
    }
    // Without the permit back, this would be BulkheadFull.
    assert_eq!(r.execute(id, || Ok::<_, ()>(1)), Ok(1));
}

#[test]
fn bulkhead_follows_max_concurrent_operations() {
    let (_clock, r) = sim(ResilienceOptions::default());
    let mut c = strict(1_000_000);
    c.bulkhead.max_concurrent = None;
    c.bulkhead.max_queue = 0;
    r.add_strategy("follows", c).unwrap();
    let mut fixed = strict(1_000_000);
    fixed.bulkhead.max_concurrent = Some(8);
    r.add_strategy("fixed", fixed).unwrap();
    let registry = keel_engine::Registry::new(
        Arc::new(keel_engine::EventLog::new(16)),
        Arc::new(keel_engine::SimClock::new()),
    );
    registry.register(r.clone()).unwrap();
    registry
        .reconfigure(
            "resilience",
            &Limits::new().with(Limits::MAX_CONCURRENT_OPERATIONS, 5),
        )
        .unwrap();
    let m = r.metrics();
    assert_eq!(
        m.get("bulkhead_capacity", &[("strategy", "follows")]),
        Some(5.0)
    );
    // The limit is a ceiling for strategies with their own size.
    assert_eq!(
        m.get("bulkhead_capacity", &[("strategy", "fixed")]),
        Some(5.0)
    );
    registry
        .reconfigure(
            "resilience",
            &Limits::new().with(Limits::MAX_CONCURRENT_OPERATIONS, 100),
        )
        .unwrap();
    let m = r.metrics();
    assert_eq!(
        m.get("bulkhead_capacity", &[("strategy", "follows")]),
        Some(100.0)
    );
    assert_eq!(
        m.get("bulkhead_capacity", &[("strategy", "fixed")]),
        Some(8.0)
    );
}
