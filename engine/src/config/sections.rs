//! The config sections and their defaults. Each field's doc comment states
//! its default and unit; the allowed ranges live in `validate.rs`.

use serde::{Deserialize, Serialize};

/// Tick loop, workers and pinning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Time between tick starts, microseconds. Default 1,000 (1 kHz).
    pub tick_period_us: u64,
    /// Worker threads that run systems; 0 means one per available core.
    /// Default 0.
    pub worker_count: usize,
    /// Cores to pin workers to, in order (worker i gets `core_list[i % len]`);
    /// empty means the cores the process may run on. Default empty.
    pub core_list: Vec<usize>,
    /// How long an idle worker spins before it parks, microseconds; 0 parks
    /// at once (for machines with few cores). Default 50.
    pub worker_spin_us: u64,
    /// Run systems on the calling thread, in registration order, on a
    /// simulated clock. Default false.
    pub deterministic: bool,
    /// Share of physical RAM that RAM-sized defaults may take, percent.
    /// Default 10.
    pub ram_share_percent: u8,
    /// Capacity of the control-plane event log (reconfigured and
    /// backpressure-changed events); the oldest are dropped past it.
    /// Default 4,096.
    pub event_log_capacity: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            tick_period_us: 1_000,
            worker_count: 0,
            core_list: Vec::new(),
            worker_spin_us: 50,
            deterministic: false,
            ram_share_percent: 10,
            event_log_capacity: 4_096,
        }
    }
}

/// Row capacities of the columnar tables, fixed at start-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TablesConfig {
    /// Fabric nodes. Default 10,000 (the Federated topology's limit).
    pub nodes: usize,
    /// Jobs (content distribution, backup). Default 100,000.
    pub jobs: usize,
    /// Circuit breakers (one per strategy, or strategy and key). Default 65,536.
    pub breakers: usize,
    /// Queues (bus partitions, WAL logs). Default 4,096.
    pub queues: usize,
    /// Replicas. Default 1,024.
    pub replicas: usize,
    /// WASM modules. Default 1,024.
    pub modules: usize,
    /// Pipelines. Default 4,096.
    pub pipelines: usize,
}

impl Default for TablesConfig {
    fn default() -> Self {
        TablesConfig {
            nodes: 10_000,
            jobs: 100_000,
            breakers: 65_536,
            queues: 4_096,
            replicas: 1_024,
            modules: 1_024,
            pipelines: 4_096,
        }
    }
}

/// Message bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// Slots in a hot topic's Disruptor ring; a power of two. Default 65,536.
    pub ring_size: usize,
    /// Partitions of a new topic; 0 means one per subscriber. Default 0.
    pub default_partitions: usize,
    /// Topics at most. Default 1,024.
    pub max_topics: usize,
    /// Subscribers per topic at most. Default 64.
    pub max_subscribers_per_topic: usize,
    /// Depth of a non-ring (bounded queue) partition. Default 65,536.
    pub max_queue_size: usize,
    /// Largest payload accepted, bytes. Default 1 MiB.
    pub max_payload_bytes: usize,
    /// Aggregate fill at which backpressure becomes Warning. Default 0.70.
    pub warning_fill: f64,
    /// Aggregate fill at which backpressure becomes Critical. Default 0.85.
    pub critical_fill: f64,
    /// Aggregate fill at which non-critical publishes are shed. Default 0.95.
    pub shedding_fill: f64,
    /// Publish delay in Critical, milliseconds, at the Critical threshold.
    /// Default 10.
    pub critical_delay_min_ms: u64,
    /// Publish delay in Critical, milliseconds, just below Shedding.
    /// Default 1,000.
    pub critical_delay_max_ms: u64,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            ring_size: 65_536,
            default_partitions: 0,
            max_topics: 1_024,
            max_subscribers_per_topic: 64,
            max_queue_size: 65_536,
            max_payload_bytes: 1 << 20,
            warning_fill: 0.70,
            critical_fill: 0.85,
            shedding_fill: 0.95,
            critical_delay_min_ms: 10,
            critical_delay_max_ms: 1_000,
        }
    }
}

/// When the WAL makes appended records durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// Every record; concurrent appenders share one sync (group commit).
    Always,
    /// Every `fsync_every_records` records.
    EveryN,
    /// Every `fsync_every_ms` milliseconds.
    EveryMs,
    /// Never (the OS writes back when it likes).
    Never,
}

/// Write-ahead log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalConfig {
    /// Where segments and offsets live. Default `keel-data/wal`.
    pub dir: String,
    /// Size a segment is preallocated to and rolled at, bytes. Default 64 MiB.
    pub segment_bytes: u64,
    /// Fsync policy. Default `always`.
    pub fsync: FsyncPolicy,
    /// Records between syncs under `every_n`. Default 1,000.
    pub fsync_every_records: u64,
    /// Milliseconds between syncs under `every_ms`. Default 10.
    pub fsync_every_ms: u64,
    /// Records older than this are removed, hours. Default 24.
    pub retention_hours: u64,
    /// Bytes kept per partition at most. Default 1 GiB.
    pub retention_bytes_per_partition: u64,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            dir: "keel-data/wal".to_owned(),
            segment_bytes: 64 << 20,
            fsync: FsyncPolicy::Always,
            fsync_every_records: 1_000,
            fsync_every_ms: 10,
            retention_hours: 24,
            retention_bytes_per_partition: 1 << 30,
        }
    }
}

/// Circuit breakers, bulkheads, retries and their adaptation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResilienceConfig {
    /// Failures within the window that open a breaker. Default 5.
    pub failure_threshold: u32,
    /// Calls within the window before a breaker may open. Default 10.
    pub minimum_calls: u32,
    /// Time an open breaker waits before half-open, milliseconds. Default 30,000.
    pub reset_timeout_ms: u64,
    /// Probes admitted while half-open. Default 1.
    pub half_open_max: u32,
    /// Concurrent calls per bulkhead. Default 64.
    pub bulkhead_max_concurrent: u32,
    /// Callers that may wait for a bulkhead permit. Default 256.
    pub bulkhead_max_queue: u32,
    /// Retries after the first attempt. Default 3.
    pub max_retries: u32,
    /// Retries as a share of calls, at most. Default 0.2.
    pub retry_budget_ratio: f64,
    /// How often adaptive thresholds are recomputed, milliseconds. Default 30,000.
    pub adaptive_interval_ms: u64,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        ResilienceConfig {
            failure_threshold: 5,
            minimum_calls: 10,
            reset_timeout_ms: 30_000,
            half_open_max: 1,
            bulkhead_max_concurrent: 64,
            bulkhead_max_queue: 256,
            max_retries: 3,
            retry_budget_ratio: 0.2,
            adaptive_interval_ms: 30_000,
        }
    }
}

/// Which entries a full cache evicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheEviction {
    /// Least recently used.
    Lru,
    /// Adaptive replacement (recency and frequency lists with ghosts).
    Arc,
    /// Time to live.
    Ttl,
}

/// The bounded cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Entries at most. Default 100,000.
    pub max_entries: usize,
    /// Estimated bytes at most; 0 means `engine.ram_share_percent` of RAM.
    /// Default 0.
    pub max_memory_bytes: u64,
    /// Eviction policy. Default `arc`.
    pub eviction: CacheEviction,
    /// Entry lifetime under `ttl`, milliseconds. Default 60,000.
    pub ttl_ms: u64,
    /// Shards (a power of two); 0 means four per core. Default 0.
    pub shards: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_entries: 100_000,
            max_memory_bytes: 0,
            eviction: CacheEviction::Arc,
            ttl_ms: 60_000,
            shards: 0,
        }
    }
}
