//! The scalable contract every subsystem implements (SPEC §2): limits that
//! change at run time, a metrics snapshot, and a backpressure state.

mod backpressure;
mod events;
mod hierarchy;
mod limits;
mod registry;

pub use backpressure::{
    BackpressureCell, BackpressureState, BackpressureStrategy, BackpressureThresholds,
};
pub use events::{BackpressureChanged, Event, EventLog, EventSink, Reconfigured};
pub use hierarchy::{LimitHierarchy, Scope};
pub use limits::{ram_share_bytes, LimitBounds, Limits, LimitsError};
pub use registry::{Registry, RegistryError, Scalable};
