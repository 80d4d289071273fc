//! Backpressure levels, strategies, thresholds, and the one-byte cell the
//! hot path reads.

use super::events::{BackpressureChanged, Event, EventSink};
use crate::sync::{AtomicU8, Ordering};

/// How loaded a subsystem is, in rising order.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BackpressureState {
    /// Accept everything.
    Normal = 0,
    /// Accept, and tell producers (a flag on what they publish).
    Warning = 1,
    /// Slow producers down.
    Critical = 2,
    /// Refuse what may be refused.
    Shedding = 3,
}

impl BackpressureState {
    /// The state a byte stored by [`BackpressureCell`] stands for.
    pub fn from_u8(v: u8) -> BackpressureState {
        match v {
            0 => BackpressureState::Normal,
            1 => BackpressureState::Warning,
            2 => BackpressureState::Critical,
            _ => BackpressureState::Shedding,
        }
    }
}

/// What a subsystem does under pressure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackpressureStrategy {
    /// Drop the oldest queued items to make room.
    DropOldest,
    /// Make producers wait.
    BlockProducer,
    /// Refuse new work.
    ShedLoad,
    /// Do less per item (smaller batches, coarser results).
    DegradeQuality,
    /// Pick among the above by state.
    Adaptive,
}

/// Fill fractions at which each state begins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackpressureThresholds {
    /// Warning from this fill (default 0.70).
    pub warning: f64,
    /// Critical from this fill (default 0.85).
    pub critical: f64,
    /// Shedding from this fill (default 0.95).
    pub shedding: f64,
}

impl Default for BackpressureThresholds {
    fn default() -> Self {
        BackpressureThresholds {
            warning: 0.70,
            critical: 0.85,
            shedding: 0.95,
        }
    }
}

impl BackpressureThresholds {
    /// The state for a fill fraction (0.0 empty, 1.0 full).
    pub fn state_for(&self, fill: f64) -> BackpressureState {
        if fill >= self.shedding {
            BackpressureState::Shedding
        } else if fill >= self.critical {
            BackpressureState::Critical
        } else if fill >= self.warning {
            BackpressureState::Warning
        } else {
            BackpressureState::Normal
        }
    }

    /// True if `0 < warning < critical < shedding <= 1`.
    pub fn is_valid(&self) -> bool {
        self.warning > 0.0
            && self.warning < self.critical
            && self.critical < self.shedding
            && self.shedding <= 1.0
    }
}

/// A subsystem's current state: one byte the hot path loads, written by
/// the control plane with a change event for every transition.
#[derive(Debug, Default)]
pub struct BackpressureCell {
    state: AtomicU8,
}

impl BackpressureCell {
    /// A cell in state Normal.
    pub fn new() -> BackpressureCell {
        BackpressureCell {
            state: AtomicU8::new(BackpressureState::Normal as u8),
        }
    }

    /// The current state: one atomic load.
    #[inline]
    pub fn load(&self) -> BackpressureState {
        // Relaxed: the byte carries no other data; it pairs with nothing.
        BackpressureState::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// Moves to `to`; if that is a change, emits a [`BackpressureChanged`]
    /// naming the state it replaced and returns it. Concurrent transitions
    /// each see a distinct predecessor, so the events form one chain.
    pub fn transition(
        &self,
        to: BackpressureState,
        subsystem: &str,
        at_ns: u64,
        sink: &dyn EventSink,
    ) -> Option<BackpressureChanged> {
        // Relaxed: the swap's atomicity alone makes predecessors distinct;
        // no other memory is published through the byte.
        let previous = BackpressureState::from_u8(self.state.swap(to as u8, Ordering::Relaxed));
        if previous == to {
            return None;
        }
        let event = BackpressureChanged {
            subsystem: subsystem.to_owned(),
            previous,
            current: to,
            at_ns,
        };
        sink.emit(Event::BackpressureChanged(event.clone()));
        Some(event)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::scalable::EventLog;

    #[test]
    fn thresholds_map_fill_to_states() {
        let t = BackpressureThresholds::default();
        assert!(t.is_valid());
        assert_eq!(t.state_for(0.0), BackpressureState::Normal);
        assert_eq!(t.state_for(0.70), BackpressureState::Warning);
        assert_eq!(t.state_for(0.86), BackpressureState::Critical);
        assert_eq!(t.state_for(0.95), BackpressureState::Shedding);
        assert!(!BackpressureThresholds {
            warning: 0.9,
            critical: 0.8,
            shedding: 0.95
        }
        .is_valid());
    }

    #[test]
    fn only_changes_emit_events() {
        let log = EventLog::new(16);
        let cell = BackpressureCell::new();
        assert!(cell
            .transition(BackpressureState::Normal, "bus", 1, &log)
            .is_none());
        let e = cell
            .transition(BackpressureState::Critical, "bus", 2, &log)
            .unwrap();
        assert_eq!(
            (e.previous, e.current, e.at_ns),
            (BackpressureState::Normal, BackpressureState::Critical, 2)
        );
        assert_eq!(cell.load(), BackpressureState::Critical);
        assert_eq!(log.snapshot().len(), 1);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::scalable::EventLog;
    use crate::sync::{thread, Arc};

    #[test]
    fn concurrent_transitions_form_one_chain() {
        loom::model(|| {
            let cell = Arc::new(BackpressureCell::new());
            let log = Arc::new(EventLog::new(16));
            let spawn = |to| {
                let (cell, log) = (Arc::clone(&cell), Arc::clone(&log));
                thread::spawn(move || {
                    cell.transition(to, "t", 0, &*log);
                })
            };
            let a = spawn(BackpressureState::Warning);
            let b = spawn(BackpressureState::Shedding);
            a.join().unwrap();
            b.join().unwrap();
            let mut events: Vec<_> = log.snapshot();
            // Walk the chain from Normal; every event must be used once.
            let mut at = BackpressureState::Normal;
            while let Some(i) = events
                .iter()
                .position(|e| matches!(e, Event::BackpressureChanged(c) if c.previous == at))
            {
                let Event::BackpressureChanged(c) = events.remove(i) else {
                    unreachable!()
                };
                at = c.current;
            }
            assert!(events.is_empty());
            assert_eq!(at, cell.load());
        });
    }
}
