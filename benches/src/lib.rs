//! Workloads shared by the criterion benches and `keel bench`, so both
//! measure the same code: Keel's version and its peer's, side by side.

pub mod bus;
pub mod cache;
pub mod resilience;
pub mod tick;
pub mod wal;
