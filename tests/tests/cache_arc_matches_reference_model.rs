//! Every operation sequence on a one-shard ARC cache gives the same reads,
//! removals, evictions (in order) and sizes as a reference ARC written
//! straight from Megiddo and Modha's pseudocode (FAST 2003, figure 4) with
//! plain `VecDeque`s: T1, T2 resident, B1, B2 ghosts, target `p`.
//!
//! The cache's mapping of its API onto the paper (documented in
//! `engine/src/cache/arc.rs`): a read hit is case I, a read miss changes
//! nothing, a write is a request (case I, II, III or IV). Removal is not in
//! the paper: it takes the key off whatever list holds it, and REPLACE then
//! runs only when the cache is full. `delta` uses integer division.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use keel_engine::{BoundedCache, EvictionPolicy};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Get(u8),
    Put(u8, u32),
    Remove(u8),
}

fn op(keys: u8) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..keys).prop_map(Op::Get),
        4 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::Put(k, v)),
        1 => (0..keys).prop_map(Op::Remove),
    ]
}

/// Front is most recent.
struct ReferenceArc {
    c: usize,
    p: usize,
    t1: VecDeque<(u8, u32)>,
    t2: VecDeque<(u8, u32)>,
    b1: VecDeque<u8>,
    b2: VecDeque<u8>,
    evicted: Vec<u8>,
}

fn take(list: &mut VecDeque<(u8, u32)>, k: u8) -> Option<(u8, u32)> {
    let i = list.iter().position(|(key, _)| *key == k)?;
    list.remove(i)
}

fn take_ghost(list: &mut VecDeque<u8>, k: u8) -> bool {
    match list.iter().position(|key| *key == k) {
        Some(i) => {
            list.remove(i);
            true
        }
        None => false,
    }
}

impl ReferenceArc {
    fn new(c: usize) -> ReferenceArc {
        ReferenceArc {
            c,
            p: 0,
            t1: VecDeque::new(),
            t2: VecDeque::new(),
            b1: VecDeque::new(),
            b2: VecDeque::new(),
            evicted: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.t1.len() + self.t2.len()
    }

    fn get(&mut self, k: u8) -> Option<u32> {
        let item = take(&mut self.t1, k).or_else(|| take(&mut self.t2, k))?;
        self.t2.push_front(item);
        Some(item.1)
    }

    /// REPLACE(x, p).
    fn replace(&mut self, x_in_b2: bool) {
        let t1 = self.t1.len();
        if t1 >= 1 && ((x_in_b2 && t1 == self.p) || t1 > self.p) {
            let (k, _) = self.t1.pop_back().unwrap();
            self.b1.push_front(k);
            self.evicted.push(k);
        } else if let Some((k, _)) = self.t2.pop_back() {
            self.b2.push_front(k);
            self.evicted.push(k);
        } else if let Some((k, _)) = self.t1.pop_back() {
            self.b1.push_front(k);
            self.evicted.push(k);
        }
    }

    fn put(&mut self, k: u8, v: u32) {
        // Case I.
        if take(&mut self.t1, k)
            .or_else(|| take(&mut self.t2, k))
            .is_some()
        {
            self.t2.push_front((k, v));
            return;
        }
        let full = self.len() >= self.c;
        // Case II.
        if self.b1.contains(&k) {
            let delta = if self.b1.len() >= self.b2.len() {
                1
            } else {
                self.b2.len() / self.b1.len()
            };
            self.p = (self.p + delta).min(self.c);
            if full {
                self.replace(false);
            }
            take_ghost(&mut self.b1, k);
            self.t2.push_front((k, v));
            return;
        }
        // Case III.
        if self.b2.contains(&k) {
            let delta = if self.b2.len() >= self.b1.len() {
                1
            } else {
                self.b1.len() / self.b2.len()
            };
            self.p = self.p.saturating_sub(delta);
            if full {
                self.replace(true);
            }
            take_ghost(&mut self.b2, k);
            self.t2.push_front((k, v));
            return;
        }
        // Case IV.
        let l1 = self.t1.len() + self.b1.len();
        let all = l1 + self.t2.len() + self.b2.len();
        if l1 >= self.c {
            if self.t1.len() < self.c {
                self.b1.pop_back();
                if full {
                    self.replace(false);
                }
            } else {
                let (old, _) = self.t1.pop_back().unwrap();
                self.evicted.push(old);
            }
        } else if all >= self.c {
            if all >= 2 * self.c {
                self.b2.pop_back();
            }
            if full {
                self.replace(false);
            }
        }
        self.t1.push_front((k, v));
    }

    fn remove(&mut self, k: u8) -> Option<u32> {
        if take_ghost(&mut self.b1, k) || take_ghost(&mut self.b2, k) {
            return None;
        }
        take(&mut self.t1, k)
            .or_else(|| take(&mut self.t2, k))
            .map(|(_, v)| v)
    }
}

fn run(capacity: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let evicted = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&evicted);
    let cache = BoundedCache::<u8, u32>::builder("arc-model")
        .policy(EvictionPolicy::Arc)
        .max_entries(capacity as u64)
        .shards(1)
        .on_evict(move |k, _, _| log.lock().unwrap().push(*k))
        .build()
        .unwrap();
    let mut model = ReferenceArc::new(capacity);
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
        prop_assert_eq!(cache.len(), model.len());
        prop_assert!(model.t1.len() + model.b1.len() <= capacity);
        prop_assert!(model.len() + model.b1.len() + model.b2.len() <= 2 * capacity);
    }
    prop_assert_eq!(cache.stats().evictions, model.evicted.len() as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arc_cache_matches_reference(capacity in 1usize..8, ops in prop::collection::vec(op(16), 1..300)) {
        run(capacity, ops)?;
    }

    /// Few keys, more reuse: the ghost lists and `p` are exercised hard.
    #[test]
    fn arc_cache_matches_reference_with_heavy_reuse(capacity in 2usize..5, ops in prop::collection::vec(op(7), 1..300)) {
        run(capacity, ops)?;
    }
}
