//! The node slab: every entry of one shard (resident or ghost) lives in one
//! preallocated `Vec` of nodes linked into doubly linked lists by `u32`
//! indices, so moving an entry between lists or to the front of one touches
//! no allocator. Head is the most recently used end, tail the least.
//!
//! The links live inside the node: a lookup has already brought the node
//! into cache, so unlinking it costs no further miss on its own links (a
//! separate links vector was measured slower: one more miss per hit).

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

/// One entry: key, value (None for a ghost), links and bookkeeping. Kept
/// small (40 bytes for `u64` keys and values) because a lookup's cost is
/// mostly the cache misses on nodes: the hash is recomputed when needed
/// rather than stored, and TTL deadlines live in a side vector. A freed
/// node keeps its stale key until it is reused (the table never points at
/// a free node).
#[derive(Debug)]
pub(crate) struct Node<K, V> {
    pub(crate) key: K,
    pub(crate) value: Option<V>,
    /// Estimated bytes of a resident entry; 0 for a ghost.
    pub(crate) weight: u32,
    pub(crate) prev: u32,
    pub(crate) next: u32,
    pub(crate) list: ListId,
    /// Written by the host and not yet stored in the backing store.
    pub(crate) dirty: bool,
}

// A node of `u64` keys and values fits in 40 bytes (see `Node`).
const _: () = assert!(std::mem::size_of::<Node<u64, u64>>() <= 40);

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
    pub(crate) fn insert(&mut self, mut node: Node<K, V>, list: ListId) -> u32 {
        node.list = ListId::Free;
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
        let value = node.value.take();
        node.weight = 0;
        node.next = self.free;
        node.list = ListId::Free;
        self.free = i;
        value
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

#[cfg(test)]
mod tests {
    use super::*;

    fn node(k: u32) -> Node<u32, u32> {
        Node {
            key: k,
            value: Some(k),
            weight: 1,
            prev: NIL,
            next: NIL,
            list: ListId::Free,
            dirty: false,
        }
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
}
