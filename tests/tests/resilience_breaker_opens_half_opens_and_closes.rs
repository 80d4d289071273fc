//! A breaker opens on failures within its window, refuses while open,
//! admits one probe after the reset timeout, and closes when it passes
//! (or reopens when it fails). Keyed breakers trip independently.

use std::time::Duration;

use keel_systems::resilience::{BreakerState, ExecuteError, ResilienceOptions};
use keel_tests::resilience_support::{sim, strict};

#[test]
fn breaker_walks_through_its_states_on_the_tick() {
    let (clock, r) = sim(ResilienceOptions::default());
    let db = r.add_strategy("db", strict(3)).unwrap();
    let mut ran = 0;
    for _ in 0..3 {
        let out = r.execute(db, || {
            ran += 1;
            Err::<(), _>("down")
        });
        assert_eq!(
            out,
            Err(ExecuteError::RetriesExhausted {
                attempts: 1,
                last: "down"
            })
        );
    }
    // Decisions are the tick's: still closed until it runs.
    assert_eq!(r.state(db), BreakerState::Closed);
    r.tick();
    assert_eq!(r.state(db), BreakerState::Open);
    assert_eq!(
        r.execute(db, || {
            ran += 1;
            Ok::<_, &str>(())
        }),
        Err(ExecuteError::Open)
    );
    assert_eq!(ran, 3, "an open breaker must not run the operation");

    clock.advance(Duration::from_millis(999));
    r.tick();
    assert_eq!(r.state(db), BreakerState::Open);
    clock.advance(Duration::from_millis(1));
    r.tick();
    assert_eq!(r.state(db), BreakerState::HalfOpen);

    // One probe place: the probe fails, the next call is refused, and the
    // tick reopens the breaker.
    assert!(matches!(
        r.execute(db, || Err::<(), _>("still down")),
        Err(ExecuteError::RetriesExhausted { .. })
    ));
    assert_eq!(r.execute(db, || Ok::<_, &str>(())), Err(ExecuteError::Open));
    r.tick();
    assert_eq!(r.state(db), BreakerState::Open);

    clock.advance(Duration::from_secs(1));
    r.tick();
    assert_eq!(r.state(db), BreakerState::HalfOpen);
    assert_eq!(r.execute(db, || Ok::<_, &str>(5)), Ok(5));
    r.tick();
    assert_eq!(r.state(db), BreakerState::Closed);
    // The failures before the close do not count against it.
    assert!(matches!(
        r.execute(db, || Err::<(), _>("blip")),
        Err(ExecuteError::RetriesExhausted { .. })
    ));
    r.tick();
    assert_eq!(r.state(db), BreakerState::Closed);
}

#[test]
fn minimum_calls_and_the_window_gate_opening() {
    let (clock, r) = sim(ResilienceOptions::default());
    let mut c = strict(3);
    c.breaker.minimum_calls = 10;
    c.breaker.window = Duration::from_secs(10);
    let id = r.add_strategy("api", c).unwrap();
    for _ in 0..3 {
        let _ = r.execute(id, || Err::<(), _>(()));
    }
    r.tick();
    assert_eq!(
        r.state(id),
        BreakerState::Closed,
        "3 calls < minimum_calls 10"
    );
    // Two windows later the old failures have slid out. (The tick rolls
    // windows; calls are placed in windows at tick granularity.)
    clock.advance(Duration::from_secs(25));
    r.tick();
    for _ in 0..7 {
        let _ = r.execute(id, || Ok::<_, ()>(()));
    }
    r.tick();
    assert_eq!(
        r.state(id),
        BreakerState::Closed,
        "the old failures left the window"
    );
    for _ in 0..3 {
        let _ = r.execute(id, || Err::<(), _>(()));
    }
    r.tick();
    assert_eq!(
        r.state(id),
        BreakerState::Open,
        "10 calls, 3 failures, within one window"
    );
}

#[test]
fn keyed_breakers_trip_independently() {
    let (_clock, r) = sim(ResilienceOptions::default());
    r.add_strategy("shard", strict(2)).unwrap();
    let a = r.breaker("shard", b"a").unwrap();
    let b = r.breaker("shard", b"b").unwrap();
    assert_eq!(
        r.breaker("shard", b"a").unwrap(),
        a,
        "the same key finds the same row"
    );
    for _ in 0..2 {
        let _ = r.execute(a, || Err::<(), _>(()));
    }
    r.tick();
    assert_eq!(r.state(a), BreakerState::Open);
    assert_eq!(r.state(b), BreakerState::Closed);
    assert_eq!(r.execute(b, || Ok::<_, ()>(1)), Ok(1));
    r.tick();
    // Keyed calls count in the strategy's rates.
    let m = keel_engine::Scalable::metrics(&*r);
    assert_eq!(m.get("calls_total", &[("strategy", "shard")]), Some(3.0));
    assert_eq!(m.get("failures_total", &[("strategy", "shard")]), Some(2.0));
    let by_state = r.breakers_by_state();
    assert_eq!(by_state["shard"], [2, 1, 0]);
}

#[test]
fn failures_spread_over_many_ticks_open_the_breaker_at_the_threshold() {
    let (clock, r) = sim(ResilienceOptions::default());
    let mut c = strict(5);
    c.breaker.minimum_calls = 5;
    c.breaker.window = Duration::from_secs(60);
    let id = r.add_strategy("db", c).unwrap();
    let other = r.breaker("db", b"other").unwrap();
    // Quiet ticks first, so the scan runs its fast pass (trip points set).
    for _ in 0..3 {
        clock.advance(Duration::from_millis(10));
        r.tick();
    }
    for n in 1..=5 {
        let _ = r.execute(id, || Err::<(), _>(()));
        let _ = r.execute(other, || Ok::<_, ()>(()));
        clock.advance(Duration::from_millis(10));
        r.tick();
        let want = if n < 5 {
            BreakerState::Closed
        } else {
            BreakerState::Open
        };
        assert_eq!(r.state(id), want, "after {n} failures");
        assert_eq!(r.state(other), BreakerState::Closed);
    }
}

#[test]
fn a_thread_bound_guard_counts_like_execute_and_refuses_foreign_ids() {
    let (_clock, r) = sim(ResilienceOptions::default());
    let id = r.add_strategy("db", strict(3)).unwrap();
    let guard = r.guard(id).unwrap();
    for _ in 0..3 {
        let _ = guard.execute(|| Err::<(), _>(()));
    }
    r.tick();
    assert_eq!(r.state(id), BreakerState::Open);
    assert_eq!(guard.execute(|| Ok::<_, ()>(1)), Err(ExecuteError::Open));
    // An id from a bigger instance names a row this one does not have.
    let (_c, big) = sim(ResilienceOptions::default());
    big.add_strategy("a", strict(3)).unwrap();
    let far = big.breaker("a", b"k").unwrap();
    let (_c2, small) = sim(ResilienceOptions {
        max_breakers: 1,
        ..ResilienceOptions::default()
    });
    small.add_strategy("a", strict(3)).unwrap();
    assert!(matches!(
        small.guard(far),
        Err(keel_systems::resilience::ResilienceError::UnknownBreaker { row: 1, .. })
    ));
    assert_eq!(
        small.execute(far, || Ok::<_, ()>(1)),
        Err(ExecuteError::UnknownBreaker)
    );
}
