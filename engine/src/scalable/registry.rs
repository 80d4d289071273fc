//! The trait every subsystem implements, and the registry where the host
//! finds subsystems by name.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use super::{
    BackpressureState, BackpressureStrategy, Event, EventLog, EventSink, LimitBounds, Limits,
    LimitsError, Reconfigured,
};
use crate::clock::Clock;
use crate::metrics::MetricsSnapshot;

/// The scalable contract (SPEC §2).
///
/// Reconfigure through [`Registry::reconfigure`], which checks the new
/// limits against [`Scalable::limit_bounds`], applies them, and emits a
/// [`Reconfigured`] event.
pub trait Scalable: Send + Sync {
    /// The subsystem's unique name, e.g. `bus`.
    fn name(&self) -> &str;

    /// The limits in force now.
    fn limits(&self) -> Limits;

    /// Every limit the subsystem has and the range it accepts.
    fn limit_bounds(&self) -> LimitBounds;

    /// Applies limits that passed `limit_bounds` (the full set: current
    /// limits with the requested changes on top). Callers see the old or
    /// the new limits, never a mix, and nothing already accepted is lost.
    fn apply_limits(&self, limits: &Limits) -> Result<(), LimitsError>;

    /// Sizes, rates, depths, latencies.
    fn metrics(&self) -> MetricsSnapshot;

    /// The current backpressure state.
    fn backpressure(&self) -> BackpressureState;

    /// What the subsystem does under pressure.
    fn backpressure_strategy(&self) -> BackpressureStrategy;
}

/// Why a registry call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// No subsystem has this name.
    #[error("no subsystem named `{name}` is registered")]
    UnknownSubsystem {
        /// The name asked for.
        name: String,
    },
    /// A subsystem with this name is already registered.
    #[error("a subsystem named `{name}` is already registered")]
    Duplicate {
        /// The repeated name.
        name: String,
    },
    /// The new limits were refused.
    #[error(transparent)]
    Limits(#[from] LimitsError),
}

/// Every subsystem of one engine, by name, plus the engine's event log.
pub struct Registry {
    subsystems: RwLock<BTreeMap<String, Arc<dyn Scalable>>>,
    /// Serialises reconfigurations so each event's `old` is the true
    /// predecessor of its `new`.
    reconfiguring: Mutex<()>,
    events: Arc<EventLog>,
    clock: Arc<dyn Clock>,
}

impl Registry {
    /// An empty registry whose events go to `events`, stamped by `clock`.
    pub fn new(events: Arc<EventLog>, clock: Arc<dyn Clock>) -> Registry {
        Registry {
            subsystems: RwLock::new(BTreeMap::new()),
            reconfiguring: Mutex::new(()),
            events,
            clock,
        }
    }

    /// Adds a subsystem; its name must be new.
    pub fn register(&self, subsystem: Arc<dyn Scalable>) -> Result<(), RegistryError> {
        let mut map = self.subsystems.write().unwrap_or_else(|p| p.into_inner());
        let name = subsystem.name().to_owned();
        if map.contains_key(&name) {
            return Err(RegistryError::Duplicate { name });
        }
        map.insert(name, subsystem);
        Ok(())
    }

    /// A subsystem by name.
    pub fn get(&self, name: &str) -> Result<Arc<dyn Scalable>, RegistryError> {
        let map = self.subsystems.read().unwrap_or_else(|p| p.into_inner());
        map.get(name)
            .cloned()
            .ok_or_else(|| RegistryError::UnknownSubsystem {
                name: name.to_owned(),
            })
    }

    /// Names of every subsystem, sorted.
    pub fn names(&self) -> Vec<String> {
        self.subsystems
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Changes some of a subsystem's limits at run time: the current limits
    /// with `changes` on top are checked against its bounds, applied, and
    /// announced with a [`Reconfigured`] event, which is returned.
    pub fn reconfigure(&self, name: &str, changes: &Limits) -> Result<Reconfigured, RegistryError> {
        let subsystem = self.get(name)?;
        let _one_at_a_time = self.reconfiguring.lock().unwrap_or_else(|p| p.into_inner());
        let old = subsystem.limits();
        let wanted = old.overlaid(changes);
        subsystem.limit_bounds().check(name, &wanted)?;
        subsystem.apply_limits(&wanted)?;
        let event = Reconfigured {
            subsystem: name.to_owned(),
            old,
            new: subsystem.limits(),
            at_ns: self.clock.now_ns(),
        };
        self.events.emit(Event::Reconfigured(event.clone()));
        Ok(event)
    }

    /// The engine's event log.
    pub fn events(&self) -> &Arc<EventLog> {
        &self.events
    }

    /// Every subsystem's snapshot, each with its limits and backpressure
    /// state added.
    pub fn metrics(&self) -> Vec<MetricsSnapshot> {
        let map = self.subsystems.read().unwrap_or_else(|p| p.into_inner());
        map.values()
            .map(|s| {
                let mut m = s.metrics();
                m.subsystem = s.name().to_owned();
                m.gauge(
                    "backpressure_state",
                    "0 Normal, 1 Warning, 2 Critical, 3 Shedding.",
                    &[],
                    f64::from(s.backpressure() as u8),
                );
                for (key, value) in s.limits().iter() {
                    m.gauge(
                        "limit",
                        "A limit in force.",
                        &[("limit", key)],
                        value as f64,
                    );
                }
                m
            })
            .collect()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::clock::SimClock;
    use crate::scalable::BackpressureCell;

    /// A toy subsystem whose one limit bounds a counter.
    struct Toy {
        max_entries: AtomicU64,
        state: BackpressureCell,
    }

    impl Scalable for Toy {
        fn name(&self) -> &str {
            "toy"
        }
        fn limits(&self) -> Limits {
            Limits::new().with(
                Limits::MAX_ENTRIES,
                self.max_entries.load(Ordering::Relaxed),
            )
        }
        fn limit_bounds(&self) -> LimitBounds {
            LimitBounds::new().with(Limits::MAX_ENTRIES, 1..=1_000)
        }
        fn apply_limits(&self, limits: &Limits) -> Result<(), LimitsError> {
            let v = limits.get(Limits::MAX_ENTRIES).unwrap_or(1);
            self.max_entries.store(v, Ordering::Relaxed);
            Ok(())
        }
        fn metrics(&self) -> MetricsSnapshot {
            let mut m = MetricsSnapshot::new("toy");
            m.gauge("entries", "Entries.", &[], 3.0);
            m
        }
        fn backpressure(&self) -> BackpressureState {
            self.state.load()
        }
        fn backpressure_strategy(&self) -> BackpressureStrategy {
            BackpressureStrategy::ShedLoad
        }
    }

    fn registry() -> (Registry, SimClock) {
        let clock = SimClock::new();
        let registry = Registry::new(Arc::new(EventLog::new(16)), Arc::new(clock.clone()));
        let toy = Toy {
            max_entries: AtomicU64::new(10),
            state: BackpressureCell::new(),
        };
        registry.register(Arc::new(toy)).unwrap();
        (registry, clock)
    }

    #[test]
    fn reconfigure_applies_validates_and_emits() {
        let (registry, clock) = registry();
        clock.set_ns(42);
        let event = registry
            .reconfigure("toy", &Limits::new().with(Limits::MAX_ENTRIES, 500))
            .unwrap();
        assert_eq!(event.old.get(Limits::MAX_ENTRIES), Some(10));
        assert_eq!(event.new.get(Limits::MAX_ENTRIES), Some(500));
        assert_eq!(event.at_ns, 42);
        assert_eq!(
            registry.events().snapshot(),
            vec![Event::Reconfigured(event)]
        );
        assert_eq!(
            registry
                .get("toy")
                .unwrap()
                .limits()
                .get(Limits::MAX_ENTRIES),
            Some(500)
        );
    }

    #[test]
    fn refused_reconfigure_changes_nothing_and_emits_nothing() {
        let (registry, _) = registry();
        let err = registry
            .reconfigure("toy", &Limits::new().with(Limits::MAX_ENTRIES, 0))
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::Limits(LimitsError::OutOfRange { .. })),
            "{err}"
        );
        let err = registry
            .reconfigure("toy", &Limits::new().with("max_topics", 3))
            .unwrap_err();
        assert!(err.to_string().contains("max_topics"), "{err}");
        assert_eq!(
            registry
                .get("toy")
                .unwrap()
                .limits()
                .get(Limits::MAX_ENTRIES),
            Some(10)
        );
        assert!(registry.events().snapshot().is_empty());
        let err = registry.reconfigure("nope", &Limits::new()).unwrap_err();
        assert_eq!(
            err,
            RegistryError::UnknownSubsystem {
                name: "nope".into()
            }
        );
    }

    #[test]
    fn names_are_unique_and_metrics_carry_limits_and_state() {
        let (registry, _) = registry();
        let again = Toy {
            max_entries: AtomicU64::new(1),
            state: BackpressureCell::new(),
        };
        assert!(matches!(
            registry.register(Arc::new(again)),
            Err(RegistryError::Duplicate { .. })
        ));
        assert_eq!(registry.names(), vec!["toy".to_owned()]);
        let m = &registry.metrics()[0];
        assert_eq!(m.get("entries", &[]), Some(3.0));
        assert_eq!(m.get("limit", &[("limit", "max_entries")]), Some(10.0));
        assert_eq!(m.get("backpressure_state", &[]), Some(0.0));
    }
}
