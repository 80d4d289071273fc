//! LRU: one list, most recently used at the head. A hit or a write moves
//! the entry to the head; a write into a full shard first evicts the tail.
//! TTL shares the same list and eviction, ordered by write instead of use.

use std::hash::Hash;

use super::backing::Hooks;
use super::shard::Shard;
use super::slab::{ListId, NIL};
use super::EvictionCause;

impl<K: Hash + Eq, V> Shard<K, V> {
    /// Evicts from the tail until one more entry fits.
    pub(crate) fn lru_make_room(&mut self, hooks: &Hooks<K, V>) {
        while self.resident() >= self.max_entries
            && self.evict_t1_tail(NIL, EvictionCause::Capacity, hooks)
        {}
    }

    /// Evicts the tail of T1 (the LRU list; ARC's recent list) unless it
    /// is `keep`; false if nothing went.
    pub(crate) fn evict_t1_tail(
        &mut self,
        keep: u32,
        cause: EvictionCause,
        hooks: &Hooks<K, V>,
    ) -> bool {
        match self.slab.tail(ListId::T1) {
            Some(t) if t != keep => {
                self.evict_node(t, cause, hooks);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::shard::{PolicyState, Write};
    use super::*;

    fn put(s: &mut Shard<u32, u32>, k: u32, hooks: &Hooks<u32, u32>) {
        s.put_plain(k, k * 10, hooks);
    }

    #[test]
    fn full_shard_evicts_least_recently_used() {
        let hooks = Hooks::none();
        let mut s = Shard::new(PolicyState::Lru, 3, u64::MAX, Default::default());
        for k in 1..=3 {
            put(&mut s, k, &hooks);
        }
        assert_eq!(s.get(s.hash_of(&1), &1, 0, &hooks), Some(10));
        put(&mut s, 4, &hooks);
        assert_eq!(s.keys_in_order(ListId::T1), vec![&4, &1, &3]);
        assert_eq!(s.get(s.hash_of(&2), &2, 0, &hooks), None);
        assert_eq!(s.counters.evictions, 1);
        assert_eq!((s.counters.hits, s.counters.misses), (1, 1));
    }

    #[test]
    fn deferred_hits_past_the_buffer_keep_exact_order() {
        let hooks = Hooks::none();
        let mut s = Shard::new(PolicyState::Lru, 4, u64::MAX, Default::default());
        for k in 1..=4 {
            put(&mut s, k, &hooks);
        }
        // 201 reads, more than three buffers' worth, ending on 3, 1, 2.
        for n in 0..201u32 {
            let k = [3, 1, 2][(n % 3) as usize];
            assert_eq!(s.get(s.hash_of(&k), &k, 0, &hooks), Some(k * 10));
        }
        put(&mut s, 5, &hooks); // evicts 4, the least recently used
        assert_eq!(s.keys_in_order(ListId::T1), vec![&5, &2, &1, &3]);
    }

    #[test]
    fn byte_limit_evicts_from_the_tail_but_spares_the_new_entry() {
        let hooks = Hooks::none();
        let mut s = Shard::new(PolicyState::Lru, 10, 3, Default::default());
        for k in 1..=3 {
            put(&mut s, k, &hooks);
        }
        let big = Write {
            hash: s.hash_of(&9),
            key: 9,
            value: 90,
            weight: 3,
            dirty: false,
            now_ns: 0,
            if_absent: false,
        };
        s.put(big, &hooks);
        assert_eq!(s.keys_in_order(ListId::T1), vec![&9]);
        assert_eq!(s.bytes, 3);
    }
}
