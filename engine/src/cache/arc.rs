//! ARC (Megiddo and Modha, "ARC: A Self-Tuning, Low Overhead Replacement
//! Cache", FAST 2003). Residents sit on T1 (seen once recently) or T2 (seen
//! at least twice); the keys of recently evicted entries stay on ghost
//! lists B1 and B2. A write of a key found on a ghost list moves the
//! target size `p` of T1 towards the list that would have kept it:
//! B1 raises `p` by max(1, |B2| / |B1|), B2 lowers it by max(1, |B1| / |B2|)
//! (integer division). REPLACE evicts T1's tail to B1 if
//! `|T1| > p` (or `|T1| == p` on a B2 hit), else T2's tail to B2.
//!
//! In this cache's terms: a read hit is the paper's case I (to T2's head);
//! a read miss changes nothing; a write is the paper's request: case I for
//! a resident key (value replaced), II/III for a ghost, IV for a new key.
//! Two extensions the paper does not need: REPLACE runs only when the shard
//! is full (after `remove` or a byte-limit eviction it may not be), and an
//! empty list chosen by REPLACE hands over to the other.

use std::hash::Hash;

use super::backing::Hooks;
use super::shard::{PolicyState, Shard, Write};
use super::slab::{ListId, NIL};
use super::EvictionCause;

impl<K: Hash + Eq, V> Shard<K, V> {
    fn arc_p(&self) -> usize {
        match self.policy {
            PolicyState::Arc { p } => p,
            _ => 0,
        }
    }

    fn set_arc_p(&mut self, p: usize) {
        self.policy = PolicyState::Arc { p };
    }

    /// Cases II and III: a write of a key on B1 or B2.
    pub(crate) fn arc_ghost_hit(&mut self, i: u32, w: Write<K, V>, hooks: &Hooks<K, V>) -> u32 {
        let (b1, b2) = (self.slab.len(ListId::B1), self.slab.len(ListId::B2));
        let (c, p) = (self.max_entries, self.arc_p());
        let in_b2 = self.slab.node(i).list == ListId::B2;
        if in_b2 {
            let delta = if b2 >= b1 { 1 } else { b1 / b2 };
            self.set_arc_p(p.saturating_sub(delta));
        } else {
            let delta = if b1 >= b2 { 1 } else { b2 / b1 };
            self.set_arc_p((p + delta).min(c));
        }
        if self.resident() >= c {
            self.arc_replace(in_b2, NIL, EvictionCause::Capacity, hooks);
        }
        self.refill(i, w);
        self.counters.inserts += 1;
        self.slab.move_to_head(i, ListId::T2);
        i
    }

    /// Case IV: a write of a key on no list.
    pub(crate) fn arc_insert_miss(&mut self, w: Write<K, V>, hooks: &Hooks<K, V>) -> u32 {
        let c = self.max_entries;
        let (t1, t2) = (self.slab.len(ListId::T1), self.slab.len(ListId::T2));
        let (b1, b2) = (self.slab.len(ListId::B1), self.slab.len(ListId::B2));
        let full = t1 + t2 >= c;
        if t1 + b1 >= c {
            if t1 < c {
                if let Some(g) = self.slab.tail(ListId::B1) {
                    self.drop_node(g);
                }
                if full {
                    self.arc_replace(false, NIL, EvictionCause::Capacity, hooks);
                }
            } else {
                self.evict_t1_tail(NIL, EvictionCause::Capacity, hooks);
            }
        } else if t1 + t2 + b1 + b2 >= c {
            if t1 + t2 + b1 + b2 >= 2 * c {
                if let Some(g) = self.slab.tail(ListId::B2) {
                    self.drop_node(g);
                }
            }
            if full {
                self.arc_replace(false, NIL, EvictionCause::Capacity, hooks);
            }
        }
        self.add_node(w, ListId::T1)
    }

    /// REPLACE: evicts T1's or T2's tail to its ghost list, never `keep`.
    /// False if nothing could be evicted.
    fn arc_replace(
        &mut self,
        in_b2: bool,
        keep: u32,
        cause: EvictionCause,
        hooks: &Hooks<K, V>,
    ) -> bool {
        let t1 = self.slab.len(ListId::T1);
        let p = self.arc_p();
        let from_t1 = t1 >= 1 && ((in_b2 && t1 == p) || t1 > p);
        let order = if from_t1 {
            [(ListId::T1, ListId::B1), (ListId::T2, ListId::B2)]
        } else {
            [(ListId::T2, ListId::B2), (ListId::T1, ListId::B1)]
        };
        for (list, ghost) in order {
            match self.slab.tail(list) {
                Some(t) if t != keep => {
                    self.demote_node(t, ghost, cause, hooks);
                    return true;
                }
                // `keep` is the head of its list: if it is also the tail it
                // is alone there, so the other list must give.
                _ => continue,
            }
        }
        false
    }

    /// Evicts one resident other than `keep` (byte limit, shrink).
    pub(crate) fn arc_evict_one(
        &mut self,
        keep: u32,
        cause: EvictionCause,
        hooks: &Hooks<K, V>,
    ) -> bool {
        let evicted = self.arc_replace(false, keep, cause, hooks);
        self.arc_trim_ghosts();
        evicted
    }

    /// Restores the directory bounds after `c` shrank or residents were
    /// evicted: `p <= c`, `|T1| + |B1| <= c`, and everything `<= 2c`.
    pub(crate) fn arc_trim_ghosts(&mut self) {
        let c = self.max_entries;
        let p = self.arc_p().min(c);
        self.set_arc_p(p);
        while self.slab.len(ListId::T1) + self.slab.len(ListId::B1) > c {
            match self.slab.tail(ListId::B1) {
                Some(g) => {
                    self.drop_node(g);
                }
                None => break,
            }
        }
        let total = |s: &Self| s.resident() + s.slab.len(ListId::B1) + s.slab.len(ListId::B2);
        while total(self) > 2 * c {
            match self.slab.tail(ListId::B2).or(self.slab.tail(ListId::B1)) {
                Some(g) => {
                    self.drop_node(g);
                }
                None => break,
            }
        }
    }

    /// T1's target size now. For unit tests.
    #[cfg(test)]
    pub(crate) fn arc_target(&self) -> usize {
        self.arc_p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(s: &mut Shard<u32, u32>, k: u32, hooks: &Hooks<u32, u32>) {
        s.put_plain(k, k, hooks);
    }

    #[test]
    fn ghost_hit_in_b1_grows_t1_target_and_lands_in_t2() {
        let hooks = Hooks::none();
        let mut s = Shard::new(PolicyState::Arc { p: 0 }, 2, u64::MAX, Default::default());
        put(&mut s, 1, &hooks);
        assert_eq!(s.get(s.hash_of(&1), &1, 0, &hooks), Some(1)); // 1 to T2
        put(&mut s, 2, &hooks);
        put(&mut s, 3, &hooks); // full, |T1| = 1 > p = 0: 2 goes to B1
        assert_eq!(s.keys_in_order(ListId::B1), vec![&2]);
        assert_eq!(s.keys_in_order(ListId::T1), vec![&3]);
        put(&mut s, 2, &hooks); // B1 ghost hit: p = 1; |T1| = p, so T2 gives
        assert_eq!(s.arc_target(), 1);
        assert_eq!(s.keys_in_order(ListId::T2), vec![&2]);
        assert_eq!(s.keys_in_order(ListId::B2), vec![&1]);
        assert_eq!(s.keys_in_order(ListId::T1), vec![&3]);
        assert_eq!(s.resident(), 2);
    }

    #[test]
    fn t1_full_of_once_seen_keys_evicts_without_a_ghost() {
        let hooks = Hooks::none();
        let mut s = Shard::new(PolicyState::Arc { p: 0 }, 2, u64::MAX, Default::default());
        for k in 1..=3 {
            put(&mut s, k, &hooks);
        }
        assert_eq!(s.keys_in_order(ListId::T1), vec![&3, &2]);
        assert_eq!(s.slab.len(ListId::B1), 0);
        assert_eq!(s.counters.evictions, 1);
    }

    #[test]
    fn scan_of_new_keys_does_not_flush_t2() {
        let hooks = Hooks::none();
        let mut s = Shard::new(PolicyState::Arc { p: 0 }, 4, u64::MAX, Default::default());
        for k in [1, 2] {
            put(&mut s, k, &hooks);
            assert_eq!(s.get(s.hash_of(&k), &k, 0, &hooks), Some(k));
        }
        for k in 100..200 {
            put(&mut s, k, &hooks);
        }
        assert_eq!(s.keys_in_order(ListId::T2), vec![&2, &1]);
    }

    #[test]
    fn shrink_trims_residents_and_ghosts() {
        let hooks = Hooks::none();
        let mut s = Shard::new(PolicyState::Arc { p: 0 }, 8, u64::MAX, Default::default());
        for k in 0..40 {
            put(&mut s, k % 13, &hooks);
        }
        s.set_limits(3, u64::MAX, &hooks);
        assert_eq!(s.resident(), 3);
        assert!(s.slab.len(ListId::T1) + s.slab.len(ListId::B1) <= 3);
        assert!(s.resident() + s.slab.len(ListId::B1) + s.slab.len(ListId::B2) <= 6);
        assert!(s.arc_target() <= 3);
    }
}
