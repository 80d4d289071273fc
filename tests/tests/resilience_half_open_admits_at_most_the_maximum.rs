//! Half-open admits at most `half_open_max` probes per episode, however
//! many threads call at once (failsafe-rs lets every caller through).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keel_systems::resilience::{BreakerState, ExecuteError, ResilienceOptions};
use keel_tests::resilience_support::{on_threads, sim, strict};

#[test]
fn concurrent_callers_get_exactly_the_probe_places() {
    let (clock, r) = sim(ResilienceOptions::default());
    let mut c = strict(1);
    c.breaker.half_open_max = 3;
    c.bulkhead.max_concurrent = Some(64);
    let id = r.add_strategy("svc", c).unwrap();
    let _ = r.execute(id, || Err::<(), _>(()));
    r.tick();
    clock.advance(Duration::from_secs(1));
    r.tick();
    assert_eq!(r.state(id), BreakerState::HalfOpen);

    let ran = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let threads = 8;
    {
        let (r, ran, refused) = (Arc::clone(&r), Arc::clone(&ran), Arc::clone(&refused));
        on_threads(threads, move || {
            for _ in 0..200 {
                // Probes stay in flight (sleep) so they overlap.
                match r.execute(id, || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(1));
                    Ok::<_, ()>(())
                }) {
                    Ok(()) => {}
                    Err(ExecuteError::Open) => {
                        refused.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
        });
    }
    assert_eq!(
        ran.load(Ordering::SeqCst),
        3,
        "exactly half_open_max probes ran"
    );
    assert_eq!(refused.load(Ordering::SeqCst), threads * 200 - 3);
    r.tick();
    assert_eq!(
        r.state(id),
        BreakerState::Closed,
        "three passing probes close it"
    );
}

#[test]
fn a_panicking_probe_counts_as_failed_and_frees_its_place() {
    let (clock, r) = sim(ResilienceOptions::default());
    let id = r.add_strategy("svc", strict(1)).unwrap();
    let _ = r.execute(id, || Err::<(), _>(()));
    r.tick();
    clock.advance(Duration::from_secs(1));
    r.tick();
    let r2 = Arc::clone(&r);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = r2.execute(id, || -> Result<(), ()> { panic!("probe blew up") });
    }));
    assert!(caught.is_err());
    r.tick();
    assert_eq!(
        r.state(id),
        BreakerState::Open,
        "the panic counted as a failed probe"
    );
    clock.advance(Duration::from_secs(1));
    r.tick();
    assert_eq!(
        r.execute(id, || Ok::<_, ()>(1)),
        Ok(1),
        "a new episode admits a probe again"
    );
}
