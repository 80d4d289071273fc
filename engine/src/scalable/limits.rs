//! Named limits and the bounds they are checked against.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// A subsystem's limits by name. Every subsystem has the four common ones
/// (see the constants) and may add its own (`max_topics`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Limits {
    values: BTreeMap<String, u64>,
}

impl Limits {
    /// Entries (rows, cache entries, topics) at most.
    pub const MAX_ENTRIES: &'static str = "max_entries";
    /// Estimated memory at most, bytes.
    pub const MAX_MEMORY_BYTES: &'static str = "max_memory_bytes";
    /// Operations in flight at most.
    pub const MAX_CONCURRENT_OPERATIONS: &'static str = "max_concurrent_operations";
    /// Queued items at most.
    pub const MAX_QUEUE_DEPTH: &'static str = "max_queue_depth";

    /// No limits set.
    pub fn new() -> Limits {
        Limits::default()
    }

    /// Sets one limit (builder style).
    pub fn with(mut self, key: &str, value: u64) -> Limits {
        self.set(key, value);
        self
    }

    /// Sets one limit.
    pub fn set(&mut self, key: &str, value: u64) {
        self.values.insert(key.to_owned(), value);
    }

    /// One limit, if set.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.values.get(key).copied()
    }

    /// Every limit, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.values.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// True if no limit is set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// These limits with `other`'s set on top.
    pub fn overlaid(&self, other: &Limits) -> Limits {
        let mut out = self.clone();
        for (k, v) in other.iter() {
            out.set(k, v);
        }
        out
    }
}

/// Why limits were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    /// A limit is outside what the subsystem supports.
    #[error(
        "subsystem `{subsystem}`: limit `{key}` = {value} is out of range: allowed {lo}..={hi}"
    )]
    OutOfRange {
        /// The subsystem.
        subsystem: String,
        /// The limit's name.
        key: String,
        /// The refused value.
        value: u64,
        /// Smallest allowed.
        lo: u64,
        /// Largest allowed.
        hi: u64,
    },
    /// The subsystem has no limit of this name.
    #[error("subsystem `{subsystem}` has no limit `{key}` (it has: {known})")]
    UnknownKey {
        /// The subsystem.
        subsystem: String,
        /// The unknown name.
        key: String,
        /// The names it has, comma-separated.
        known: String,
    },
    /// The subsystem could not apply valid-looking limits.
    #[error("subsystem `{subsystem}` refused the new limits: {reason}")]
    Refused {
        /// The subsystem.
        subsystem: String,
        /// Why.
        reason: String,
    },
}

/// The allowed range of every limit a subsystem has.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LimitBounds {
    ranges: BTreeMap<String, RangeInclusive<u64>>,
}

impl LimitBounds {
    /// No limits.
    pub fn new() -> LimitBounds {
        LimitBounds::default()
    }

    /// Adds a limit and its range (builder style).
    pub fn with(mut self, key: &str, range: RangeInclusive<u64>) -> LimitBounds {
        self.ranges.insert(key.to_owned(), range);
        self
    }

    /// Checks every limit in `limits`: known and in range.
    pub fn check(&self, subsystem: &str, limits: &Limits) -> Result<(), LimitsError> {
        for (key, value) in limits.iter() {
            let Some(range) = self.ranges.get(key) else {
                let known: Vec<&str> = self.ranges.keys().map(String::as_str).collect();
                return Err(LimitsError::UnknownKey {
                    subsystem: subsystem.to_owned(),
                    key: key.to_owned(),
                    known: known.join(", "),
                });
            };
            if !range.contains(&value) {
                return Err(LimitsError::OutOfRange {
                    subsystem: subsystem.to_owned(),
                    key: key.to_owned(),
                    value,
                    lo: *range.start(),
                    hi: *range.end(),
                });
            }
        }
        Ok(())
    }
}

/// `percent` of physical memory in bytes, from `/proc/meminfo` (1 GiB when
/// it cannot be read), for RAM-sized defaults.
pub fn ram_share_bytes(percent: u8) -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(1 << 30);
    total / 100 * u64::from(percent.min(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_refuse_unknown_and_out_of_range_keys_by_name() {
        let bounds = LimitBounds::new().with(Limits::MAX_ENTRIES, 1..=100);
        let ok = Limits::new().with(Limits::MAX_ENTRIES, 100);
        bounds.check("cache", &ok).unwrap();
        let big = Limits::new().with(Limits::MAX_ENTRIES, 101);
        assert!(
            matches!(bounds.check("cache", &big), Err(LimitsError::OutOfRange { key, .. }) if key == "max_entries")
        );
        let unknown = Limits::new().with("max_topics", 1);
        assert!(
            matches!(bounds.check("cache", &unknown), Err(LimitsError::UnknownKey { key, .. }) if key == "max_topics")
        );
    }

    #[test]
    fn ram_share_is_a_fraction_of_memory() {
        let ten = ram_share_bytes(10);
        let twenty = ram_share_bytes(20);
        assert!(ten > 0 && twenty >= 2 * ten - 100);
    }
}
