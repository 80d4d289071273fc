//! Retries: the last error is returned once retries run out; a passing
//! retry returns the value; the retry budget stops retries from
//! multiplying an outage.

use std::sync::Arc;
use std::time::Duration;

use keel_systems::resilience::{Backoff, ExecuteError, Jitter, ResilienceOptions};
use keel_tests::resilience_support::{sim, strict};

fn retrying(max_retries: u32, budget_permille: u32) -> keel_systems::resilience::StrategyConfig {
    let mut c = strict(1_000_000);
    c.retry.max_retries = max_retries;
    c.retry.backoff = Backoff::Constant;
    c.retry.jitter = Jitter::None;
    c.retry.initial = Duration::ZERO;
    c.retry.max_delay = Duration::ZERO;
    c.retry.budget_permille = budget_permille;
    c
}

#[test]
fn retries_run_out_with_the_last_error_or_succeed() {
    let (_clock, r) = sim(ResilienceOptions::default());
    let id = r.add_strategy("flaky", retrying(3, 1000)).unwrap();
    let mut n = 0;
    let out = r.execute(id, || {
        n += 1;
        Err::<(), _>(format!("attempt {n}"))
    });
    assert_eq!(
        out,
        Err(ExecuteError::RetriesExhausted {
            attempts: 4,
            last: "attempt 4".to_owned()
        })
    );
    let mut m = 0;
    assert_eq!(
        r.execute(id, || {
            m += 1;
            if m < 3 {
                Err("no")
            } else {
                Ok(m)
            }
        }),
        Ok(3)
    );
}

#[test]
fn the_budget_caps_retries_at_a_share_of_calls() {
    let (_clock, r) = sim(ResilienceOptions::default());
    // 10% of calls may be retries (plus a floor of 10 tokens).
    let id = r.add_strategy("outage", retrying(3, 100)).unwrap();
    let mut attempts = 0u64;
    let mut spent = 0;
    for round in 0..20 {
        for _ in 0..100 {
            match r.execute(id, || {
                attempts += 1;
                Err::<(), _>(())
            }) {
                Err(ExecuteError::RetryBudgetSpent { .. }) => spent += 1,
                Err(ExecuteError::RetriesExhausted { .. }) => {}
                other => panic!("round {round}: unexpected {other:?}"),
            }
        }
        r.tick();
    }
    let calls = 2_000u64;
    let retries = attempts - calls;
    // Without a budget: 3 retries per call, 6,000. With it: about 10%.
    // The budget is refilled from attempts (retries included), so it
    // settles a little above a tenth of calls.
    assert!(
        retries <= calls * 12 / 100 + 10,
        "{retries} retries for {calls} calls"
    );
    assert!(
        retries >= calls / 20,
        "the budget still allows retries: {retries}"
    );
    assert!(spent > 1_500);
}

#[test]
fn backoff_waits_between_attempts() {
    let (_clock, r) = sim(ResilienceOptions::default());
    let mut c = retrying(2, 1000);
    c.retry.backoff = Backoff::Linear;
    c.retry.initial = Duration::from_millis(10);
    c.retry.max_delay = Duration::from_millis(100);
    let id = r.add_strategy("slow", c).unwrap();
    let started = std::time::Instant::now();
    let _ = r.execute(id, || Err::<(), _>(()));
    // 10 ms then 20 ms.
    assert!(started.elapsed() >= Duration::from_millis(30));
    let _ = Arc::clone(&r);
}
