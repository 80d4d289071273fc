//! TTL: every entry expires a fixed time after its last write. Expiry is
//! lazy on access (a read or write of an expired entry drops it) and
//! eager on the tick ([`super::BoundedCache::expiry_system`] calls
//! [`super::BoundedCache::expire_due`]). Entries are kept in write order on
//! one list, so the tail is always the next to expire and the tick's
//! expiry walks only expired entries. A full shard evicts its tail, which
//! is the entry closest to expiry.

use std::hash::Hash;

use super::backing::Hooks;
use super::shard::{PolicyState, Shard};
use super::slab::ListId;
use super::EvictionCause;

impl<K: Hash + Eq, V> Shard<K, V> {
    /// Drops node `i` (whose key hashes to `hash`) if it has expired at
    /// `now_ns`; true if it did.
    #[inline]
    pub(crate) fn expire_if_due(
        &mut self,
        i: u32,
        hash: u64,
        now_ns: u64,
        hooks: &Hooks<K, V>,
    ) -> bool {
        if !matches!(self.policy, PolicyState::Ttl { .. }) || self.expires_ns(i) > now_ns {
            return false;
        }
        self.evict_node_hashed(i, hash, EvictionCause::Expired, hooks);
        true
    }

    /// Drops up to `budget` expired entries from the tail; returns how
    /// many went.
    pub(crate) fn expire_due(&mut self, now_ns: u64, budget: usize, hooks: &Hooks<K, V>) -> usize {
        if !matches!(self.policy, PolicyState::Ttl { .. }) {
            return 0;
        }
        // No pending hits to apply first: TTL never defers them
        // (`Shard::get`).
        let mut dropped = 0;
        while dropped < budget {
            match self.slab.tail(ListId::T1) {
                Some(t) if self.expires_ns(t) <= now_ns => {
                    self.evict_node(t, EvictionCause::Expired, hooks);
                    dropped += 1;
                }
                _ => break,
            }
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::super::shard::Write;
    use super::*;

    fn write(s: &Shard<u32, u32>, k: u32, now_ns: u64) -> Write<u32, u32> {
        Write {
            hash: s.hash_of(&k),
            key: k,
            value: k,
            weight: 1,
            dirty: false,
            now_ns,
            if_absent: false,
        }
    }

    #[test]
    fn entries_expire_lazily_and_on_the_tick_in_write_order() {
        let hooks = Hooks::none();
        let mut s = Shard::new(
            PolicyState::Ttl { ttl_ns: 100 },
            10,
            u64::MAX,
            Default::default(),
        );
        let w = write(&s, 1, 0);
        s.put(w, &hooks);
        let w = write(&s, 2, 50);
        s.put(w, &hooks);
        let w = write(&s, 3, 60);
        s.put(w, &hooks);
        assert_eq!(s.get(s.hash_of(&1), &1, 99, &hooks), Some(1));
        assert_eq!(
            s.get(s.hash_of(&1), &1, 100, &hooks),
            None,
            "lazy expiry on read"
        );
        assert_eq!(s.counters.expirations, 1);
        assert_eq!(s.expire_due(155, 10, &hooks), 1, "only key 2 is due");
        assert_eq!(s.resident(), 1);
        let w = write(&s, 3, 150);
        s.put(w, &hooks);
        assert_eq!(
            s.expire_due(200, 10, &hooks),
            0,
            "the rewrite extended key 3"
        );
        assert_eq!(s.expire_due(250, 10, &hooks), 1);
        assert_eq!(s.resident(), 0);
    }
}
