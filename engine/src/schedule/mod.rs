//! The tick scheduler: systems with declared access, run in parallel on
//! pinned workers where they do not conflict.

mod context;
mod pool;
mod scheduler;
mod stages;
mod system;
mod tick_loop;

pub use context::SystemContext;
pub use scheduler::{ScheduleError, Scheduler, SchedulerOptions, MAX_ACCESS_PER_SYSTEM};
pub use system::{AccessError, Mode, RowSplit, System, SystemError, SystemResult};
pub use tick_loop::TickLoop;
