//! The resilience subsystem inside an engine: its tick runs as a system on
//! the scheduler, it is registered with the scalable contract, and its
//! metrics reach the Prometheus text.

use std::sync::Arc;
use std::time::Duration;

use keel_engine::{Config, Engine, World};
use keel_systems::resilience::{BreakerState, Resilience, ResilienceOptions};
use keel_tests::resilience_support::strict;

#[test]
fn the_tick_system_opens_breakers_and_metrics_are_exported() {
    let mut config = Config::default();
    config.engine.deterministic = true;
    let mut engine = Engine::new(config.clone(), World::new()).unwrap();
    let r = Arc::new(
        Resilience::new(
            ResilienceOptions::from_config(&config),
            Arc::clone(engine.clock()),
        )
        .unwrap(),
    );
    let db = r.add_strategy("db", strict(2)).unwrap();
    engine.add_system(r.system()).unwrap();
    engine.registry().register(r.clone()).unwrap();

    for _ in 0..2 {
        let _ = r.execute(db, || Err::<(), _>("down"));
    }
    engine
        .sim_clock()
        .unwrap()
        .advance(Duration::from_millis(1));
    engine.run_tick().unwrap();
    assert_eq!(r.state(db), BreakerState::Open);

    let text = engine.metrics_text();
    assert!(text.contains("breakers{"), "{text}");
    assert!(text.contains("state=\"open\""), "{text}");
    assert!(text.contains("failures_total"), "{text}");
}
