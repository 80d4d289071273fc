//! One generation of a topic's rings: a partition count and ring size with
//! their rings, pollers and sequence counters.
//!
//! Changing a live topic's partition count or ring size makes a new
//! generation. Publishers move to it at their next publish; once every
//! publisher has moved (none is inside a publish to the old one, see
//! `Publisher`'s `active` word), the old generation is sealed with its final
//! head sequences; each group drains the old rings to those heads before any
//! of its members reads the new ones. So nothing is lost or repeated, and a
//! key's messages stay in order across the change even when it lands on
//! another partition.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crossbeam_utils::CachePadded;

use super::ring::{build_ring, RingPoller, RingProducer};

/// Why a publisher could not join a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttachError {
    /// The generation is sealed: join the current one.
    Sealed,
    /// A single-writer topic already has its writer.
    Taken,
}

/// A group's readers of one generation.
pub(crate) struct GroupRings {
    pub(crate) pollers: Box<[Mutex<RingPoller>]>,
    /// Highest sequence consumed per partition (-1: none).
    pub(crate) tail: Box<[CachePadded<AtomicI64>]>,
    pub(crate) consumed: Box<[CachePadded<AtomicU64>]>,
}

/// Heads one publisher wrote in one generation (it is their only writer).
pub(crate) struct HeadSlots {
    /// Highest sequence published, per partition (-1: none).
    pub(crate) head: Box<[CachePadded<AtomicI64>]>,
}

pub(crate) struct Generation {
    pub(crate) number: u64,
    pub(crate) partitions: usize,
    pub(crate) ring_size: usize,
    /// Producer templates cloned into publishers; dropped when sealed so the
    /// rings can shut down once drained.
    producers: Mutex<Option<Vec<RingProducer>>>,
    pub(crate) groups: Box<[GroupRings]>,
    heads: Mutex<Vec<Arc<HeadSlots>>>,
    /// Final heads per partition, set when sealed (no publisher can still
    /// publish here).
    pub(crate) sealed: OnceLock<Box<[i64]>>,
}

fn counters<T>(n: usize, make: impl Fn() -> T) -> Box<[CachePadded<T>]> {
    (0..n).map(|_| CachePadded::new(make())).collect()
}

impl Generation {
    pub(crate) fn new(
        number: u64,
        partitions: usize,
        ring_size: usize,
        groups: usize,
        single_writer: bool,
    ) -> Generation {
        let mut producers = Vec::with_capacity(partitions);
        let mut pollers: Vec<Vec<Mutex<RingPoller>>> = (0..groups).map(|_| Vec::new()).collect();
        for _ in 0..partitions {
            let (producer, group_pollers) = build_ring(ring_size, groups, single_writer);
            producers.push(producer);
            for (g, p) in group_pollers.into_iter().enumerate() {
                pollers[g].push(Mutex::new(p));
            }
        }
        let groups = pollers
            .into_iter()
            .map(|pollers| GroupRings {
                pollers: pollers.into_boxed_slice(),
                tail: counters(partitions, || AtomicI64::new(-1)),
                consumed: counters(partitions, || AtomicU64::new(0)),
            })
            .collect();
        Generation {
            number,
            partitions,
            ring_size,
            producers: Mutex::new(Some(producers)),
            groups,
            heads: Mutex::new(Vec::new()),
            sealed: OnceLock::new(),
        }
    }

    /// Producers and head slots for a publisher joining this generation:
    /// clones on a multi-writer topic, the producers themselves on a
    /// single-writer one (until [`Generation::detach`] returns them).
    /// `Err(Sealed)` once sealed, `Err(Taken)` if the single writer is
    /// attached.
    pub(crate) fn attach(&self) -> Result<(Vec<RingProducer>, Arc<HeadSlots>), AttachError> {
        let mut templates = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        let producers = match templates.as_mut() {
            None if self.sealed.get().is_some() => return Err(AttachError::Sealed),
            None => return Err(AttachError::Taken),
            Some(list) => match list
                .iter()
                .map(RingProducer::try_clone)
                .collect::<Option<Vec<_>>>()
            {
                Some(clones) => clones,
                None => templates.take().expect("matched Some"),
            },
        };
        drop(templates);
        let slots = Arc::new(HeadSlots {
            head: counters(self.partitions, || AtomicI64::new(-1)),
        });
        self.heads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::clone(&slots));
        Ok((producers, slots))
    }

    /// A single writer's producers coming back (its handle was dropped or
    /// moved on), so another writer can attach. Dropped if sealed.
    pub(crate) fn detach(&self, producers: Vec<RingProducer>) {
        if !producers.first().is_some_and(RingProducer::is_single) {
            return;
        }
        let mut templates = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        if self.sealed.get().is_none() {
            *templates = Some(producers);
        }
    }

    /// Highest sequence published per partition so far.
    pub(crate) fn heads(&self) -> Vec<i64> {
        if let Some(sealed) = self.sealed.get() {
            return sealed.to_vec();
        }
        let mut out = vec![-1; self.partitions];
        for slots in self.heads.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            for (h, s) in out.iter_mut().zip(slots.head.iter()) {
                // Acquire: pairs with the publisher's Release store of its
                // head, so a sealed head covers the envelope it names.
                *h = (*h).max(s.load(Ordering::Acquire));
            }
        }
        out
    }

    /// Seals the generation: called once no publisher can publish here.
    /// Drops the producer templates so the rings shut down when drained.
    pub(crate) fn seal(&self) {
        let heads = self.heads().into_boxed_slice();
        // Under the producers' lock, so `attach` and `detach` see sealed and
        // taken together.
        let mut templates = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.sealed.set(heads);
        templates.take();
    }

    /// Published and not yet consumed by the slowest group, per partition.
    /// `heads` is what [`Generation::heads`] returned.
    pub(crate) fn depths(&self, heads: &[i64]) -> Vec<u64> {
        (0..self.partitions)
            .map(|p| (heads[p] - self.slowest_tail(p)).max(0) as u64)
            .collect()
    }

    /// The highest sequence every group has read in partition `p` (-1
    /// before any read).
    pub(crate) fn slowest_tail(&self, p: usize) -> i64 {
        self.groups
            .iter()
            // Relaxed: written by each group's reader; callers use it as
            // statistics or as a hint whose failed try is retried once it
            // moves (spill's `Blocked`).
            .map(|g| g.tail[p].load(Ordering::Relaxed))
            .min()
            .unwrap_or(-1)
    }

    /// True once sealed and `group` has read every partition to its final
    /// head.
    pub(crate) fn drained_by(&self, group: usize) -> bool {
        let Some(sealed) = self.sealed.get() else {
            return false;
        };
        let rings = &self.groups[group];
        // Acquire: pairs with the Release store of `tail` after a read, so
        // a member that sees the old generation drained also sees the
        // other members' reads as done.
        sealed
            .iter()
            .enumerate()
            .all(|(p, &head)| rings.tail[p].load(Ordering::Acquire) >= head)
    }
}
