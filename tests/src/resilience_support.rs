//! Shared set-up for the resilience tests: a `Resilience` on a simulated
//! clock and a strict strategy (no retries, small thresholds).

use std::sync::Arc;
use std::time::Duration;

use keel_engine::SimClock;
use keel_systems::resilience::{Resilience, ResilienceOptions, StrategyConfig};

/// A resilience instance on a fresh simulated clock.
pub fn sim(options: ResilienceOptions) -> (Arc<SimClock>, Arc<Resilience>) {
    let clock = Arc::new(SimClock::new());
    clock.advance(Duration::from_secs(1));
    let r = Resilience::new(options, clock.clone()).expect("valid options");
    (clock, Arc::new(r))
}

/// Opens after `threshold` failures in at least `threshold` calls; one
/// probe; reset after 1 s; no retries.
pub fn strict(threshold: u32) -> StrategyConfig {
    let mut c = StrategyConfig::default();
    c.breaker.failure_threshold = threshold;
    c.breaker.minimum_calls = threshold;
    c.breaker.reset_timeout = Duration::from_secs(1);
    c.breaker.half_open_max = 1;
    c.retry.max_retries = 0;
    c
}

/// Runs `body` on `threads` threads released together; waits for all.
pub fn on_threads(threads: usize, body: impl Fn() + Send + Sync + 'static) {
    let body = Arc::new(body);
    let start = Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (body, start) = (Arc::clone(&body), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                body();
            })
        })
        .collect();
    for h in handles {
        h.join().expect("test thread");
    }
}
