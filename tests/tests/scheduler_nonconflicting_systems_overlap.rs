//! Systems whose access does not conflict run at the same time: each of two
//! systems waits (bounded) for the other to be running too. On a one-core
//! machine the OS still interleaves the two threads, so no free core is
//! assumed.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_engine::{MonotonicClock, Scheduler, SchedulerOptions, System, World};
use keel_tests::BreakerTable;

fn options(participants: usize) -> SchedulerOptions {
    SchedulerOptions {
        participants,
        cores: Vec::new(),
        spin_ns: 0,
        clock: Arc::new(MonotonicClock::new()),
    }
}

/// Marks itself inside, waits up to 10 s for `other` to be inside too.
fn meeter(name: &str, me: Arc<AtomicBool>, other: Arc<AtomicBool>, met: Arc<AtomicU32>) -> System {
    System::new(name, move |_| {
        me.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !other.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(50));
        }
        if other.load(Ordering::SeqCst) {
            met.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    })
}

#[test]
fn readers_of_one_column_and_writers_of_different_columns_overlap() {
    let mut world = World::new();
    let t = BreakerTable::add(&mut world, 8);
    let mut scheduler = Scheduler::new(world, options(2));
    let (a, b, met) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU32::new(0)),
    );
    // Both read `failures`; one writes `state`, the other `opened_at_ns`.
    let first = meeter("first", a.clone(), b.clone(), met.clone())
        .reads(t.failures)
        .writes(t.state);
    let second = meeter("second", b.clone(), a.clone(), met.clone())
        .reads(t.failures)
        .writes(t.opened_at_ns);
    scheduler.add_system(first).unwrap();
    scheduler.add_system(second).unwrap();
    assert_eq!(scheduler.stages(), vec![vec!["first", "second"]]);
    scheduler.run_tick();
    assert_eq!(
        met.load(Ordering::SeqCst),
        2,
        "both systems saw the other running"
    );
}

#[test]
fn split_system_chunks_run_in_parallel_and_cover_every_row_once() {
    let mut world = World::new();
    let t = BreakerTable::add(&mut world, 10_000);
    let mut scheduler = Scheduler::new(world, options(2));
    let inside = Arc::new(AtomicU32::new(0));
    let overlapped = Arc::new(AtomicBool::new(false));
    let (i2, o2) = (inside.clone(), overlapped.clone());
    let system = System::new("bump", move |ctx| {
        i2.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(10);
        while i2.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(50));
        }
        if i2.load(Ordering::SeqCst) >= 2 {
            o2.store(true, Ordering::SeqCst);
        }
        for s in ctx.write(t.successes)? {
            *s += 1;
        }
        Ok(())
    })
    .writes(t.successes)
    .split_rows(t.table, 1_000);
    scheduler.add_system(system).unwrap();
    scheduler.run_tick();
    assert!(overlapped.load(Ordering::SeqCst), "two chunks ran at once");
    let table = scheduler.world().table(t.table).unwrap();
    assert!(
        table.column(t.successes).unwrap().iter().all(|&s| s == 1),
        "every row once"
    );
}
