//! Starting and stopping the engine (tick thread and workers) leaves no
//! thread behind, and the tick loop really ticks while started.

use std::time::Duration;

use keel_engine::{Config, Engine, System, World};
use keel_tests::{settle_thread_count, thread_count};

#[test]
fn start_stop_and_drop_join_every_thread() {
    let before = thread_count();
    let mut config = Config::default();
    config.engine.worker_count = 3;
    config.engine.tick_period_us = 500;
    config.engine.worker_spin_us = 0;
    for _ in 0..3 {
        let mut engine = Engine::new(config.clone(), World::new()).unwrap();
        engine.add_system(System::new("noop", |_| Ok(()))).unwrap();
        assert_eq!(
            settle_thread_count(before + 2),
            before + 2,
            "two workers besides the caller"
        );
        engine.start().unwrap();
        assert!(
            engine.add_system(System::new("late", |_| Ok(()))).is_err(),
            "refused while running"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while engine.with_scheduler(|s| s.ticks()) < 5 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(engine.with_scheduler(|s| s.ticks()) >= 5, "the loop ticks");
        engine.stop().unwrap();
        assert_eq!(
            settle_thread_count(before + 2),
            before + 2,
            "tick thread joined"
        );
        let text = engine.metrics_text();
        assert!(text.contains("keel_scheduler_ticks_total"));
        drop(engine);
        assert_eq!(settle_thread_count(before), before, "workers joined");
    }
}
