//! Time sources. Systems read time from their tick context, which the
//! scheduler fills from one [`Clock`] read per tick; tests and simulation
//! drive a [`SimClock`] by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A monotonic nanosecond clock.
pub trait Clock: Send + Sync {
    /// Nanoseconds since an arbitrary fixed origin; never decreases.
    fn now_ns(&self) -> u64;
}

/// The real monotonic clock, counted from its creation.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> MonotonicClock {
        MonotonicClock {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock::new()
    }
}

impl Clock for MonotonicClock {
    fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
}

/// A clock that moves only when told to. Clones share one time.
#[derive(Debug, Clone, Default)]
pub struct SimClock {
    now_ns: Arc<AtomicU64>,
}

impl SimClock {
    /// A simulated clock at time zero.
    pub fn new() -> SimClock {
        SimClock::default()
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        // Relaxed: the clock value carries no other data; readers that need
        // ordering get it from whatever hands them work (the tick).
        self.now_ns
            .fetch_add(by.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Sets the time; refuses to go backwards.
    pub fn set_ns(&self, now_ns: u64) {
        // Relaxed: see `advance`.
        self.now_ns.fetch_max(now_ns, Ordering::Relaxed);
    }
}

impl Clock for SimClock {
    fn now_ns(&self) -> u64 {
        // Relaxed: pairs with nothing; see `advance`.
        self.now_ns.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_clock_moves_only_forward_and_is_shared() {
        let a = SimClock::new();
        let b = a.clone();
        a.advance(Duration::from_millis(5));
        assert_eq!(b.now_ns(), 5_000_000);
        b.set_ns(1);
        assert_eq!(a.now_ns(), 5_000_000);
    }
}
