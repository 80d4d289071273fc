//! One metrics surface: snapshots from every subsystem, rendered in the
//! Prometheus text exposition format.

mod prometheus;
mod snapshot;

pub use prometheus::render_prometheus;
pub use snapshot::{MetricKind, MetricsSnapshot, Sample};
