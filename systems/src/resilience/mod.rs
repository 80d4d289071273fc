//! Resilience (SPEC §3.3): guarded execution with circuit breakers,
//! bulkheads and retries; adaptive thresholds; breaker state shared
//! between engines.
//!
//! The hot path ([`Resilience::execute`]) runs on the caller's thread:
//! one permit from the strategy's striped bulkhead (a locked decrement of
//! a line only this core writes), one load of the breaker's state byte,
//! the operation, one plain store into this thread's outcome counter, and
//! the permit's return. No mutex, no clock read (one call in
//! `sample_every` is timed), no shared write beyond the permit.
//! Decisions are made by the tick ([`Resilience::tick`], or the system
//! from [`Resilience::system`]): it sums the counters, opens, half-opens
//! and closes breakers, refills retry budgets, adapts thresholds, and
//! publishes and merges shared transitions.
//!
//! ```
//! use keel_systems::resilience::{ExecuteError, Resilience, ResilienceOptions, StrategyConfig};
//! use keel_engine::SimClock;
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! let clock = Arc::new(SimClock::new());
//! let r = Resilience::new(ResilienceOptions::default(), clock.clone()).unwrap();
//! let mut config = StrategyConfig::default();
//! config.retry.max_retries = 0;
//! config.breaker.failure_threshold = 3;
//! config.breaker.minimum_calls = 3;
//! let db = r.add_strategy("db", config).unwrap();
//!
//! assert_eq!(r.execute(db, || Ok::<_, &str>(7)), Ok(7));
//! for _ in 0..3 {
//!     let _ = r.execute(db, || Err::<u32, _>("down"));
//! }
//! clock.advance(Duration::from_millis(1));
//! r.tick(); // three failures in the window: the breaker opens
//! assert_eq!(r.execute(db, || Ok::<_, &str>(7)), Err(ExecuteError::Open));
//! ```

mod adaptive;
mod breaker;
mod bulkhead;
mod config;
mod control;
mod error;
mod execute;
mod latency;
mod retry;
mod scalable;
mod share;
mod slots;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use keel_engine::{Clock, System};

pub use breaker::{BreakerId, BreakerState};
pub use config::{
    AdaptivePolicy, Backoff, BreakerPolicy, BulkheadPolicy, ConfigError, Jitter, RetryPolicy,
    StrategyConfig, MAX_PERMITS,
};
pub use error::{ExecuteError, ResilienceError};
pub use execute::Guard;
pub use share::{
    decode_transition, encode_transition, DecodeError, InProcessLink, RemoteTransition, ShareMode,
    STATE_TOPIC,
};

use breaker::BreakerTable;
use bulkhead::Bulkhead;
use control::Control;
use latency::Latency;
use retry::RetryBudget;

/// Longest strategy name or breaker key.
pub const MAX_NAME_BYTES: usize = 256;

/// Start-up options of a [`Resilience`].
#[derive(Debug, Clone, PartialEq)]
pub struct ResilienceOptions {
    /// Rows in the breaker table (strategies plus keyed breakers), fixed
    /// at start-up.
    pub max_breakers: usize,
    /// Strategies at most.
    pub max_strategies: usize,
    /// Single-writer counter slots (threads beyond these share one slot
    /// with atomic adds). Default: twice the available cores, 4..=63.
    pub counter_slots: usize,
    /// One call in this many per thread is timed (power of two).
    pub sample_every: u32,
    /// How often adaptive values are recomputed.
    pub adaptive_interval: Duration,
    /// This engine's node id in shared breaker state.
    pub node_id: u32,
    /// How remote transitions are merged.
    pub share: ShareMode,
    /// Ceiling of every bulkhead, and the size of those that follow it.
    pub max_concurrent_operations: u32,
    /// Ceiling of every bulkhead's wait queue.
    pub max_queue_depth: u32,
}

impl Default for ResilienceOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        ResilienceOptions {
            max_breakers: 65_536,
            max_strategies: 256,
            counter_slots: (cores * 2).clamp(4, breaker::MAX_SLOTS - 1),
            sample_every: 256,
            adaptive_interval: Duration::from_secs(30),
            node_id: 0,
            share: ShareMode::LastWriterWins,
            max_concurrent_operations: 4_096,
            max_queue_depth: 1_024,
        }
    }
}

impl ResilienceOptions {
    /// Options from the engine config (`tables.breakers`,
    /// `resilience.adaptive_interval_ms`).
    pub fn from_config(c: &keel_engine::Config) -> ResilienceOptions {
        ResilienceOptions {
            max_breakers: c.tables.breakers,
            adaptive_interval: Duration::from_millis(c.resilience.adaptive_interval_ms),
            ..ResilienceOptions::default()
        }
    }

    fn validate(&self) -> Result<(), ResilienceError> {
        let check = |key, value: u64, lo, hi| {
            if (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err(ResilienceError::Option { key, value, lo, hi })
            }
        };
        check("max_breakers", self.max_breakers as u64, 1, 1 << 26)?;
        check(
            "max_strategies",
            self.max_strategies as u64,
            1,
            u64::from(u16::MAX),
        )?;
        check(
            "counter_slots",
            self.counter_slots as u64,
            1,
            breaker::MAX_SLOTS as u64 - 1,
        )?;
        check("sample_every", self.sample_every.into(), 1, 1 << 20)?;
        if !self.sample_every.is_power_of_two() {
            return Err(ResilienceError::Option {
                key: "sample_every (a power of two)",
                value: self.sample_every.into(),
                lo: 1,
                hi: 1 << 20,
            });
        }
        check(
            "adaptive_interval_ms",
            self.adaptive_interval.as_millis() as u64,
            1,
            86_400_000,
        )?;
        check(
            "max_concurrent_operations",
            self.max_concurrent_operations.into(),
            1,
            MAX_PERMITS,
        )?;
        check("max_queue_depth", self.max_queue_depth.into(), 0, 1_000_000)?;
        if let ShareMode::Quorum { nodes, .. } = self.share {
            check("quorum nodes", nodes.into(), 1, 1_000)?;
        }
        Ok(())
    }
}

/// One strategy's hot-path state.
pub(crate) struct Strategy {
    pub(crate) name: Box<str>,
    pub(crate) row: u32,
    pub(crate) bulkhead: Bulkhead,
    pub(crate) half_open_max: crate::sync::AtomicU32,
    pub(crate) retry: RwLock<RetryPolicy>,
    pub(crate) budget: RetryBudget,
    pub(crate) latency: Latency,
}

/// The resilience subsystem of one engine.
pub struct Resilience {
    pub(crate) options: ResilienceOptions,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) table: BreakerTable,
    pub(crate) strategies: Box<[OnceLock<Strategy>]>,
    pub(crate) sample_mask: u32,
    pub(crate) control: Mutex<Control>,
}

impl Resilience {
    /// A subsystem with a breaker table of `options.max_breakers` rows;
    /// the tick reads time from `clock`.
    pub fn new(
        options: ResilienceOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Resilience, ResilienceError> {
        options.validate()?;
        let table = BreakerTable::new(
            options.max_breakers,
            options.max_strategies,
            options.counter_slots,
        );
        let control = Control::new(&options);
        Ok(Resilience {
            sample_mask: options.sample_every - 1,
            strategies: (0..options.max_strategies)
                .map(|_| OnceLock::new())
                .collect(),
            table,
            control: Mutex::new(control),
            clock,
            options,
        })
    }

    pub(crate) fn control(&self) -> std::sync::MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a strategy (its own breaker row, bulkhead, retry policy);
    /// returns the id of its breaker.
    pub fn add_strategy(
        &self,
        name: &str,
        config: StrategyConfig,
    ) -> Result<BreakerId, ResilienceError> {
        check_name("strategy name", name.as_bytes())?;
        config.validate()?;
        let mut control = self.control();
        if control.names.contains_key(name) {
            return Err(ResilienceError::DuplicateStrategy(name.to_owned()));
        }
        let index = control.strategies.len();
        if index >= self.strategies.len() {
            return Err(ResilienceError::TooManyStrategies {
                max: self.strategies.len(),
            });
        }
        let index16 = index as u16;
        let row = control.add_row(&self.table, index16)?;
        let (capacity, queue) = control.bulkhead_limits(&config);
        let strategy = Strategy {
            name: name.into(),
            row,
            bulkhead: Bulkhead::new(
                self.table.slots(),
                capacity,
                queue,
                config.bulkhead.max_wait,
            ),
            half_open_max: crate::sync::AtomicU32::new(config.breaker.half_open_max),
            retry: RwLock::new(config.retry),
            budget: RetryBudget::new(),
            latency: Latency::new(),
        };
        if self.strategies[index].set(strategy).is_err() {
            unreachable!("strategy places are filled in order under the control lock");
        }
        control.add_strategy(name, config, capacity, self.clock.now_ns());
        Ok(BreakerId {
            strategy: index16,
            row,
        })
    }

    /// The breaker of strategy `name` for `key`, created (closed) on first
    /// use. Look it up once and keep the id: this takes the control lock.
    pub fn breaker(&self, strategy: &str, key: &[u8]) -> Result<BreakerId, ResilienceError> {
        check_name("breaker key", key)?;
        let mut control = self.control();
        let index = control.strategy_index(strategy)?;
        control.keyed_row(&self.table, index, key)
    }

    /// The id of strategy `name`'s own breaker.
    pub fn strategy(&self, name: &str) -> Result<BreakerId, ResilienceError> {
        let control = self.control();
        let index = control.strategy_index(name)?;
        let row = self.strategy_at(index).map_or(0, |s| s.row);
        Ok(BreakerId {
            strategy: index,
            row,
        })
    }

    pub(crate) fn strategy_at(&self, index: u16) -> Option<&Strategy> {
        self.strategies
            .get(usize::from(index))
            .and_then(OnceLock::get)
    }

    /// This engine's node id in shared breaker state.
    pub fn node_id(&self) -> u32 {
        self.options.node_id
    }

    /// A breaker's state now.
    pub fn state(&self, id: BreakerId) -> BreakerState {
        self.table.state(id.row())
    }

    /// A strategy's configuration now (with adapted values in force).
    pub fn strategy_config(&self, name: &str) -> Result<StrategyConfig, ResilienceError> {
        let control = self.control();
        let index = control.strategy_index(name)?;
        Ok(control.effective_config(usize::from(index)))
    }

    /// Replaces a strategy's configuration at run time.
    pub fn reconfigure_strategy(
        &self,
        name: &str,
        config: StrategyConfig,
    ) -> Result<(), ResilienceError> {
        config.validate()?;
        let mut control = self.control();
        let index = control.strategy_index(name)?;
        self.apply_strategy(&mut control, index, config);
        Ok(())
    }

    pub(crate) fn apply_strategy(&self, control: &mut Control, index: u16, config: StrategyConfig) {
        let Some(s) = self.strategy_at(index) else {
            return;
        };
        let (capacity, queue) = control.bulkhead_limits(&config);
        s.bulkhead.resize(capacity);
        s.bulkhead.set_queue(queue, config.bulkhead.max_wait);
        // Relaxed: read once per half-open admission; a call racing the
        // change sees the old or the new value.
        s.half_open_max
            .store(config.breaker.half_open_max, crate::sync::Ordering::Relaxed);
        *s.retry.write().unwrap_or_else(|p| p.into_inner()) = config.retry;
        control.set_config(usize::from(index), config, capacity);
    }

    /// Records one sampled latency for a strategy measured by the host
    /// (for operations `execute` does not wrap, e.g. asynchronous ones).
    pub fn record_latency(&self, id: BreakerId, latency: Duration) {
        if let Some(s) = self.strategy_at(id.strategy) {
            s.latency.record(latency.as_nanos() as u64);
        }
    }

    /// Runs one control-plane pass at the clock's current time.
    pub fn tick(&self) {
        let now = self.clock.now_ns();
        self.tick_at(now);
    }

    /// Runs one control-plane pass at `now_ns`.
    pub fn tick_at(&self, now_ns: u64) {
        let mut control = self.control();
        control.tick(self, now_ns);
    }

    /// The tick as an engine system (it owns its own tables, so it
    /// declares no engine columns and runs beside any system).
    pub fn system(self: &Arc<Self>) -> System {
        let me = Arc::clone(self);
        System::new("resilience.tick", move |ctx| {
            me.tick_at(ctx.now_ns());
            Ok(())
        })
    }

    /// Publishes this engine's shared transitions on `bus` (topic
    /// [`STATE_TOPIC`], created if absent) and merges other nodes'.
    pub fn share_over(&self, bus: &keel_engine::bus::Bus) -> Result<(), ResilienceError> {
        let share = share::Share::attach(bus, self.options.share)?;
        self.control().share = Some(share);
        Ok(())
    }

    /// Breakers in each state, per strategy name.
    pub fn breakers_by_state(&self) -> HashMap<String, [u64; 3]> {
        let control = self.control();
        control
            .strategies
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                self.strategy_at(i as u16)
                    .map(|s| (s.name.to_string(), c.by_state))
            })
            .collect()
    }
}

fn check_name(what: &'static str, bytes: &[u8]) -> Result<(), ResilienceError> {
    if bytes.is_empty() || bytes.len() > MAX_NAME_BYTES {
        return Err(ResilienceError::BadName {
            what,
            len: bytes.len(),
            max: MAX_NAME_BYTES,
        });
    }
    Ok(())
}
