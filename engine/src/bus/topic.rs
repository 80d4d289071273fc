//! A topic: its generations of rings, its subscriber groups, and the
//! counters publishers leave for the backpressure system.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crossbeam_utils::CachePadded;

use super::generation::{AttachError, Generation, HeadSlots};
use super::lane::LogLane;
use super::message::Envelope;
use super::notify::Notifier;
use super::outcome::BusError;
use super::quiesce::{ActiveSlot, Gate, SLOW_NOT_PLAIN};
use super::ring::{Full, RingProducer};
use crate::scalable::BackpressureCell;

/// What a publisher does when a partition's ring is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullPolicy {
    /// Wait for room (spinning briefly, then yielding and sleeping).
    Wait,
    /// Return `Refused(RingFull)`.
    Refuse,
    /// Append to the topic's durable log and replay into the rings in
    /// order as room appears (`PublishOutcome::Spilled`). Needs durable
    /// logs attached to the bus (`Bus::with_durable_logs`) and a
    /// multi-writer topic. On a durable topic the partition's own log
    /// holds the message.
    Spill,
}

/// How to create a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfig {
    /// Partitions; `None` takes `bus.default_partitions`, or when that is
    /// 0, `expected_subscribers`.
    pub partitions: Option<usize>,
    /// Subscribers per group you expect (sizes the default partition count).
    pub expected_subscribers: usize,
    /// Hot topics get a ring of `bus.ring_size`; others `bus.max_queue_size`
    /// rounded up to a power of two.
    pub hot: bool,
    /// Critical topics are never shed.
    pub critical: bool,
    /// What to do when a ring is full.
    pub full_policy: FullPolicy,
    /// Subscriber groups; each sees every message once.
    pub groups: Vec<String>,
    /// Overrides the ring size.
    pub ring_size: Option<usize>,
    /// At most one publisher at a time: the ring uses the crate's
    /// single-producer claim (no atomic read-modify-write per publish).
    /// A second `Bus::publisher` is refused while the first lives.
    pub single_writer: bool,
    /// Every message is appended to its partition's durable log (one log
    /// per partition, `Bus::with_durable_logs`) before a subscriber can
    /// see it; a publish returns once it is durable under the log's sync
    /// policy. Subscriber groups commit their positions
    /// ([`Subscriber::commit`](super::Subscriber::commit)); a topic created
    /// again over the same logs (after a restart or a crash) delivers to
    /// each group everything after its last commit, in partition order.
    /// The partition count may grow but never shrink. Needs a multi-writer
    /// topic.
    pub durable: bool,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            partitions: None,
            expected_subscribers: 1,
            hot: true,
            critical: false,
            full_policy: FullPolicy::Wait,
            groups: vec!["default".to_owned()],
            ring_size: None,
            single_writer: false,
            durable: false,
        }
    }
}

/// A publisher's hold on a generation: the generation, its own producers
/// (clones, or a single writer's), and its head slots.
pub(crate) type Attachment = (Arc<Generation>, Vec<RingProducer>, Arc<HeadSlots>);

/// A publisher's hold on the current generation's rings (a publisher
/// handle's, or the spill replayer's): its own producers, its head slots,
/// and its registration with the topic, so a resize waits for a publish
/// in flight.
pub(crate) struct Rings {
    /// The generation `producers` belong to.
    pub(crate) generation: Arc<Generation>,
    /// Copy of the generation's number, so entering reads only this
    /// holder's memory.
    pub(crate) number: u64,
    pub(crate) producers: Vec<RingProducer>,
    pub(crate) heads: Arc<HeadSlots>,
    pub(crate) slots: Arc<PublisherSlots>,
}

impl Rings {
    /// Registers a publisher with `topic` and attaches it to the current
    /// generation.
    pub(crate) fn attach(topic: &Topic) -> Result<Rings, BusError> {
        let slots = topic.attach_publisher();
        let (generation, producers, heads) = topic.attach_current()?;
        Ok(Rings {
            number: generation.number,
            generation,
            producers,
            heads,
            slots,
        })
    }

    /// Marks this holder active in its generation, moving to the current
    /// one first if a resize made a new one; true if it moved.
    #[inline]
    pub(crate) fn enter(&mut self, topic: &Topic) -> Result<bool, BusError> {
        let mut moved = false;
        while !self.slots.active.enter(self.number, &topic.gate) {
            self.move_to_current(topic)?;
            moved = true;
        }
        Ok(moved)
    }

    #[cold]
    fn move_to_current(&mut self, topic: &Topic) -> Result<(), BusError> {
        let (generation, producers, heads) = topic.attach_current()?;
        // A single writer's old producers go back to their generation
        // (dropped there once it is sealed); clones just drop, letting the
        // old rings shut down.
        let old = std::mem::replace(&mut self.producers, producers);
        self.generation.detach(old);
        self.heads = heads;
        self.number = generation.number;
        self.generation = generation;
        Ok(())
    }

    /// One try to claim and fill `n` slots of `partition`'s ring; on
    /// success publishes the new head. Always inlined: it is the publish
    /// fast path's core (see `Publisher::send`).
    #[inline(always)]
    pub(crate) fn try_publish(
        &mut self,
        partition: usize,
        n: usize,
        fill: impl Fn(usize, &mut Envelope<'_>),
    ) -> Result<i64, Full> {
        let producer = &mut self.producers[partition];
        let last = if n == 1 {
            producer.try_publish(move |e| fill(0, e))?
        } else {
            producer.try_publish_batch(n, fill)?
        };
        // Release: single writer of this slot; pairs with the Acquire in
        // `Generation::heads`, so a sealed head covers this envelope.
        self.heads.head[partition].store(last, Ordering::Release);
        Ok(last)
    }
}

impl Drop for Rings {
    fn drop(&mut self) {
        // A single writer hands its producers back so a new publisher can
        // attach; clones of a multi-writer ring just drop.
        self.generation.detach(std::mem::take(&mut self.producers));
    }
}

/// Counters one publisher handle writes (it is their only writer).
pub(crate) struct PublisherSlots {
    /// The generation this publisher is publishing into right now.
    pub(crate) active: CachePadded<ActiveSlot>,
    pub(crate) published: CachePadded<AtomicU64>,
    pub(crate) refused: AtomicU64,
    pub(crate) delayed: AtomicU64,
}

/// Single-writer increment: load and store, no locked instruction. For
/// counters with one writer (a publisher's slots, a group's consumed count).
#[inline]
pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    // Relaxed (both): only one thread writes; readers (the tick, metrics)
    // want a recent value, not ordering.
    counter.store(counter.load(Ordering::Relaxed) + by, Ordering::Relaxed);
}

/// A batch of `n` messages must fit in one ring of `ring_size` slots (it is
/// claimed at once).
pub(crate) fn check_batch(n: usize, ring_size: usize) -> Result<(), BusError> {
    if n > ring_size {
        return Err(BusError::PayloadTooLarge {
            len: n,
            max: ring_size as u64,
        });
    }
    Ok(())
}

/// A ring was full and the policy is to wait: spin briefly (readers
/// usually free room within microseconds), then wake readers and back off
/// without burning a core (yield, then short sleeps).
#[cold]
pub(crate) fn wait_for_room(topic: &Topic, attempts: u32) {
    match attempts {
        0..=255 => std::hint::spin_loop(),
        256..=271 => {
            topic.notifier.notify();
            std::thread::yield_now();
        }
        _ => {
            topic.notifier.notify();
            std::thread::sleep(std::time::Duration::from_micros(20));
        }
    }
}

/// A subscriber group's membership (its rings live in each generation).
pub(crate) struct Group {
    pub(crate) name: String,
    /// Member ids, sorted; partition p goes to `members[p % len]`.
    pub(crate) members: Mutex<Vec<u64>>,
    /// Bumped whenever `members` changes.
    pub(crate) version: AtomicU64,
}

/// Publish counts over live and dropped publishers.
#[derive(Default, Clone, Copy)]
pub(crate) struct PublisherTotals {
    pub(crate) published: u64,
    pub(crate) refused: u64,
    pub(crate) delayed: u64,
}

pub(crate) struct Topic {
    pub(crate) name: String,
    pub(crate) config: TopicConfig,
    /// Live generations, oldest first; the last is current. Older ones are
    /// being drained and are dropped once every group has read them.
    pub(crate) generations: RwLock<Vec<Arc<Generation>>>,
    /// Number of the current generation, and why publishes may not take
    /// the fast path (see `quiesce.rs`).
    pub(crate) gate: CachePadded<Gate>,
    pub(crate) groups: Box<[Group]>,
    pub(crate) publishers: Mutex<Vec<Arc<PublisherSlots>>>,
    retired: Mutex<PublisherTotals>,
    pub(crate) notifier: Notifier,
    pub(crate) state: BackpressureCell,
    pub(crate) next_member: AtomicU64,
    pub(crate) subscribers: AtomicU64,
    /// Serialises resizes.
    resizing: Mutex<()>,
    /// The spill log and replay state (`FullPolicy::Spill` on a topic
    /// that is not durable).
    pub(crate) spill: Option<LogLane>,
    /// A durable topic's partition lanes, one per partition of the
    /// largest generation (a durable topic never shrinks). Grown by
    /// `Bus::resize_topic` before the new generation exists.
    pub(crate) lanes: Option<RwLock<Vec<Arc<LogLane>>>>,
}

impl Topic {
    pub(crate) fn new(
        name: &str,
        config: TopicConfig,
        partitions: usize,
        ring_size: usize,
        (spill, lanes): (Option<LogLane>, Option<Vec<Arc<LogLane>>>),
    ) -> Topic {
        let first = Arc::new(Generation::new(
            0,
            partitions,
            ring_size,
            config.groups.len(),
            config.single_writer,
        ));
        let groups = config
            .groups
            .iter()
            .map(|name| Group {
                name: name.clone(),
                members: Mutex::new(Vec::new()),
                version: AtomicU64::new(0),
            })
            .collect();
        // Durable and spill topics never take the publish fast path.
        let plain = spill.is_none() && lanes.is_none();
        let gate = Gate::new(if plain { 0 } else { SLOW_NOT_PLAIN });
        Topic {
            name: name.to_owned(),
            config,
            generations: RwLock::new(vec![first]),
            gate: CachePadded::new(gate),
            groups,
            publishers: Mutex::new(Vec::new()),
            retired: Mutex::new(PublisherTotals::default()),
            notifier: Notifier::default(),
            state: BackpressureCell::new(),
            next_member: AtomicU64::new(0),
            subscribers: AtomicU64::new(0),
            resizing: Mutex::new(()),
            spill,
            lanes: lanes.map(RwLock::new),
        }
    }

    /// A durable topic's partition lanes (empty for other topics).
    pub(crate) fn lanes(&self) -> Vec<Arc<LogLane>> {
        self.lanes.as_ref().map_or_else(Vec::new, |l| {
            l.read().unwrap_or_else(|p| p.into_inner()).clone()
        })
    }

    /// The lane of partition `p` of a durable topic.
    pub(crate) fn lane(&self, p: usize) -> Option<Arc<LogLane>> {
        let lanes = self
            .lanes
            .as_ref()?
            .read()
            .unwrap_or_else(|p| p.into_inner());
        lanes.get(p).cloned()
    }

    /// Every live generation, oldest first.
    pub(crate) fn generations(&self) -> Vec<Arc<Generation>> {
        self.generations
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The generation publishers should use now.
    pub(crate) fn current_generation(&self) -> Arc<Generation> {
        let generations = self.generations.read().unwrap_or_else(|p| p.into_inner());
        Arc::clone(generations.last().expect("a topic always has a generation"))
    }

    /// Attaches to the current generation (the next current one if it is
    /// sealed meanwhile): producers and head slots for a publisher.
    pub(crate) fn attach_current(&self) -> Result<Attachment, BusError> {
        loop {
            let generation = self.current_generation();
            match generation.attach() {
                Ok((producers, heads)) => return Ok((generation, producers, heads)),
                Err(AttachError::Sealed) => continue,
                Err(AttachError::Taken) => {
                    return Err(BusError::SingleWriterTaken(self.name.clone()))
                }
            }
        }
    }

    /// Registers a publisher's counters.
    pub(crate) fn attach_publisher(&self) -> Arc<PublisherSlots> {
        let slots = Arc::new(PublisherSlots {
            active: CachePadded::new(ActiveSlot::default()),
            published: CachePadded::new(AtomicU64::new(0)),
            refused: AtomicU64::new(0),
            delayed: AtomicU64::new(0),
        });
        self.publishers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::clone(&slots));
        slots
    }

    /// Starts a new generation with new partition count and ring size;
    /// publishers move to it at their next publish.
    pub(crate) fn resize(&self, partitions: usize, ring_size: usize) {
        let _one = self.resizing.lock().unwrap_or_else(|p| p.into_inner());
        let mut generations = self.generations.write().unwrap_or_else(|p| p.into_inner());
        let number = generations.last().map_or(0, |g| g.number + 1);
        generations.push(Arc::new(Generation::new(
            number,
            partitions,
            ring_size,
            self.groups.len(),
            self.config.single_writer,
        )));
        self.gate.advance(number);
        drop(generations);
        self.maintain();
    }

    /// Seals old generations no publisher is publishing into, and drops
    /// those every group has drained. Called after a resize and on the tick.
    pub(crate) fn maintain(&self) {
        // One generation: nothing to seal or retire (a resize racing this
        // runs its own `maintain` after pushing the new one).
        if self
            .generations
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len()
            == 1
        {
            return;
        }
        let publishers = self
            .publishers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut generations = self.generations.write().unwrap_or_else(|p| p.into_inner());
        // Read under the write lock: `resize` advances it under the same
        // lock, so this is the last generation's number and the current one
        // is never sealed.
        let current = self.gate.current();
        for g in generations
            .iter()
            .filter(|g| g.number != current && g.sealed.get().is_none())
        {
            if self
                .gate
                .quiescent(g.number, publishers.iter().map(|s| &*s.active))
            {
                g.seal();
            }
        }
        let groups = self.groups.len();
        generations.retain(|g| g.number == current || !(0..groups).all(|k| g.drained_by(k)));
    }

    /// Totals over live and retired publishers; folds dropped handles into
    /// `retired` so the list stays bounded by live handles.
    pub(crate) fn publisher_totals(&self) -> PublisherTotals {
        let mut retired = self.retired.lock().unwrap_or_else(|p| p.into_inner());
        let mut live = self.publishers.lock().unwrap_or_else(|p| p.into_inner());
        let fold = |into: &mut PublisherTotals, s: &PublisherSlots| {
            // Relaxed: statistics written by one publisher each.
            into.published += s.published.load(Ordering::Relaxed);
            into.refused += s.refused.load(Ordering::Relaxed);
            into.delayed += s.delayed.load(Ordering::Relaxed);
        };
        let mut out = *retired;
        live.retain(|s| {
            let dropped = Arc::strong_count(s) == 1;
            if dropped {
                fold(&mut retired, s);
            }
            fold(&mut out, s);
            !dropped
        });
        out
    }
}
