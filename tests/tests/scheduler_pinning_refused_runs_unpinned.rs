//! Where pinning is refused (here: cores the process does not have), the
//! engine logs once and runs unpinned instead of failing or panicking.

use std::time::Duration;

use keel_engine::{Config, Engine, System, World};

#[test]
fn pinning_to_a_core_that_does_not_exist_runs_unpinned() {
    let mut config = Config::default();
    config.engine.worker_count = 2;
    config.engine.core_list = vec![4_000, 4_001];
    let mut engine = Engine::new(config, World::new()).unwrap();
    engine.add_system(System::new("noop", |_| Ok(()))).unwrap();
    engine.start().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    engine.stop().unwrap();
    assert!(engine.with_scheduler(|s| s.ticks()) >= 1);
    assert_eq!(engine.with_scheduler(|s| s.pinned_workers()), 0);
}
