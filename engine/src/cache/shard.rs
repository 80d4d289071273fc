//! One shard: a hash table of slab indices, the slab with the policy's
//! lists, the shard's share of the limits and its counters. Everything
//! here runs under the shard's lock; the policy files (`lru.rs`, `arc.rs`,
//! `ttl.rs`) add the policy-specific steps as further `impl` blocks.
//!
//! Deferred promotion: a read hit does not relink its node at once; it
//! appends the node's index to `pending_hits` and prefetches the node's
//! two neighbours, and the pending moves are applied, in order, before
//! anything that depends on list order (a write, a removal, an eviction,
//! a resize) or when the buffer is full. The lists are then exactly what
//! immediate moves would have made them, so LRU and ARC stay exact (the
//! model tests check it), while a read hit writes no neighbour node and
//! the neighbours' cache misses overlap with the reads in between instead
//! of stalling the moves (and the next lock, which waits for the store
//! buffer to drain). Figures: ARCHITECTURE.md, "Bounded cache",
//! Measured.

use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;

use super::backing::Hooks;
use super::slab::{ListId, Node, Slab, NIL};
use super::stats::Counters;
use super::EvictionCause;

/// Which eviction policy a shard runs, with its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyState {
    /// Least recently used.
    Lru,
    /// ARC with target size `p` for T1.
    Arc { p: usize },
    /// Oldest write first; entries expire `ttl_ns` after their last write.
    Ttl { ttl_ns: u64 },
}

/// A shard's entries and its share of the limits.
pub(crate) struct Shard<K, V> {
    table: HashTable<u32>,
    /// The cache's hasher (every shard holds a copy of the same one).
    hasher: foldhash::fast::RandomState,
    pub(crate) slab: Slab<K, V>,
    /// TTL only: each node's deadline, ns on the cache's clock, by index.
    expires_ns: Vec<u64>,
    pub(crate) policy: PolicyState,
    /// Resident entries at most (ARC's `c`).
    pub(crate) max_entries: usize,
    /// Estimated bytes of resident entries at most.
    pub(crate) max_bytes: u64,
    /// Estimated bytes of resident entries now.
    pub(crate) bytes: u64,
    pub(crate) counters: Counters,
    /// Read hits whose move to the head is still to be done, in order.
    pending_hits: Vec<u32>,
}

/// Read hits buffered before their moves are applied.
const PENDING_HITS_MAX: usize = 64;

/// What a write asks for.
pub(crate) struct Write<K, V> {
    pub(crate) hash: u64,
    pub(crate) key: K,
    pub(crate) value: V,
    /// Estimated bytes, at most `u32::MAX` (checked by the caller).
    pub(crate) weight: u32,
    pub(crate) dirty: bool,
    pub(crate) now_ns: u64,
    /// Leave a present (unexpired) entry alone: read-through fills.
    pub(crate) if_absent: bool,
}

impl<K: Hash + Eq, V> Shard<K, V> {
    /// An empty shard; table and slab are allocated for the policy's most
    /// nodes at `max_entries` (twice that for ARC's ghosts).
    pub(crate) fn new(
        policy: PolicyState,
        max_entries: usize,
        max_bytes: u64,
        hasher: foldhash::fast::RandomState,
    ) -> Shard<K, V> {
        let nodes = Self::node_capacity(policy, max_entries);
        let ttl_nodes = match policy {
            PolicyState::Ttl { .. } => nodes,
            _ => 0,
        };
        Shard {
            table: HashTable::with_capacity(nodes),
            hasher,
            slab: Slab::with_capacity(nodes),
            expires_ns: Vec::with_capacity(ttl_nodes),
            policy,
            max_entries,
            max_bytes,
            bytes: 0,
            counters: Counters::default(),
            pending_hits: Vec::with_capacity(PENDING_HITS_MAX),
        }
    }

    fn node_capacity(policy: PolicyState, max_entries: usize) -> usize {
        match policy {
            PolicyState::Arc { .. } => max_entries * 2,
            _ => max_entries,
        }
    }

    /// The hash of `key` (the same in every shard of one cache).
    #[inline]
    pub(crate) fn hash_of(&self, key: &K) -> u64 {
        self.hasher.hash_one(key)
    }

    /// When node `i` expires (TTL only).
    #[inline]
    pub(crate) fn expires_ns(&self, i: u32) -> u64 {
        self.expires_ns[i as usize]
    }

    fn set_expiry(&mut self, i: u32, now_ns: u64) {
        if let PolicyState::Ttl { ttl_ns } = self.policy {
            let i = i as usize;
            if self.expires_ns.len() <= i {
                self.expires_ns.resize(i + 1, 0);
            }
            self.expires_ns[i] = now_ns.saturating_add(ttl_ns);
        }
    }

    /// Resident entries.
    #[inline]
    pub(crate) fn resident(&self) -> usize {
        self.slab.len(ListId::T1) + self.slab.len(ListId::T2)
    }

    /// The node holding `key`, resident or ghost.
    #[inline]
    pub(crate) fn find(&self, hash: u64, key: &K) -> Option<u32> {
        let slab = &self.slab;
        self.table
            .find(hash, |&i| slab.node(i).key == *key)
            .copied()
    }

    /// Adds a node for a key known to be absent, at the head of `list`.
    pub(crate) fn add_node(&mut self, w: Write<K, V>, list: ListId) -> u32 {
        let i = self
            .slab
            .insert(Node::new(w.key, w.value, w.weight, w.dirty), list);
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.table
            .insert_unique(w.hash, i, |&j| hasher.hash_one(&slab.node(j).key));
        self.set_expiry(i, w.now_ns);
        self.bytes += u64::from(w.weight);
        self.counters.inserts += 1;
        i
    }

    /// Puts a new value into node `i` (resident or ghost), keeping its key.
    pub(crate) fn refill(&mut self, i: u32, w: Write<K, V>) {
        self.set_expiry(i, w.now_ns);
        let node = self.slab.node_mut(i);
        let old_weight = node.weight;
        // The old value (a ghost has none) is dropped here.
        node.replace_value(w.value);
        node.weight = w.weight;
        // A clean fill never clears a pending write-back.
        node.dirty |= w.dirty;
        self.bytes = self.bytes - u64::from(old_weight) + u64::from(w.weight);
    }

    /// Removes node `i` from table and slab; returns its value (the key
    /// stays readable in the freed node until it is reused).
    pub(crate) fn drop_node(&mut self, i: u32) -> Option<V> {
        let hash = self.hash_of(&self.slab.node(i).key);
        self.drop_node_hashed(i, hash)
    }

    /// [`Shard::drop_node`] when the caller already has the key's hash.
    pub(crate) fn drop_node_hashed(&mut self, i: u32, hash: u64) -> Option<V> {
        if let Ok(entry) = self.table.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
        self.bytes -= u64::from(self.slab.node(i).weight);
        self.slab.remove(i)
    }

    /// Evicts resident node `i` entirely (LRU, TTL, ARC's T1 overflow),
    /// telling the hooks.
    pub(crate) fn evict_node(&mut self, i: u32, cause: EvictionCause, hooks: &Hooks<K, V>) {
        let hash = self.hash_of(&self.slab.node(i).key);
        self.evict_node_hashed(i, hash, cause, hooks);
    }

    /// [`Shard::evict_node`] when the caller already has the key's hash.
    pub(crate) fn evict_node_hashed(
        &mut self,
        i: u32,
        hash: u64,
        cause: EvictionCause,
        hooks: &Hooks<K, V>,
    ) {
        let dirty = self.slab.node(i).dirty;
        let value = self.drop_node_hashed(i, hash);
        self.count_eviction(cause);
        if let Some(value) = value {
            let key = &self.slab.node(i).key;
            hooks.evicted(key, value, dirty, cause, &mut self.counters);
        }
    }

    /// Evicts resident node `i` to a ghost on `ghost` (ARC): the value
    /// goes, the key stays.
    pub(crate) fn demote_node(
        &mut self,
        i: u32,
        ghost: ListId,
        cause: EvictionCause,
        hooks: &Hooks<K, V>,
    ) {
        let node = self.slab.node_mut(i);
        let value = node.take_value();
        let weight = std::mem::take(&mut node.weight);
        let dirty = std::mem::take(&mut node.dirty);
        self.bytes -= u64::from(weight);
        self.slab.move_to_head(i, ghost);
        self.count_eviction(cause);
        if let Some(value) = value {
            let key = &self.slab.node(i).key;
            hooks.evicted(key, value, dirty, cause, &mut self.counters);
        }
    }

    fn count_eviction(&mut self, cause: EvictionCause) {
        match cause {
            EvictionCause::Expired => self.counters.expirations += 1,
            _ => self.counters.evictions += 1,
        }
    }

    /// Looks `key` up; a hit updates the policy's order and returns a clone
    /// of the value.
    pub(crate) fn get(&mut self, hash: u64, key: &K, now_ns: u64, hooks: &Hooks<K, V>) -> Option<V>
    where
        V: Clone,
    {
        let Some(i) = self.find(hash, key) else {
            self.counters.misses += 1;
            return None;
        };
        let list = self.slab.node(i).list;
        if !list.is_resident() || self.expire_if_due(i, hash, now_ns, hooks) {
            self.counters.misses += 1;
            return None;
        }
        // TTL keeps write order: reads do not extend a lifetime.
        if !matches!(self.policy, PolicyState::Ttl { .. }) {
            if self.pending_hits.len() == PENDING_HITS_MAX {
                self.apply_pending_hits();
            }
            self.pending_hits.push(i);
            self.slab.prefetch_neighbours(i);
        }
        self.counters.hits += 1;
        self.slab.node(i).value().cloned()
    }

    /// Writes an entry (policy steps included), then evicts down to the
    /// byte limit. Returns false if `if_absent` left a present entry alone.
    pub(crate) fn put(&mut self, w: Write<K, V>, hooks: &Hooks<K, V>) -> bool {
        self.apply_pending_hits();
        debug_assert!(
            u64::from(w.weight) <= self.max_bytes,
            "checked by the caller"
        );
        let found = self.find(w.hash, &w.key);
        let kept = match found {
            Some(i) if self.slab.node(i).list.is_resident() => {
                if self.expire_if_due(i, w.hash, w.now_ns, hooks) {
                    self.insert_absent(w, hooks)
                } else if w.if_absent {
                    return false;
                } else {
                    self.update_resident(i, w);
                    i
                }
            }
            Some(i) => self.arc_ghost_hit(i, w, hooks),
            None => self.insert_absent(w, hooks),
        };
        self.trim_bytes(kept, hooks);
        true
    }

    fn update_resident(&mut self, i: u32, w: Write<K, V>) {
        self.refill(i, w);
        self.counters.updates += 1;
        self.slab.move_to_head(i, self.hit_list());
    }

    /// Where a hit or an update moves an entry: ARC's frequency list T2,
    /// else the one list.
    fn hit_list(&self) -> ListId {
        match self.policy {
            PolicyState::Arc { .. } => ListId::T2,
            PolicyState::Lru | PolicyState::Ttl { .. } => ListId::T1,
        }
    }

    fn insert_absent(&mut self, w: Write<K, V>, hooks: &Hooks<K, V>) -> u32 {
        match self.policy {
            PolicyState::Arc { .. } => self.arc_insert_miss(w, hooks),
            PolicyState::Lru | PolicyState::Ttl { .. } => {
                self.lru_make_room(hooks);
                self.add_node(w, ListId::T1)
            }
        }
    }

    /// Removes `key` (resident or ghost) without telling the hooks; returns
    /// the value if it was resident.
    pub(crate) fn remove(&mut self, hash: u64, key: &K) -> Option<V> {
        self.apply_pending_hits();
        let i = self.find(hash, key)?;
        let value = self.drop_node_hashed(i, hash);
        if value.is_some() {
            self.counters.removals += 1;
        }
        value
    }

    /// Evicts the policy's next victim other than `keep`; false if there
    /// is none.
    pub(crate) fn evict_one(
        &mut self,
        keep: u32,
        cause: EvictionCause,
        hooks: &Hooks<K, V>,
    ) -> bool {
        match self.policy {
            PolicyState::Arc { .. } => self.arc_evict_one(keep, cause, hooks),
            PolicyState::Lru | PolicyState::Ttl { .. } => self.evict_t1_tail(keep, cause, hooks),
        }
    }

    /// Evicts until the estimated bytes fit, sparing `keep` (the entry just
    /// written).
    fn trim_bytes(&mut self, keep: u32, hooks: &Hooks<K, V>) {
        while self.bytes > self.max_bytes && self.evict_one(keep, EvictionCause::Bytes, hooks) {}
    }

    /// New limits for this shard: evicts down to them at once.
    pub(crate) fn set_limits(&mut self, max_entries: usize, max_bytes: u64, hooks: &Hooks<K, V>) {
        self.apply_pending_hits();
        self.max_entries = max_entries;
        self.max_bytes = max_bytes;
        while self.resident() > max_entries && self.evict_one(NIL, EvictionCause::Capacity, hooks) {
        }
        self.trim_bytes(NIL, hooks);
        if let PolicyState::Arc { .. } = self.policy {
            self.arc_trim_ghosts();
        }
    }

    /// Every resident dirty entry, marked clean after `store` accepts it.
    pub(crate) fn flush(
        &mut self,
        mut store: impl FnMut(&K, &V) -> Result<(), super::BackingError>,
    ) -> Result<usize, super::BackingError> {
        let mut stored = 0;
        for list in [ListId::T1, ListId::T2] {
            let mut at = self.slab.head(list);
            while let Some(i) = at {
                at = self.slab.next_of(i);
                let node = self.slab.node(i);
                if let (true, Some(v)) = (node.dirty, node.value()) {
                    store(&node.key, v)?;
                    self.slab.node_mut(i).dirty = false;
                    stored += 1;
                }
            }
        }
        Ok(stored)
    }

    /// Applies the buffered read hits' moves, oldest first: LRU to T1's
    /// head, ARC to T2's head (the paper's case I).
    #[inline]
    pub(crate) fn apply_pending_hits(&mut self) {
        if self.pending_hits.is_empty() {
            return;
        }
        let to = self.hit_list();
        for k in 0..self.pending_hits.len() {
            let i = self.pending_hits[k];
            debug_assert!(self.slab.node(i).list.is_resident());
            self.slab.move_to_head(i, to);
        }
        self.pending_hits.clear();
    }

    /// Puts `key` -> `value` with weight 1 at time 0. For unit tests.
    #[cfg(test)]
    pub(crate) fn put_plain(&mut self, key: K, value: V, hooks: &Hooks<K, V>) {
        let hash = self.hash_of(&key);
        let w = Write {
            hash,
            key,
            value,
            weight: 1,
            dirty: false,
            now_ns: 0,
            if_absent: false,
        };
        self.put(w, hooks);
    }

    /// Keys on `list` from head (most recent) to tail. For unit tests.
    #[cfg(test)]
    pub(crate) fn keys_in_order(&mut self, list: ListId) -> Vec<&K> {
        self.apply_pending_hits();
        let mut out = Vec::with_capacity(self.slab.len(list));
        let mut at = self.slab.head(list);
        while let Some(i) = at {
            out.push(&self.slab.node(i).key);
            at = self.slab.next_of(i);
        }
        out
    }
}
