//! After start-up, a tick allocates nothing: not in the scheduler, the
//! worker pool, the stage plan or the histograms.

use std::alloc::{GlobalAlloc, Layout, System as SystemAlloc};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use keel_engine::{MonotonicClock, Scheduler, SchedulerOptions, System, World};
use keel_tests::BreakerTable;

struct Counting;
static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { SystemAlloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { SystemAlloc.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn ticks_after_warm_up_allocate_nothing() {
    let mut world = World::new();
    let t = BreakerTable::add(&mut world, 50_000);
    let options = SchedulerOptions {
        participants: 2,
        cores: Vec::new(),
        spin_ns: 20_000,
        clock: Arc::new(MonotonicClock::new()),
    };
    let mut scheduler = Scheduler::new(world, options);
    scheduler
        .add_system(
            System::new("trip", move |ctx| {
                let failures = ctx.read(t.failures)?;
                let now = ctx.now_ns();
                let state = ctx.write(t.state)?;
                for (s, f) in state.iter_mut().zip(failures) {
                    *s |= u8::from(*f > 100);
                }
                let _ = now;
                Ok(())
            })
            .reads(t.failures)
            .writes(t.state)
            .split_rows(t.table, 1_000),
        )
        .unwrap();
    for i in 0..20 {
        scheduler
            .add_system(System::new(format!("empty{i}"), |_| Ok(())))
            .unwrap();
    }
    scheduler
        .add_system(
            System::new("reader", move |ctx| {
                let _ = ctx.read(t.failures)?.len() + ctx.ids(t.table)?.len();
                Ok(())
            })
            .reads(t.failures),
        )
        .unwrap();
    for _ in 0..50 {
        scheduler.run_tick();
    }
    COUNTING.store(true, Ordering::SeqCst);
    for _ in 0..500 {
        scheduler.run_tick();
    }
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst), 0);
}
