//! Systems that conflict (one writes a column the other touches) never run
//! at the same time and keep registration order, over many ticks, while
//! non-conflicting systems keep the workers busy.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use keel_engine::{MonotonicClock, Scheduler, SchedulerOptions, System, World};
use keel_tests::BreakerTable;

#[test]
fn writers_and_readers_of_one_column_are_serialised_in_registration_order() {
    let mut world = World::new();
    let t = BreakerTable::add(&mut world, 64);
    let options = SchedulerOptions {
        participants: 2,
        cores: Vec::new(),
        spin_ns: 10_000,
        clock: Arc::new(MonotonicClock::new()),
    };
    let mut scheduler = Scheduler::new(world, options);
    let inside = Arc::new(AtomicU32::new(0));
    let max_inside = Arc::new(AtomicU32::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));
    let make = |name: &'static str| {
        let (inside, max_inside, order) = (inside.clone(), max_inside.clone(), order.clone());
        System::new(name, move |_| {
            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
            max_inside.fetch_max(now, Ordering::SeqCst);
            order.lock().unwrap().push(name);
            // Give a conflicting system every chance to start meanwhile.
            std::thread::yield_now();
            std::thread::sleep(std::time::Duration::from_micros(200));
            inside.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        })
    };
    scheduler
        .add_system(make("write_state").writes(t.state))
        .unwrap();
    scheduler
        .add_system(make("read_state").reads(t.state))
        .unwrap();
    scheduler
        .add_system(make("write_state_again").writes(t.state).reads(t.failures))
        .unwrap();
    // Busy work on other columns, free to run beside any of them.
    scheduler
        .add_system(System::new("other", |ctx| {
            std::thread::sleep(std::time::Duration::from_micros(300));
            let _ = ctx.tick();
            Ok(())
        }))
        .unwrap();
    for _ in 0..50 {
        scheduler.run_tick();
    }
    assert_eq!(
        max_inside.load(Ordering::SeqCst),
        1,
        "two conflicting systems ran at once"
    );
    let order = order.lock().unwrap();
    assert_eq!(order.len(), 150);
    for tick in order.chunks(3) {
        assert_eq!(tick, ["write_state", "read_state", "write_state_again"]);
    }
}

#[test]
fn undeclared_or_doubly_borrowed_columns_are_refused_and_counted() {
    let mut world = World::new();
    let t = BreakerTable::add(&mut world, 4);
    let mut scheduler = Scheduler::new(
        world,
        SchedulerOptions::deterministic(Arc::new(MonotonicClock::new())),
    );
    scheduler
        .add_system(
            System::new("sneaky", move |ctx| {
                ctx.write(t.state)?;
                Ok(())
            })
            .reads(t.state),
        )
        .unwrap();
    scheduler
        .add_system(
            System::new("greedy", move |ctx| {
                let _first = ctx.write(t.successes)?;
                let _second = ctx.read(t.successes)?;
                Ok(())
            })
            .writes(t.successes),
        )
        .unwrap();
    scheduler
        .add_system(System::new("panicky", |_| panic!("boom")))
        .unwrap();
    scheduler.run_tick();
    scheduler.run_tick();
    let (count, first) = scheduler.failures("sneaky").unwrap();
    assert_eq!(count, 2);
    assert!(first.unwrap().contains("did not declare"), "{first:?}");
    let (count, first) = scheduler.failures("greedy").unwrap();
    assert_eq!(count, 2);
    assert!(first.unwrap().contains("twice"), "{first:?}");
    assert_eq!(scheduler.failures("panicky").unwrap().0, 2);
}

#[test]
fn bad_declarations_are_refused_at_registration() {
    let mut world = World::new();
    let t = BreakerTable::add(&mut world, 4);
    let other_table = world.add_table("other", 4).unwrap();
    let other_col = world.add_column::<u32>(other_table, "x").unwrap();
    // A column of a third table: this world has only two.
    let mut foreign_world = World::new();
    let mut missing = None;
    for name in ["f", "g", "h"] {
        let table = foreign_world.add_table(name, 1).unwrap();
        missing = Some(foreign_world.add_column::<u8>(table, "a").unwrap());
    }
    let missing = missing.unwrap();
    let mut s = Scheduler::new(
        world,
        SchedulerOptions::deterministic(Arc::new(MonotonicClock::new())),
    );
    use keel_engine::ScheduleError as E;
    let noop = |_: &keel_engine::SystemContext<'_>| Ok(());
    assert!(matches!(
        s.add_system(System::new("m", noop).reads(missing)),
        Err(E::UnknownColumn { .. })
    ));
    let split_foreign = System::new("x", noop)
        .writes(other_col)
        .split_rows(t.table, 1);
    assert!(matches!(
        s.add_system(split_foreign),
        Err(E::SplitWritesOtherTable { .. })
    ));
    s.add_system(System::new("dup", noop)).unwrap();
    assert!(matches!(
        s.add_system(System::new("dup", noop)),
        Err(E::DuplicateName { .. })
    ));
}
