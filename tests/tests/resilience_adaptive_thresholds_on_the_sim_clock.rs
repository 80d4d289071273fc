//! Adaptive thresholds on the simulated clock: 0.5% errors raise the
//! failure threshold, 10% lower it, doubled p99 latency shrinks the
//! bulkhead, and a steady load settles without oscillating.

use std::sync::Arc;
use std::time::Duration;

use keel_engine::SimClock;
use keel_systems::resilience::{BreakerId, Resilience, ResilienceOptions, StrategyConfig};
use keel_tests::resilience_support::sim;

fn adaptive() -> StrategyConfig {
    let mut c = StrategyConfig::default();
    c.breaker.failure_threshold = 20;
    // The breaker itself never opens here: only the adapted values move.
    c.breaker.minimum_calls = 1_000_000;
    c.bulkhead.max_concurrent = Some(64);
    c.retry.max_retries = 0;
    c.adaptive.enabled = true;
    c.adaptive.failure_threshold_min = 5;
    c.adaptive.failure_threshold_max = 80;
    c.adaptive.bulkhead_min = 8;
    c.adaptive.bulkhead_max = 64;
    c
}

fn options() -> ResilienceOptions {
    ResilienceOptions {
        sample_every: 1,
        ..ResilienceOptions::default()
    }
}

/// Runs `seconds` of load: 100 calls a second, one in `fail_every`
/// failing, each taking `latency` of simulated time; a tick each second.
/// Returns (threshold, bulkhead) after each recompute (every 30 s).
fn drive(
    r: &Resilience,
    clock: &SimClock,
    id: BreakerId,
    seconds: u32,
    fail_every: u32,
    latency: Duration,
) -> Vec<(u32, u32)> {
    let mut seen = Vec::new();
    let mut n = 0u32;
    for s in 0..seconds {
        for _ in 0..100 {
            n += 1;
            let fail = fail_every > 0 && n % fail_every == 0;
            let _ = r.execute(id, || {
                clock.advance(latency);
                if fail {
                    Err(())
                } else {
                    Ok(())
                }
            });
        }
        clock.advance(Duration::from_secs(1) - latency * 100);
        r.tick();
        if s % 30 == 29 {
            let c = r.strategy_config("svc").unwrap();
            seen.push((
                c.breaker.failure_threshold,
                c.bulkhead.max_concurrent.unwrap(),
            ));
        }
    }
    seen
}

fn setup() -> (Arc<SimClock>, Arc<Resilience>, BreakerId) {
    let (clock, r) = sim(options());
    let id = r.add_strategy("svc", adaptive()).unwrap();
    (clock, r, id)
}

#[test]
fn few_errors_raise_the_threshold_and_many_lower_it() {
    let (clock, r, id) = setup();
    let low = drive(&r, &clock, id, 300, 200, Duration::from_micros(500));
    let raised = low.last().unwrap().0;
    assert!(
        raised > 20,
        "0.5% errors for 5 min must raise the threshold: {low:?}"
    );
    assert!(raised <= 80, "clamped to the bound: {raised}");
    let high = drive(&r, &clock, id, 180, 10, Duration::from_micros(500));
    let lowered = high.last().unwrap().0;
    assert!(lowered < raised, "10% errors must lower it: {high:?}");
    let floor = drive(&r, &clock, id, 1_200, 10, Duration::from_micros(500));
    assert_eq!(floor.last().unwrap().0, 5, "clamped to the lower bound");
}

#[test]
fn doubled_p99_shrinks_the_bulkhead_and_lower_latency_grows_it() {
    let (clock, r, id) = setup();
    // 2% errors: the threshold holds; 15 minutes fill every window.
    let steady = drive(&r, &clock, id, 900, 50, Duration::from_millis(1));
    assert_eq!(steady.last().unwrap().1, 64);
    let slow = drive(&r, &clock, id, 120, 50, Duration::from_millis(2));
    let shrunk = slow.last().unwrap().1;
    assert!(
        shrunk < 64,
        "doubled p99 must shrink the bulkhead: {slow:?}"
    );
    assert!(shrunk >= 8, "clamped to the bound");
    let fast = drive(&r, &clock, id, 120, 50, Duration::from_micros(500));
    assert!(
        fast.last().unwrap().1 > shrunk,
        "falling latency grows it again: {fast:?}"
    );
}

#[test]
fn a_steady_load_settles_without_oscillating() {
    let (clock, r, id) = setup();
    let seen = drive(&r, &clock, id, 2_400, 50, Duration::from_millis(1));
    // After the 15-minute window has filled, nothing moves at all.
    let settled = &seen[30..];
    assert!(
        settled.windows(2).all(|w| w[0] == w[1]),
        "values moved under a steady load: {seen:?}"
    );
    // And before that, no value ever changed direction.
    for pick in [|v: &(u32, u32)| v.0, |v: &(u32, u32)| v.1] {
        let deltas: Vec<i64> = seen
            .windows(2)
            .map(|w| i64::from(pick(&w[1])) - i64::from(pick(&w[0])))
            .filter(|d| *d != 0)
            .collect();
        assert!(
            deltas.windows(2).all(|d| d[0].signum() == d[1].signum()),
            "oscillation: {seen:?}"
        );
    }
}

#[test]
fn reset_timeout_follows_observed_recovery() {
    let (clock, r) = sim(ResilienceOptions::default());
    let mut c = adaptive();
    c.breaker.failure_threshold = 1;
    c.breaker.minimum_calls = 1;
    c.breaker.reset_timeout = Duration::from_secs(10);
    c.adaptive.failure_threshold_min = 1;
    c.adaptive.reset_timeout_min = Duration::from_secs(1);
    c.adaptive.reset_timeout_max = Duration::from_secs(120);
    let id = r.add_strategy("svc", c).unwrap();
    // The dependency needs 60 s to recover: probes before that fail.
    for _episode in 0..3 {
        let down_at = clock.now_ns_for_test();
        let _ = r.execute(id, || Err::<(), _>(()));
        for _ in 0..600 {
            clock.advance(Duration::from_millis(500));
            r.tick();
            let healthy = clock.now_ns_for_test() - down_at >= 60_000_000_000;
            let _ = r.execute(id, || if healthy { Ok(()) } else { Err(()) });
            r.tick();
            if healthy && r.state(id) == keel_systems::resilience::BreakerState::Closed {
                break;
            }
        }
    }
    clock.advance(Duration::from_secs(30));
    r.tick();
    let adapted = r.strategy_config("svc").unwrap().breaker.reset_timeout;
    assert!(
        adapted > Duration::from_secs(10),
        "recovery took about 60 s, the timeout must rise: {adapted:?}"
    );
    assert!(adapted <= Duration::from_secs(120));
}

trait NowForTest {
    fn now_ns_for_test(&self) -> u64;
}

impl NowForTest for SimClock {
    fn now_ns_for_test(&self) -> u64 {
        keel_engine::Clock::now_ns(self)
    }
}
