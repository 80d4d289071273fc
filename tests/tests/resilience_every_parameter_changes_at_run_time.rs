//! Every strategy parameter and every instance limit changes at run time
//! through the scalable contract; bad values are refused by name and
//! change nothing.

use std::sync::Arc;

use keel_engine::{
    Event, EventLog, Limits, LimitsError, Registry, RegistryError, Scalable, SimClock,
};
use keel_systems::resilience::{BreakerState, ResilienceOptions};
use keel_tests::resilience_support::{sim, strict};

#[test]
fn each_setting_is_reconfigurable_and_read_back() {
    let (_clock, r) = sim(ResilienceOptions::default());
    r.add_strategy("db", strict(5)).unwrap();
    let events = Arc::new(EventLog::new(64));
    let registry = Registry::new(events.clone(), Arc::new(SimClock::new()));
    registry.register(r.clone()).unwrap();
    let changes = [
        ("db.failure_threshold", 9),
        ("db.minimum_calls", 11),
        ("db.reset_timeout_ms", 2_500),
        ("db.half_open_max", 4),
        ("db.window_ms", 5_000),
        ("db.bulkhead_max_concurrent", 7),
        ("db.bulkhead_max_queue", 3),
        ("db.bulkhead_max_wait_ms", 40),
        ("db.max_retries", 6),
        ("db.backoff", 1),
        ("db.jitter", 3),
        ("db.backoff_initial_ms", 4),
        ("db.backoff_max_ms", 400),
        ("db.retry_budget_permille", 150),
        ("db.adaptive", 1),
        (Limits::MAX_CONCURRENT_OPERATIONS, 50),
        (Limits::MAX_QUEUE_DEPTH, 2),
        (Limits::MAX_ENTRIES, 1_000),
    ];
    for (key, value) in changes {
        let before = r.limits().get(key);
        assert_ne!(before, Some(value), "{key} must start elsewhere");
        registry
            .reconfigure("resilience", &Limits::new().with(key, value))
            .unwrap();
        assert_eq!(r.limits().get(key), Some(value), "{key} read back");
    }
    let c = r.strategy_config("db").unwrap();
    assert_eq!(c.breaker.failure_threshold, 9);
    assert_eq!(c.retry.max_retries, 6);
    assert!(c.adaptive.enabled);
    let reconfigured = events
        .snapshot()
        .iter()
        .filter(|e| matches!(e, Event::Reconfigured(_)))
        .count();
    assert_eq!(reconfigured, changes.len());
    // The queue ceiling applies: 3 asked, 2 allowed.
    let m = r.metrics();
    assert_eq!(m.get("bulkhead_capacity", &[("strategy", "db")]), Some(7.0));
}

#[test]
fn new_thresholds_take_effect_on_the_next_tick() {
    let (_clock, r) = sim(ResilienceOptions::default());
    let id = r.add_strategy("db", strict(5)).unwrap();
    for _ in 0..2 {
        let _ = r.execute(id, || Err::<(), _>(()));
    }
    r.tick();
    assert_eq!(r.state(id), BreakerState::Closed);
    let registry = Registry::new(Arc::new(EventLog::new(8)), Arc::new(SimClock::new()));
    registry.register(r.clone()).unwrap();
    registry
        .reconfigure(
            "resilience",
            &Limits::new()
                .with("db.failure_threshold", 3)
                .with("db.minimum_calls", 3),
        )
        .unwrap();
    let _ = r.execute(id, || Err::<(), _>(()));
    r.tick();
    assert_eq!(r.state(id), BreakerState::Open);
}

#[test]
fn bad_values_are_refused_by_name_and_change_nothing() {
    let (_clock, r) = sim(ResilienceOptions::default());
    r.add_strategy("db", strict(5)).unwrap();
    let registry = Registry::new(Arc::new(EventLog::new(8)), Arc::new(SimClock::new()));
    registry.register(r.clone()).unwrap();
    let before = r.limits();
    match registry.reconfigure("resilience", &Limits::new().with("db.half_open_max", 0)) {
        Err(RegistryError::Limits(LimitsError::OutOfRange { key, .. })) => {
            assert_eq!(key, "db.half_open_max")
        }
        other => panic!("expected OutOfRange, got {other:?}"),
    }
    match registry.reconfigure("resilience", &Limits::new().with("nosuch.max_retries", 1)) {
        Err(RegistryError::Limits(LimitsError::UnknownKey { key, .. })) => {
            assert_eq!(key, "nosuch.max_retries")
        }
        other => panic!("expected UnknownKey, got {other:?}"),
    }
    // In range one by one, contradictory together: refused as a whole.
    let contradiction = Limits::new()
        .with("db.backoff_initial_ms", 500)
        .with("db.backoff_max_ms", 10);
    assert!(matches!(
        registry.reconfigure("resilience", &contradiction),
        Err(RegistryError::Limits(LimitsError::Refused { .. }))
    ));
    assert_eq!(r.limits(), before);
}
