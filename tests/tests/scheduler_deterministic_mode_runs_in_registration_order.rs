//! The deterministic mode runs every system on the calling thread, in
//! registration order, with time from the simulated clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keel_engine::{Config, Engine, System, World};

#[test]
fn same_inputs_give_the_same_trace() {
    let trace = || {
        let mut config = Config::default();
        config.engine.deterministic = true;
        let mut engine = Engine::new(config, World::new()).unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let caller = std::thread::current().id();
        for name in ["c", "a", "b"] {
            let log = Arc::clone(&log);
            engine
                .add_system(System::new(name, move |ctx| {
                    assert_eq!(std::thread::current().id(), caller);
                    log.lock()
                        .unwrap()
                        .push(format!("{}:{}@{}", ctx.tick(), name, ctx.now_ns()));
                    Ok(())
                }))
                .unwrap();
        }
        for _ in 0..3 {
            engine
                .sim_clock()
                .unwrap()
                .advance(Duration::from_micros(1_000));
            engine.run_tick().unwrap();
        }
        let out = log.lock().unwrap().clone();
        out
    };
    let first = trace();
    assert_eq!(first[..3], ["1:c@1000000", "1:a@1000000", "1:b@1000000"]);
    assert_eq!(first[8], "3:b@3000000");
    assert_eq!(first, trace());
}
