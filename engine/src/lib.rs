//! Keel's engine core: typed start-up config, columnar tables with
//! generational ids, the tick scheduler that runs systems in parallel on
//! pinned workers, the scalable contract every subsystem implements, and the
//! metrics surface.
//!
//! ```
//! use keel_engine::{Scheduler, SchedulerOptions, SimClock, System, World};
//! use std::sync::Arc;
//!
//! let mut world = World::new();
//! let breakers = world.add_table("breakers", 1_024).unwrap();
//! let failures = world.add_column::<u32>(breakers, "failures").unwrap();
//! let state = world.add_column::<u8>(breakers, "state").unwrap();
//! let row = world.table_mut(breakers).unwrap().insert().unwrap();
//! world.table_mut(breakers).unwrap().set(row, failures, 7).unwrap();
//!
//! let mut scheduler = Scheduler::new(world, SchedulerOptions::deterministic(Arc::new(SimClock::new())));
//! scheduler
//!     .add_system(
//!         System::new("trip", move |ctx| {
//!             let f = ctx.read(failures)?;
//!             for (s, f) in ctx.write(state)?.iter_mut().zip(f) {
//!                 *s |= u8::from(*f >= 5);
//!             }
//!             Ok(())
//!         })
//!         .reads(failures)
//!         .writes(state),
//!     )
//!     .unwrap();
//! scheduler.run_tick();
//! assert_eq!(scheduler.world().table(breakers).unwrap().get(row, state).unwrap(), 1);
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod barrier;
pub mod bus;
mod cache;
mod clock;
pub mod config;
mod engine;
mod metrics;
mod scalable;
mod schedule;
mod sync;
mod table;
mod world;

pub use cache::{
    default_weight, BackingError, BackingErrorKind, BackingStore, BoundedCache, CacheBuilder,
    CacheError, CacheStats, EvictionCause, EvictionListener, EvictionPolicy, MemoryBackingStore,
    Weigher, WritePolicy, DEFAULT_RAM_SHARE_PERCENT, ENTRY_OVERHEAD_BYTES, MAX_ENTRIES_LIMIT,
};
pub use clock::{Clock, MonotonicClock, SimClock};
pub use config::{Config, ConfigError};
pub use engine::{Engine, EngineError};
pub use metrics::{render_prometheus, MetricKind, MetricsSnapshot, Sample};
pub use scalable::{
    ram_share_bytes, BackpressureCell, BackpressureChanged, BackpressureState,
    BackpressureStrategy, BackpressureThresholds, Event, EventLog, EventSink, LimitBounds,
    LimitHierarchy, Limits, LimitsError, Reconfigured, Registry, RegistryError, Scalable, Scope,
};
pub use schedule::{
    AccessError, Mode, RowSplit, ScheduleError, Scheduler, SchedulerOptions, System, SystemContext,
    SystemError, SystemResult, TickLoop, MAX_ACCESS_PER_SYSTEM,
};
pub use table::{Col, ColumnId, RowId, Table, TableError, TableId};
pub use world::World;
