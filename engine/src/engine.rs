//! The engine: one config, one world, one scheduler, one registry.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SimClock};
use crate::config::{Config, ConfigError};
use crate::metrics::{render_prometheus, MetricsSnapshot};
use crate::scalable::{EventLog, Registry};
use crate::schedule::{ScheduleError, Scheduler, SchedulerOptions, System, TickLoop};
use crate::world::World;

/// Why an engine call was refused.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The config broke a rule.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A system was refused.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The call needs the tick loop stopped (or running).
    #[error("the tick loop is {0}")]
    State(&'static str),
}

enum Ticking {
    Idle(Box<Scheduler>),
    Running(TickLoop),
}

/// A started engine. Systems are added while it is idle; [`Engine::start`]
/// runs the tick loop on its own pinned thread until [`Engine::stop`].
pub struct Engine {
    config: Config,
    registry: Arc<Registry>,
    ticking: Option<Ticking>,
    sim_clock: Option<SimClock>,
    clock: Arc<dyn Clock>,
}

impl Engine {
    /// Validates the config and starts the scheduler's workers over `world`.
    pub fn new(config: Config, world: World) -> Result<Engine, EngineError> {
        config.validate()?;
        let (options, sim_clock) = SchedulerOptions::from_config(&config.engine);
        let clock = Arc::clone(&options.clock);
        let events = Arc::new(EventLog::new(config.engine.event_log_capacity));
        let registry = Arc::new(Registry::new(events, Arc::clone(&clock)));
        let scheduler = Scheduler::new(world, options);
        Ok(Engine {
            config,
            registry,
            ticking: Some(Ticking::Idle(Box::new(scheduler))),
            sim_clock,
            clock,
        })
    }

    /// The config the engine started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where subsystems are registered and reconfigured.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The simulated clock, in deterministic mode.
    pub fn sim_clock(&self) -> Option<&SimClock> {
        self.sim_clock.as_ref()
    }

    /// The scheduler while the tick loop is stopped.
    pub fn scheduler_mut(&mut self) -> Result<&mut Scheduler, EngineError> {
        match self.ticking.as_mut() {
            Some(Ticking::Idle(s)) => Ok(s),
            _ => Err(EngineError::State("running; stop it first")),
        }
    }

    /// Registers a system (while stopped).
    pub fn add_system(&mut self, system: System) -> Result<(), EngineError> {
        Ok(self.scheduler_mut()?.add_system(system)?)
    }

    /// Runs one tick on the calling thread (while stopped).
    pub fn run_tick(&mut self) -> Result<u64, EngineError> {
        Ok(self.scheduler_mut()?.run_tick())
    }

    /// Starts the tick loop: every `engine.tick_period_us`, on a thread
    /// pinned to the first configured core.
    pub fn start(&mut self) -> Result<(), EngineError> {
        let Some(Ticking::Idle(scheduler)) = self.ticking.take() else {
            return Err(EngineError::State("already running"));
        };
        let period = Duration::from_micros(self.config.engine.tick_period_us);
        let core = self.config.engine.core_list.first().copied();
        self.ticking = Some(Ticking::Running(TickLoop::start(*scheduler, period, core)));
        Ok(())
    }

    /// Stops the tick loop after its current tick.
    pub fn stop(&mut self) -> Result<(), EngineError> {
        let Some(Ticking::Running(ticker)) = self.ticking.take() else {
            return Err(EngineError::State("not running"));
        };
        self.ticking = Some(Ticking::Idle(Box::new(ticker.stop())));
        Ok(())
    }

    /// Runs `f` on the scheduler (and its world) between two ticks, whether
    /// or not the loop is running.
    pub fn with_scheduler<R>(&mut self, f: impl FnOnce(&mut Scheduler) -> R) -> R {
        match self
            .ticking
            .as_mut()
            .expect("ticking state is always restored")
        {
            Ticking::Idle(s) => f(s),
            Ticking::Running(t) => f(&mut t.lock()),
        }
    }

    /// Snapshots of every registered subsystem and of the scheduler.
    pub fn metrics(&mut self) -> Vec<MetricsSnapshot> {
        let mut all = self.registry.metrics();
        all.push(self.with_scheduler(|s| s.metrics()));
        all
    }

    /// [`Engine::metrics`] in Prometheus text format.
    pub fn metrics_text(&mut self) -> String {
        render_prometheus(&self.metrics())
    }
}
