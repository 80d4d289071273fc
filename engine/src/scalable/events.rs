//! Control-plane events: reconfigurations and backpressure changes.

use std::collections::VecDeque;

use super::{BackpressureState, Limits};
use crate::sync::{AtomicU64, Mutex, Ordering};

/// A subsystem's limits changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconfigured {
    /// The subsystem.
    pub subsystem: String,
    /// Limits before.
    pub old: Limits,
    /// Limits after.
    pub new: Limits,
    /// When, on the engine's clock, ns.
    pub at_ns: u64,
}

/// A subsystem's backpressure state changed.
#[derive(Debug, Clone, PartialEq)]
pub struct BackpressureChanged {
    /// The subsystem.
    pub subsystem: String,
    /// State before.
    pub previous: BackpressureState,
    /// State after.
    pub current: BackpressureState,
    /// When, on the engine's clock, ns.
    pub at_ns: u64,
}

/// Any control-plane event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Limits changed.
    Reconfigured(Reconfigured),
    /// Backpressure state changed.
    BackpressureChanged(BackpressureChanged),
}

/// Where events go (an event log, the message bus).
pub trait EventSink: Send + Sync {
    /// Takes one event. Must not block for long: it is called by the
    /// control plane.
    fn emit(&self, event: Event);
}

/// A bounded in-memory event log: when full, the oldest event is dropped
/// and counted.
#[derive(Debug)]
pub struct EventLog {
    events: Mutex<VecDeque<Event>>,
    capacity: usize,
    dropped: AtomicU64,
}

impl EventLog {
    /// A log keeping at most `capacity` events (at least 1).
    pub fn new(capacity: usize) -> EventLog {
        let capacity = capacity.max(1);
        EventLog {
            events: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
            dropped: AtomicU64::new(0),
        }
    }

    /// The events kept, oldest first.
    pub fn snapshot(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Removes and returns the events kept, oldest first.
    pub fn drain(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect()
    }

    /// Events dropped because the log was full.
    pub fn dropped(&self) -> u64 {
        // Relaxed: a statistic.
        self.dropped.load(Ordering::Relaxed)
    }
}

impl EventSink for EventLog {
    fn emit(&self, event: Event) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if events.len() == self.capacity {
            events.pop_front();
            // Relaxed: a statistic.
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        events.push_back(event);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn full_log_drops_the_oldest_and_counts_it() {
        let log = EventLog::new(2);
        for at_ns in 0..3 {
            log.emit(Event::BackpressureChanged(BackpressureChanged {
                subsystem: "bus".into(),
                previous: BackpressureState::Normal,
                current: BackpressureState::Warning,
                at_ns,
            }));
        }
        let kept: Vec<u64> = log
            .drain()
            .into_iter()
            .map(|e| match e {
                Event::BackpressureChanged(c) => c.at_ns,
                Event::Reconfigured(r) => r.at_ns,
            })
            .collect();
        assert_eq!((kept, log.dropped()), (vec![1, 2], 1));
    }
}
