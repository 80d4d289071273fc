//! Validation rules: one per key, each naming the key, the value and the
//! allowed range when it refuses.

use super::{Config, ConfigError};

/// Largest table or cache capacity: row indexes are `u32` and the top
/// values stay free for sentinels.
pub(crate) const CAPACITY_MAX: u64 = 1 << 30;

fn refuse(key: &str, value: impl std::fmt::Display, allowed: impl Into<String>) -> ConfigError {
    ConfigError::OutOfRange {
        key: key.to_owned(),
        value: value.to_string(),
        allowed: allowed.into(),
    }
}

fn range(key: &str, value: u64, lo: u64, hi: u64) -> Result<(), ConfigError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(refuse(key, value, format!("{lo}..={hi}")))
    }
}

fn fraction(key: &str, value: f64, above: f64, at_most: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > above && value <= at_most {
        Ok(())
    } else {
        Err(refuse(key, value, format!("> {above} and <= {at_most}")))
    }
}

fn power_of_two(key: &str, value: u64, lo: u64, hi: u64) -> Result<(), ConfigError> {
    if value.is_power_of_two() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(refuse(key, value, format!("a power of two in {lo}..={hi}")))
    }
}

pub(crate) fn validate(c: &Config) -> Result<(), ConfigError> {
    engine(c)?;
    tables(c)?;
    bus(c)?;
    wal(c)?;
    resilience(c)?;
    cache(c)
}

fn engine(c: &Config) -> Result<(), ConfigError> {
    let e = &c.engine;
    range("engine.tick_period_us", e.tick_period_us, 10, 10_000_000)?;
    range("engine.worker_count", e.worker_count as u64, 0, 1_024)?;
    let mut seen = std::collections::BTreeSet::new();
    for &core in &e.core_list {
        if core > 4_095 || !seen.insert(core) {
            return Err(refuse(
                "engine.core_list",
                format!("{:?}", e.core_list),
                "distinct core ids in 0..=4095",
            ));
        }
    }
    range("engine.worker_spin_us", e.worker_spin_us, 0, 10_000)?;
    range(
        "engine.ram_share_percent",
        u64::from(e.ram_share_percent),
        1,
        90,
    )?;
    range(
        "engine.event_log_capacity",
        e.event_log_capacity as u64,
        16,
        1 << 20,
    )
}

fn tables(c: &Config) -> Result<(), ConfigError> {
    let t = &c.tables;
    for (key, value) in [
        ("tables.nodes", t.nodes),
        ("tables.jobs", t.jobs),
        ("tables.breakers", t.breakers),
        ("tables.queues", t.queues),
        ("tables.replicas", t.replicas),
        ("tables.modules", t.modules),
        ("tables.pipelines", t.pipelines),
    ] {
        range(key, value as u64, 1, CAPACITY_MAX)?;
    }
    Ok(())
}

fn bus(c: &Config) -> Result<(), ConfigError> {
    let b = &c.bus;
    power_of_two("bus.ring_size", b.ring_size as u64, 64, 1 << 24)?;
    range(
        "bus.default_partitions",
        b.default_partitions as u64,
        0,
        4_096,
    )?;
    range("bus.max_topics", b.max_topics as u64, 1, 65_536)?;
    range(
        "bus.max_subscribers_per_topic",
        b.max_subscribers_per_topic as u64,
        1,
        4_096,
    )?;
    range("bus.max_queue_size", b.max_queue_size as u64, 1, 1 << 24)?;
    range(
        "bus.max_payload_bytes",
        b.max_payload_bytes as u64,
        1,
        64 << 20,
    )?;
    fraction("bus.warning_fill", b.warning_fill, 0.0, 1.0)?;
    fraction("bus.critical_fill", b.critical_fill, b.warning_fill, 1.0)?;
    fraction("bus.shedding_fill", b.shedding_fill, b.critical_fill, 1.0)?;
    range(
        "bus.critical_delay_min_ms",
        b.critical_delay_min_ms,
        10,
        1_000,
    )?;
    range(
        "bus.critical_delay_max_ms",
        b.critical_delay_max_ms,
        b.critical_delay_min_ms,
        1_000,
    )
}

fn wal(c: &Config) -> Result<(), ConfigError> {
    let w = &c.wal;
    if w.dir.trim().is_empty() {
        return Err(refuse("wal.dir", "\"\"", "a non-empty path"));
    }
    if w.segment_bytes % 4_096 != 0 {
        return Err(refuse(
            "wal.segment_bytes",
            w.segment_bytes,
            "a multiple of 4096 in 1048576..=1073741824",
        ));
    }
    range("wal.segment_bytes", w.segment_bytes, 1 << 20, 1 << 30)?;
    range(
        "wal.fsync_every_records",
        w.fsync_every_records,
        1,
        1_000_000,
    )?;
    range("wal.fsync_every_ms", w.fsync_every_ms, 1, 60_000)?;
    range("wal.retention_hours", w.retention_hours, 1, 24 * 366)?;
    range(
        "wal.retention_bytes_per_partition",
        w.retention_bytes_per_partition,
        w.segment_bytes,
        1 << 40,
    )
}

fn resilience(c: &Config) -> Result<(), ConfigError> {
    let r = &c.resilience;
    range(
        "resilience.failure_threshold",
        u64::from(r.failure_threshold),
        1,
        1_000_000,
    )?;
    range(
        "resilience.minimum_calls",
        u64::from(r.minimum_calls),
        1,
        1_000_000,
    )?;
    range(
        "resilience.reset_timeout_ms",
        r.reset_timeout_ms,
        1,
        86_400_000,
    )?;
    range(
        "resilience.half_open_max",
        u64::from(r.half_open_max),
        1,
        1_024,
    )?;
    range(
        "resilience.bulkhead_max_concurrent",
        u64::from(r.bulkhead_max_concurrent),
        1,
        1_000_000,
    )?;
    range(
        "resilience.bulkhead_max_queue",
        u64::from(r.bulkhead_max_queue),
        0,
        1_000_000,
    )?;
    range("resilience.max_retries", u64::from(r.max_retries), 0, 100)?;
    if !(r.retry_budget_ratio.is_finite() && (0.0..=1.0).contains(&r.retry_budget_ratio)) {
        return Err(refuse(
            "resilience.retry_budget_ratio",
            r.retry_budget_ratio,
            "0.0..=1.0",
        ));
    }
    range(
        "resilience.adaptive_interval_ms",
        r.adaptive_interval_ms,
        1_000,
        3_600_000,
    )
}

fn cache(c: &Config) -> Result<(), ConfigError> {
    let k = &c.cache;
    range("cache.max_entries", k.max_entries as u64, 1, CAPACITY_MAX)?;
    if k.max_memory_bytes != 0 {
        range("cache.max_memory_bytes", k.max_memory_bytes, 4_096, 1 << 44).map_err(|_| {
            refuse(
                "cache.max_memory_bytes",
                k.max_memory_bytes,
                "0 (RAM share) or 4096..=17592186044416",
            )
        })?;
    }
    range("cache.ttl_ms", k.ttl_ms, 1, 30 * 86_400_000)?;
    if k.shards != 0 {
        power_of_two("cache.shards", k.shards as u64, 1, 4_096)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_key(mutate: impl FnOnce(&mut Config)) -> String {
        let mut c = Config::default();
        mutate(&mut c);
        match c.validate() {
            Err(ConfigError::OutOfRange {
                key,
                value,
                allowed,
            }) => {
                assert!(!value.is_empty() && !allowed.is_empty());
                key
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    /// One test per rule: the mutation breaks exactly that rule, and the
    /// error names its key.
    macro_rules! refuses {
        ($($name:ident: $key:literal => |$c:ident| $mutate:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(refused_key(|$c: &mut Config| { $mutate; }), $key);
            }
        )*};
    }

    refuses! {
        tick_period_too_short: "engine.tick_period_us" => |c| c.engine.tick_period_us = 9;
        tick_period_too_long: "engine.tick_period_us" => |c| c.engine.tick_period_us = 10_000_001;
        worker_count_too_high: "engine.worker_count" => |c| c.engine.worker_count = 1_025;
        core_list_duplicate: "engine.core_list" => |c| c.engine.core_list = vec![0, 1, 0];
        core_list_too_high: "engine.core_list" => |c| c.engine.core_list = vec![4_096];
        worker_spin_too_long: "engine.worker_spin_us" => |c| c.engine.worker_spin_us = 10_001;
        ram_share_zero: "engine.ram_share_percent" => |c| c.engine.ram_share_percent = 0;
        ram_share_too_high: "engine.ram_share_percent" => |c| c.engine.ram_share_percent = 91;
        event_log_too_small: "engine.event_log_capacity" => |c| c.engine.event_log_capacity = 15;
        nodes_zero: "tables.nodes" => |c| c.tables.nodes = 0;
        jobs_too_many: "tables.jobs" => |c| c.tables.jobs = (CAPACITY_MAX + 1) as usize;
        breakers_zero: "tables.breakers" => |c| c.tables.breakers = 0;
        queues_zero: "tables.queues" => |c| c.tables.queues = 0;
        replicas_zero: "tables.replicas" => |c| c.tables.replicas = 0;
        modules_zero: "tables.modules" => |c| c.tables.modules = 0;
        pipelines_zero: "tables.pipelines" => |c| c.tables.pipelines = 0;
        ring_not_power_of_two: "bus.ring_size" => |c| c.bus.ring_size = 65_535;
        ring_too_small: "bus.ring_size" => |c| c.bus.ring_size = 32;
        partitions_too_many: "bus.default_partitions" => |c| c.bus.default_partitions = 4_097;
        max_topics_zero: "bus.max_topics" => |c| c.bus.max_topics = 0;
        subscribers_zero: "bus.max_subscribers_per_topic" => |c| c.bus.max_subscribers_per_topic = 0;
        queue_size_zero: "bus.max_queue_size" => |c| c.bus.max_queue_size = 0;
        payload_too_big: "bus.max_payload_bytes" => |c| c.bus.max_payload_bytes = (64 << 20) + 1;
        warning_zero: "bus.warning_fill" => |c| c.bus.warning_fill = 0.0;
        warning_nan: "bus.warning_fill" => |c| c.bus.warning_fill = f64::NAN;
        critical_below_warning: "bus.critical_fill" => |c| c.bus.critical_fill = 0.6;
        shedding_above_one: "bus.shedding_fill" => |c| c.bus.shedding_fill = 1.01;
        shedding_below_critical: "bus.shedding_fill" => |c| c.bus.shedding_fill = 0.8;
        delay_min_too_short: "bus.critical_delay_min_ms" => |c| c.bus.critical_delay_min_ms = 9;
        delay_max_below_min: "bus.critical_delay_max_ms" => |c| { c.bus.critical_delay_min_ms = 100; c.bus.critical_delay_max_ms = 50 };
        delay_max_too_long: "bus.critical_delay_max_ms" => |c| c.bus.critical_delay_max_ms = 1_001;
        wal_dir_empty: "wal.dir" => |c| c.wal.dir = " ".to_owned();
        segment_unaligned: "wal.segment_bytes" => |c| c.wal.segment_bytes = (1 << 20) + 1;
        segment_too_small: "wal.segment_bytes" => |c| c.wal.segment_bytes = 4_096;
        fsync_records_zero: "wal.fsync_every_records" => |c| c.wal.fsync_every_records = 0;
        fsync_ms_zero: "wal.fsync_every_ms" => |c| c.wal.fsync_every_ms = 0;
        retention_hours_zero: "wal.retention_hours" => |c| c.wal.retention_hours = 0;
        retention_below_segment: "wal.retention_bytes_per_partition" => |c| c.wal.retention_bytes_per_partition = 1 << 20;
        failure_threshold_zero: "resilience.failure_threshold" => |c| c.resilience.failure_threshold = 0;
        minimum_calls_zero: "resilience.minimum_calls" => |c| c.resilience.minimum_calls = 0;
        reset_timeout_zero: "resilience.reset_timeout_ms" => |c| c.resilience.reset_timeout_ms = 0;
        half_open_zero: "resilience.half_open_max" => |c| c.resilience.half_open_max = 0;
        bulkhead_zero: "resilience.bulkhead_max_concurrent" => |c| c.resilience.bulkhead_max_concurrent = 0;
        bulkhead_queue_too_big: "resilience.bulkhead_max_queue" => |c| c.resilience.bulkhead_max_queue = 1_000_001;
        retries_too_many: "resilience.max_retries" => |c| c.resilience.max_retries = 101;
        retry_budget_negative: "resilience.retry_budget_ratio" => |c| c.resilience.retry_budget_ratio = -0.1;
        adaptive_interval_too_short: "resilience.adaptive_interval_ms" => |c| c.resilience.adaptive_interval_ms = 999;
        cache_entries_zero: "cache.max_entries" => |c| c.cache.max_entries = 0;
        cache_memory_too_small: "cache.max_memory_bytes" => |c| c.cache.max_memory_bytes = 100;
        cache_ttl_zero: "cache.ttl_ms" => |c| c.cache.ttl_ms = 0;
        cache_shards_not_power_of_two: "cache.shards" => |c| c.cache.shards = 3;
    }

    #[test]
    fn bounds_themselves_are_accepted() {
        let mut c = Config::default();
        c.engine.tick_period_us = 10;
        c.bus.ring_size = 64;
        c.bus.shedding_fill = 1.0;
        c.wal.segment_bytes = 1 << 20;
        c.cache.shards = 1;
        c.validate().unwrap();
    }
}
