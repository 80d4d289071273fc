//! Counters: plain integers inside each shard, changed only under the
//! shard's lock (the lock is taken for every operation anyway, so no
//! atomic is needed), summed into a [`CacheStats`] on demand.

/// One shard's counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) inserts: u64,
    pub(crate) updates: u64,
    pub(crate) evictions: u64,
    pub(crate) expirations: u64,
    pub(crate) removals: u64,
    pub(crate) backing_errors: u64,
}

/// A cache's statistics at one moment (summed over shards, each read
/// under its own lock, so concurrent operations may land between shards).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads that found a live entry.
    pub hits: u64,
    /// Reads that found nothing (or an expired entry, or a ghost).
    pub misses: u64,
    /// New entries written (a ghost brought back counts).
    pub inserts: u64,
    /// Writes that replaced the value of a resident entry.
    pub updates: u64,
    /// Entries evicted for the entry or byte limit.
    pub evictions: u64,
    /// Entries dropped because their TTL passed.
    pub expirations: u64,
    /// Entries removed by the host.
    pub removals: u64,
    /// Write-backs the backing store refused (the entry was dropped).
    pub backing_errors: u64,
    /// Resident entries now.
    pub entries: u64,
    /// Estimated bytes of resident entries now.
    pub estimated_bytes: u64,
}

impl CacheStats {
    /// Hits over reads, 0.0 before the first read.
    pub fn hit_ratio(&self) -> f64 {
        let reads = self.hits + self.misses;
        if reads == 0 {
            0.0
        } else {
            self.hits as f64 / reads as f64
        }
    }

    pub(crate) fn add(&mut self, c: &Counters, entries: usize, bytes: u64) {
        self.hits += c.hits;
        self.misses += c.misses;
        self.inserts += c.inserts;
        self.updates += c.updates;
        self.evictions += c.evictions;
        self.expirations += c.expirations;
        self.removals += c.removals;
        self.backing_errors += c.backing_errors;
        self.entries += entries as u64;
        self.estimated_bytes += bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_ratio_is_hits_over_reads() {
        let mut s = CacheStats::default();
        assert_eq!(s.hit_ratio(), 0.0);
        let c = Counters {
            hits: 3,
            misses: 1,
            ..Counters::default()
        };
        s.add(&c, 2, 10);
        s.add(&c, 1, 5);
        assert_eq!(s.hit_ratio(), 0.75);
        assert_eq!((s.entries, s.estimated_bytes), (3, 15));
    }
}
