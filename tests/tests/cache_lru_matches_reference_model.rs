//! Every operation sequence on a one-shard LRU cache gives the same reads,
//! removals, evictions (in order) and sizes as a reference LRU written
//! straight from the definition: a list ordered by last use, the least
//! recently used evicted when a new key arrives at a full list.

use std::sync::{Arc, Mutex};

use keel_engine::{BoundedCache, EvictionPolicy};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Get(u8),
    Put(u8, u32),
    Remove(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..12).prop_map(Op::Get),
        4 => (0u8..12, any::<u32>()).prop_map(|(k, v)| Op::Put(k, v)),
        1 => (0u8..12).prop_map(Op::Remove),
    ]
}

/// Most recently used first.
struct ReferenceLru {
    capacity: usize,
    items: Vec<(u8, u32)>,
    evicted: Vec<u8>,
}

impl ReferenceLru {
    fn position(&self, k: u8) -> Option<usize> {
        self.items.iter().position(|(key, _)| *key == k)
    }

    fn get(&mut self, k: u8) -> Option<u32> {
        let i = self.position(k)?;
        let item = self.items.remove(i);
        self.items.insert(0, item);
        Some(item.1)
    }

    fn put(&mut self, k: u8, v: u32) {
        if let Some(i) = self.position(k) {
            self.items.remove(i);
        } else if self.items.len() == self.capacity {
            let (old, _) = self.items.pop().unwrap();
            self.evicted.push(old);
        }
        self.items.insert(0, (k, v));
    }

    fn remove(&mut self, k: u8) -> Option<u32> {
        let i = self.position(k)?;
        Some(self.items.remove(i).1)
    }
}

proptest! {
    #[test]
    fn lru_cache_matches_reference(capacity in 1usize..8, ops in prop::collection::vec(op(), 1..200)) {
        let evicted = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&evicted);
        let cache = BoundedCache::<u8, u32>::builder("lru-model")
            .policy(EvictionPolicy::Lru)
            .max_entries(capacity as u64)
            .shards(1)
            .on_evict(move |k, _, _| log.lock().unwrap().push(*k))
            .build()
            .unwrap();
        let mut model = ReferenceLru { capacity, items: Vec::new(), evicted: Vec::new() };
        for op in ops {
            match op {
                Op::Get(k) => prop_assert_eq!(cache.get(&k), model.get(k), "get {}", k),
                Op::Put(k, v) => {
                    cache.put(k, v).unwrap();
                    model.put(k, v);
                }
                Op::Remove(k) => prop_assert_eq!(cache.remove(&k), model.remove(k), "remove {}", k),
            }
            prop_assert_eq!(&*evicted.lock().unwrap(), &model.evicted);
            prop_assert_eq!(cache.len(), model.items.len());
        }
        let stats = cache.stats();
        prop_assert_eq!(stats.evictions, model.evicted.len() as u64);
        prop_assert_eq!(stats.entries, model.items.len() as u64);
    }
}
