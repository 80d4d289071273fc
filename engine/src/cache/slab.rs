//! The node slab: every entry of one shard (resident or ghost) lives in one
//! preallocated `Vec` of nodes linked into doubly linked lists by `u32`
//! indices, so moving an entry between lists or to the front of one touches
//! no allocator. Head is the most recently used end, tail the least.
//!
//! The links live inside the node: a lookup has already brought the node
//! into cache, so unlinking it costs no further miss on its own links (a
//! separate links vector was measured slower: one more miss per hit).
//! Nodes are 32 bytes and 32-aligned for `u64` keys and values, so none
//! straddles two cache lines (see [`Node`]).
//! Layouts measured and rejected are in ARCHITECTURE.md, "Bounded cache".

use std::mem::MaybeUninit;

/// "No node": the end of a list, or of the free chain.
pub(crate) const NIL: u32 = u32::MAX;

/// Which list a node is on. LRU and TTL use `T1` only; ARC uses all four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ListId {
    /// ARC: resident, seen once recently. LRU/TTL: every resident entry.
    T1 = 0,
    /// ARC: resident, seen at least twice recently.
    T2 = 1,
    /// ARC: ghost (key only) evicted from T1.
    B1 = 2,
    /// ARC: ghost (key only) evicted from T2.
    B2 = 3,
    /// On the free chain.
    Free = 4,
}

impl ListId {
    /// True for the lists whose nodes hold a value.
    #[inline]
    pub(crate) fn is_resident(self) -> bool {
        matches!(self, ListId::T1 | ListId::T2)
    }
}

/// One entry: key, value (none for a ghost), links and bookkeeping. Kept
/// to 32 bytes for `u64` keys and values and aligned to 32, so a node
/// never straddles two cache lines (a 40-byte node with an `Option` value
/// straddled for half the slots: two misses instead of one on a lookup and
/// on each neighbour a move writes). The value sits in a `MaybeUninit`
/// behind the `has_value` flag rather than in an `Option`, whose tag would
/// cost 8 bytes for a `u64`. (Other key and value types round the node up
/// to a multiple of 32 bytes.) The hash is recomputed when needed rather
/// than stored, and TTL deadlines live in a side vector. A freed node
/// keeps its stale key until it is reused (the table never points at a
/// free node).
#[derive(Debug)]
#[repr(align(32))]
pub(crate) struct Node<K, V> {
    pub(crate) key: K,
    /// Initialised exactly when `has_value` is true.
    value: MaybeUninit<V>,
    /// Estimated bytes of a resident entry; 0 for a ghost.
    pub(crate) weight: u32,
    pub(crate) prev: u32,
    pub(crate) next: u32,
    pub(crate) list: ListId,
    /// Written by the host and not yet stored in the backing store.
    pub(crate) dirty: bool,
    has_value: bool,
}

// A node of `u64` keys and values is 32 bytes, half a cache line.
const _: () = assert!(std::mem::size_of::<Node<u64, u64>>() == 32);

impl<K, V> Node<K, V> {
    /// A node holding `value`, on no list yet.
    pub(crate) fn new(key: K, value: V, weight: u32, dirty: bool) -> Node<K, V> {
        Node {
            key,
            value: MaybeUninit::new(value),
            weight,
            prev: NIL,
            next: NIL,
            list: ListId::Free,
            dirty,
            has_value: true,
        }
    }

    /// The value, if the node holds one (residents do, ghosts do not).
    #[inline]
    pub(crate) fn value(&self) -> Option<&V> {
        if self.has_value {
            // SAFETY: `has_value` is true only while `value` is
            // initialised (set in `new` and `replace_value` right after
            // the write, cleared in `take_value` before the read).
            Some(unsafe { self.value.assume_init_ref() })
        } else {
            None
        }
    }

    /// Takes the value out, leaving none.
    #[inline]
    pub(crate) fn take_value(&mut self) -> Option<V> {
        if !self.has_value {
            return None;
        }
        self.has_value = false;
        // SAFETY: `has_value` was true, so `value` is initialised; the
        // flag is now false, so it is neither read nor dropped again.
        Some(unsafe { self.value.assume_init_read() })
    }

    /// Puts `value` in, returning the old one.
    #[inline]
    pub(crate) fn replace_value(&mut self, value: V) -> Option<V> {
        let old = self.take_value();
        self.value.write(value);
        self.has_value = true;
        old
    }
}

impl<K, V> Drop for Node<K, V> {
    fn drop(&mut self) {
        if self.has_value {
            // SAFETY: `has_value` says `value` is initialised, and this is
            // the last use of the node.
            unsafe { self.value.assume_init_drop() }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
    len: u32,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
    len: 0,
};

/// Nodes plus four lists and a free chain over them.
#[derive(Debug)]
pub(crate) struct Slab<K, V> {
    nodes: Vec<Node<K, V>>,
    lists: [List; 4],
    free: u32,
}

impl<K, V> Slab<K, V> {
    /// A slab with room for `capacity` nodes allocated up front.
    pub(crate) fn with_capacity(capacity: usize) -> Slab<K, V> {
        Slab {
            nodes: Vec::with_capacity(capacity),
            lists: [EMPTY; 4],
            free: NIL,
        }
    }

    #[inline]
    pub(crate) fn node(&self, i: u32) -> &Node<K, V> {
        &self.nodes[i as usize]
    }

    #[inline]
    pub(crate) fn node_mut(&mut self, i: u32) -> &mut Node<K, V> {
        &mut self.nodes[i as usize]
    }

    /// How many nodes are on `list`.
    #[inline]
    pub(crate) fn len(&self, list: ListId) -> usize {
        self.lists[list as usize].len as usize
    }

    /// The least recently used node of `list`.
    #[inline]
    pub(crate) fn tail(&self, list: ListId) -> Option<u32> {
        let t = self.lists[list as usize].tail;
        (t != NIL).then_some(t)
    }

    /// The node after `i` towards the tail.
    #[inline]
    pub(crate) fn next_of(&self, i: u32) -> Option<u32> {
        let n = self.nodes[i as usize].next;
        (n != NIL).then_some(n)
    }

    /// The most recently used node of `list`.
    #[inline]
    pub(crate) fn head(&self, list: ListId) -> Option<u32> {
        let h = self.lists[list as usize].head;
        (h != NIL).then_some(h)
    }

    /// Stores a new node at the head of `list` and returns its index. Reuses
    /// a freed node if there is one; grows the vector only past its
    /// preallocated capacity (after a run-time grow of the cache).
    pub(crate) fn insert(&mut self, node: Node<K, V>, list: ListId) -> u32 {
        let i = if self.free != NIL {
            let i = self.free;
            self.free = self.nodes[i as usize].next;
            self.nodes[i as usize] = node;
            i
        } else {
            let i = u32::try_from(self.nodes.len()).expect("shard capacity is checked below u32");
            debug_assert!(i != NIL);
            self.nodes.push(node);
            i
        };
        self.push_head(list, i);
        i
    }

    /// Unlinks node `i` and puts it on the free chain; returns its value
    /// (the key stays until the node is reused).
    pub(crate) fn remove(&mut self, i: u32) -> Option<V> {
        self.unlink(i);
        let node = &mut self.nodes[i as usize];
        let value = node.take_value();
        node.weight = 0;
        node.next = self.free;
        node.list = ListId::Free;
        self.free = i;
        value
    }

    /// Asks the CPU to start loading node `i`'s neighbours, which moving
    /// `i` will write: called when a read hit defers its move, so the
    /// misses overlap with the reads in between instead of stalling the
    /// batch of moves. A hint only; does nothing off x86-64.
    #[inline]
    pub(crate) fn prefetch_neighbours(&self, i: u32) {
        let node = &self.nodes[i as usize];
        for n in [node.prev, node.next] {
            if n != NIL {
                prefetch(self.nodes.as_ptr().wrapping_add(n as usize));
            }
        }
    }

    /// Moves node `i` to the head of `list` (which may be its own list).
    #[inline]
    pub(crate) fn move_to_head(&mut self, i: u32, list: ListId) {
        let node = &self.nodes[i as usize];
        if node.list == list && node.prev == NIL {
            return;
        }
        self.unlink(i);
        self.push_head(list, i);
    }

    #[inline]
    fn push_head(&mut self, list: ListId, i: u32) {
        let l = &mut self.lists[list as usize];
        let old = l.head;
        l.head = i;
        if old == NIL {
            l.tail = i;
        }
        l.len += 1;
        if old != NIL {
            self.nodes[old as usize].prev = i;
        }
        let node = &mut self.nodes[i as usize];
        node.prev = NIL;
        node.next = old;
        node.list = list;
    }

    #[inline]
    fn unlink(&mut self, i: u32) {
        let (prev, next, list) = {
            let n = &self.nodes[i as usize];
            (n.prev, n.next, n.list)
        };
        debug_assert!(list != ListId::Free, "unlinking a free node");
        let l = &mut self.lists[list as usize];
        if prev == NIL {
            l.head = next;
        }
        if next == NIL {
            l.tail = prev;
        }
        l.len -= 1;
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
    }
}

/// A prefetch hint for the cache line at `p`.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults, reads nothing into the
    // program and writes nothing, whatever the address; SSE is part of the
    // x86-64 baseline.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(k: u32) -> Node<u32, u32> {
        Node::new(k, k, 1, false)
    }

    fn keys(s: &Slab<u32, u32>, list: ListId) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = s.head(list);
        while let Some(i) = at {
            out.push(s.node(i).key);
            at = s.next_of(i);
        }
        out
    }

    #[test]
    fn lists_keep_order_and_reuse_freed_nodes() {
        let mut s = Slab::with_capacity(4);
        let a = s.insert(node(1), ListId::T1);
        let b = s.insert(node(2), ListId::T1);
        let c = s.insert(node(3), ListId::T1);
        assert_eq!(keys(&s, ListId::T1), vec![3, 2, 1]);
        s.move_to_head(a, ListId::T1);
        assert_eq!(keys(&s, ListId::T1), vec![1, 3, 2]);
        s.move_to_head(c, ListId::T2);
        assert_eq!(keys(&s, ListId::T1), vec![1, 2]);
        assert_eq!(keys(&s, ListId::T2), vec![3]);
        assert_eq!(s.tail(ListId::T1), Some(b));
        assert_eq!(s.remove(b), Some(2));
        assert_eq!(s.len(ListId::T1), 1);
        let d = s.insert(node(4), ListId::B1);
        assert_eq!(d, b, "the freed node is reused");
        assert_eq!(keys(&s, ListId::B1), vec![4]);
        assert_eq!(s.nodes.len(), 3);
    }

    #[test]
    fn values_are_dropped_exactly_once() {
        use std::rc::Rc;
        let v = Rc::new(());
        let mut s: Slab<u32, Rc<()>> = Slab::with_capacity(4);
        let a = s.insert(Node::new(1, v.clone(), 1, false), ListId::T1);
        let b = s.insert(Node::new(2, v.clone(), 1, false), ListId::T1);
        let _c = s.insert(Node::new(3, v.clone(), 1, false), ListId::T1);
        assert_eq!(Rc::strong_count(&v), 4);
        assert!(s.node_mut(a).take_value().is_some()); // a ghost now
        assert!(s.node(a).value().is_none());
        assert_eq!(Rc::strong_count(&v), 3);
        assert!(s.node_mut(b).replace_value(v.clone()).is_some());
        assert_eq!(Rc::strong_count(&v), 3);
        drop(s.remove(b));
        let _d = s.insert(Node::new(4, v.clone(), 1, false), ListId::T1); // reuses b
        assert_eq!(Rc::strong_count(&v), 3);
        drop(s);
        assert_eq!(Rc::strong_count(&v), 1);
    }
}
