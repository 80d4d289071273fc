//! A thread that runs the scheduler every tick period until stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::scheduler::{pin_current_thread, Scheduler};

/// Runs [`Scheduler::run_tick`] every `period` on its own thread (pinned to
/// a core if given). The host reaches the scheduler and its world between
/// ticks through [`TickLoop::lock`]. Stopping joins the tick thread; dropping
/// the returned scheduler joins its workers.
pub struct TickLoop {
    scheduler: Arc<Mutex<Scheduler>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TickLoop {
    /// Starts ticking.
    pub fn start(scheduler: Scheduler, period: Duration, core: Option<usize>) -> TickLoop {
        let scheduler = Arc::new(Mutex::new(scheduler));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (scheduler, stop) = (Arc::clone(&scheduler), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("keel-tick".to_owned())
                .spawn(move || {
                    if let Some(core) = core {
                        pin_current_thread(core);
                    }
                    tick_main(&scheduler, &stop, period);
                })
                .expect("spawning the tick thread")
        };
        TickLoop {
            scheduler,
            stop,
            thread: Some(thread),
        }
    }

    /// The scheduler, between two ticks (the tick thread waits meanwhile).
    pub fn lock(&self) -> MutexGuard<'_, Scheduler> {
        self.scheduler.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops after the current tick and returns the scheduler.
    pub fn stop(mut self) -> Scheduler {
        self.halt();
        let scheduler = Arc::clone(&self.scheduler);
        drop(self);
        // The tick thread was joined and `self` dropped: this is the last
        // owner.
        let mutex = Arc::try_unwrap(scheduler)
            .ok()
            .expect("tick thread joined; no other owner");
        mutex.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    fn halt(&mut self) {
        // Release: pairs with the Acquire load in `tick_main`.
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for TickLoop {
    fn drop(&mut self) {
        self.halt();
    }
}

fn tick_main(scheduler: &Mutex<Scheduler>, stop: &AtomicBool, period: Duration) {
    let mut deadline = Instant::now();
    // Acquire: pairs with the Release store in `halt`.
    while !stop.load(Ordering::Acquire) {
        scheduler
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .run_tick();
        deadline += period;
        let now = Instant::now();
        if deadline < now {
            // Overran: start the next tick now, without a burst to catch up.
            deadline = now;
            continue;
        }
        std::thread::park_timeout(deadline - now);
    }
}
