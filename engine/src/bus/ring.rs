//! One partition's Disruptor ring (the `disruptor` crate), with one event
//! poller per subscriber group. Multi-writer topics use the crate's
//! multi-producer ring (clonable producers, an atomic claim per publish);
//! single-writer topics its single-producer ring (one producer, no atomic
//! read-modify-write per publish).
//!
//! Beside the crate's ring of 16-byte [`Slot`]s sits a side column of
//! `Extra` cells, one per slot, for what only some messages carry (a key
//! hash, a byte payload). A slot's cell is found from the slot's address:
//! the ring is built, one message is published and read through every
//! poller before anyone else sees the ring (learning slot 0's address),
//! and from then on `index = (address - base) / 16`. That primed message
//! is sequence 0 of the crate's ring; the handles here subtract one, so
//! Keel's sequences still start at 0.

use std::sync::Arc;

use disruptor::{
    build_multi_producer, build_single_producer, BusySpin, EventPoller, MultiConsumerBarrier,
    MultiProducer, MultiProducerBarrier, Producer, SingleConsumerBarrier, SingleProducer,
    SingleProducerBarrier,
};

use super::message::{Delivered, Envelope, SideColumn, Slot};

/// Messages the crate's ring carries before Keel's first: the priming one
/// (see the module comment). Keel's sequence = the crate's - `PRIMED`.
const PRIMED: i64 = 1;

/// The envelope for a slot of `side`'s ring the crate handed out to be
/// written.
#[inline]
fn envelope<'a>(side: &'a SideColumn, slot: &'a mut Slot) -> Envelope<'a> {
    // SAFETY: `slot` is this column's ring's and exclusively this
    // producer's (a `&mut` from the crate's claim), and so is its cell (see
    // `SideColumn`'s `Sync` impl).
    unsafe { Envelope::new(slot, side) }
}

/// The view of a slot of `side`'s ring the crate handed out to be read.
#[inline]
fn delivered<'a>(side: &'a SideColumn, slot: &'a Slot) -> Delivered<'a> {
    // SAFETY: `slot` is this column's ring's, published and not yet
    // released by this poller, so no producer writes it or its cell (see
    // `SideColumn`'s `Sync` impl).
    unsafe { Delivered::new(slot, side) }
}

/// The producer side of one ring.
pub(crate) struct RingProducer {
    inner: Producers,
    side: Arc<SideColumn>,
}

/// The crate's producer; its type depends on the writer mode and on how
/// many pollers the ring has. An explicit tag byte: matched on every
/// publish, it is one byte load and a jump, where the niche-packed
/// default took five instructions to decode.
#[repr(u8)]
enum Producers {
    MultiOne(MultiProducer<Slot, SingleConsumerBarrier>),
    MultiMany(MultiProducer<Slot, MultiConsumerBarrier>),
    SingleOne(SingleProducer<Slot, SingleConsumerBarrier>),
    SingleMany(SingleProducer<Slot, MultiConsumerBarrier>),
}

/// Why a publish into the ring did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// Runs `$body` with `$p` bound to the producer, whatever its type.
macro_rules! each_producer {
    ($self:expr, $p:ident => $body:expr) => {
        match $self {
            Producers::MultiOne($p) => $body,
            Producers::MultiMany($p) => $body,
            Producers::SingleOne($p) => $body,
            Producers::SingleMany($p) => $body,
        }
    };
}

impl RingProducer {
    /// Whether this is a single-writer ring's producer (it cannot be
    /// cloned; one publisher holds it at a time).
    pub(crate) fn is_single(&self) -> bool {
        matches!(
            self.inner,
            Producers::SingleOne(_) | Producers::SingleMany(_)
        )
    }

    /// A second handle on a multi-producer ring; `None` for single-producer
    /// rings, which have exactly one.
    pub(crate) fn try_clone(&self) -> Option<RingProducer> {
        let inner = match &self.inner {
            Producers::MultiOne(p) => Producers::MultiOne(p.clone()),
            Producers::MultiMany(p) => Producers::MultiMany(p.clone()),
            Producers::SingleOne(_) | Producers::SingleMany(_) => return None,
        };
        Some(RingProducer {
            inner,
            side: Arc::clone(&self.side),
        })
    }

    /// Publishes one envelope; returns its sequence.
    #[inline(always)]
    pub(crate) fn try_publish(
        &mut self,
        fill: impl FnOnce(&mut Envelope<'_>),
    ) -> Result<i64, Full> {
        let side = &*self.side;
        let last = each_producer!(&mut self.inner, p => p
            .try_publish(move |slot| fill(&mut envelope(side, slot)))
            .map_err(|_| Full))?;
        Ok(last - PRIMED)
    }

    /// Publishes `n` envelopes at once; `fill(i, envelope)` writes the i-th.
    /// Returns the last one's sequence.
    #[inline(always)]
    pub(crate) fn try_publish_batch(
        &mut self,
        n: usize,
        mut fill: impl FnMut(usize, &mut Envelope<'_>),
    ) -> Result<i64, Full> {
        let side = &*self.side;
        // The batch iterator's type is private to the crate, so the closure
        // is written once per arm, where its parameter type is inferred.
        let last = each_producer!(&mut self.inner, p => p
            .try_batch_publish(n, |iter| {
                for (i, slot) in iter.enumerate() {
                    fill(i, &mut envelope(side, slot));
                }
            })
            .map_err(|_| Full))?;
        Ok(last - PRIMED)
    }
}

/// The consumer side for one group.
pub(crate) struct RingPoller {
    inner: Pollers,
    side: Arc<SideColumn>,
}

enum Pollers {
    Multi(EventPoller<Slot, MultiProducerBarrier>),
    Single(EventPoller<Slot, SingleProducerBarrier>),
}

impl RingPoller {
    /// Hands up to `max` ready envelopes to `f`, in order, then releases
    /// their slots; returns how many. (NoEvents and Shutdown both mean:
    /// nothing to read now.)
    #[inline]
    pub(crate) fn drain(&mut self, max: u64, mut f: impl FnMut(Delivered<'_>)) -> u64 {
        let side = &*self.side;
        macro_rules! drain {
            ($poller:expr) => {{
                let Ok(mut guard) = $poller.take(max) else {
                    return 0;
                };
                let mut n = 0;
                for slot in &mut guard {
                    f(delivered(side, slot));
                    n += 1;
                }
                n
            }};
        }
        match &mut self.inner {
            Pollers::Multi(p) => drain!(p),
            Pollers::Single(p) => drain!(p),
        }
    }

    /// True if an envelope is ready.
    pub(crate) fn has_available(&self) -> bool {
        match &self.inner {
            Pollers::Multi(p) => p.has_available(),
            Pollers::Single(p) => p.has_available(),
        }
    }
}

/// Builds a ring of `size` slots (a power of two) with `groups` pollers,
/// its side column, and primes it (see the module comment). The wait
/// strategy is irrelevant: only pollers consume, and they never block
/// inside the crate.
pub(crate) fn build_ring(
    size: usize,
    groups: usize,
    single_writer: bool,
) -> (RingProducer, Vec<RingPoller>) {
    debug_assert!(size.is_power_of_two() && groups >= 1);
    macro_rules! build {
        ($start:expr, $poller:path, $one:path, $many:path) => {{
            let (first, builder) = $start.new_event_poller();
            let mut pollers = vec![first];
            if groups == 1 {
                prime($one(builder.build()), pollers, size, $poller)
            } else {
                let (second, mut builder) = builder.new_event_poller();
                pollers.push(second);
                for _ in 2..groups {
                    let (next, b) = builder.new_event_poller();
                    pollers.push(next);
                    builder = b;
                }
                prime($many(builder.build()), pollers, size, $poller)
            }
        }};
    }
    if single_writer {
        build!(
            build_single_producer(size, Slot::default, BusySpin),
            Pollers::Single,
            Producers::SingleOne,
            Producers::SingleMany
        )
    } else {
        build!(
            build_multi_producer(size, Slot::default, BusySpin),
            Pollers::Multi,
            Producers::MultiOne,
            Producers::MultiMany
        )
    }
}

/// Publishes the priming message, reads it through every poller, and
/// wraps the handles around the side column that its address locates.
fn prime<P>(
    mut inner: Producers,
    pollers: Vec<P>,
    size: usize,
    wrap: impl Fn(P) -> Pollers,
) -> (RingProducer, Vec<RingPoller>) {
    let mut base = 0;
    let first = each_producer!(&mut inner, p => p
        .try_publish(|slot| base = slot as *mut Slot as usize)
        .expect("a new ring has room"));
    debug_assert_eq!(first, 0);
    let side = Arc::new(SideColumn::new(base, size));
    let pollers = pollers
        .into_iter()
        .map(|p| {
            let mut poller = RingPoller {
                inner: wrap(p),
                side: Arc::clone(&side),
            };
            let read = poller.drain(1, |_| {});
            debug_assert_eq!(read, 1);
            poller
        })
        .collect();
    (RingProducer { inner, side }, pollers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::message::{FLAG_BACKPRESSURE, FLAG_KEYED};

    /// (sequence, key hash, flags, word, bytes) of each message read.
    type Read = Vec<(i64, u64, u8, u64, Vec<u8>)>;

    fn read_all(poller: &mut RingPoller, next: &mut i64, out: &mut Read) {
        poller.drain(u64::MAX, |d| {
            out.push((*next, d.key_hash(), d.flags(), d.word(), d.bytes().to_vec()));
            *next += 1;
        });
    }

    /// Message `i`: every third keyed, every other one with bytes, so the
    /// side cells are written, skipped and reused across laps.
    fn message(i: u64) -> (u64, u8, Vec<u8>) {
        let keyed = i % 3 == 0;
        let bytes = if i % 2 == 0 {
            vec![i as u8; (i % 5) as usize + 1]
        } else {
            vec![]
        };
        let flags =
            if keyed { FLAG_KEYED } else { 0 } | if i % 4 == 1 { FLAG_BACKPRESSURE } else { 0 };
        (if keyed { i * 7 + 1 } else { 0 }, flags, bytes)
    }

    #[test]
    fn side_cells_follow_their_slots_over_laps_in_every_ring_mode() {
        // The crate's multi-producer ring has at least 64 slots.
        for (single_writer, groups, size) in
            [(true, 1, 8), (true, 2, 8), (false, 1, 64), (false, 3, 64)]
        {
            let (mut producer, mut pollers) = build_ring(size, groups, single_writer);
            let mut nexts = vec![0i64; groups];
            let mut reads: Vec<Read> = vec![Vec::new(); groups];
            let mut i = 0u64;
            // Three laps, in singles and batches of 3.
            while i < 3 * size as u64 {
                let last = if i % 2 == 0 {
                    let (key_hash, flags, bytes) = message(i);
                    producer
                        .try_publish(|e| e.fill(key_hash, flags, i, &bytes))
                        .expect("room")
                } else {
                    producer
                        .try_publish_batch(3, |k, e| {
                            let (key_hash, flags, bytes) = message(i + k as u64);
                            e.fill(key_hash, flags, i + k as u64, &bytes)
                        })
                        .expect("room")
                };
                i = last as u64 + 1;
                for (g, poller) in pollers.iter_mut().enumerate() {
                    read_all(poller, &mut nexts[g], &mut reads[g]);
                }
            }
            for read in &reads {
                let want: Read = (0..i)
                    .map(|i| {
                        let (key_hash, flags, bytes) = message(i);
                        (i as i64, key_hash, flags, i, bytes)
                    })
                    .collect();
                assert_eq!(
                    read, &want,
                    "single_writer {single_writer}, {groups} groups"
                );
            }
        }
    }

    #[test]
    fn a_full_ring_refuses_and_the_primed_slot_is_not_a_message() {
        let (mut producer, mut pollers) = build_ring(4, 1, true);
        assert!(!pollers[0].has_available());
        for w in 0..4 {
            assert_eq!(producer.try_publish(|e| e.fill(0, 0, w, &[])), Ok(w as i64));
        }
        assert_eq!(producer.try_publish(|e| e.fill(0, 0, 9, &[])), Err(Full));
        let mut words = Vec::new();
        pollers[0].drain(u64::MAX, |d| words.push(d.word()));
        assert_eq!(words, [0, 1, 2, 3]);
    }

    /// A producer thread and a consumer thread: under Miri, a side cell
    /// written while read (or without the crate's orderings between) is
    /// reported as a data race.
    #[test]
    fn side_cells_cross_threads_without_a_race() {
        for (single_writer, size) in [(true, 4), (false, 64)] {
            cross_threads(single_writer, size);
        }
    }

    fn cross_threads(single_writer: bool, size: usize) {
        // Past two laps.
        let n = if cfg!(miri) {
            2 * size as u64 + 5
        } else {
            20_000
        };
        let (mut producer, mut pollers) = build_ring(size, 1, single_writer);
        let mut poller = pollers.pop().expect("one group");
        let consumer = std::thread::spawn(move || {
            let mut read = Read::new();
            let mut next = 0;
            while (read.len() as u64) < n {
                read_all(&mut poller, &mut next, &mut read);
                std::thread::yield_now();
            }
            read
        });
        for i in 0..n {
            let (key_hash, flags, bytes) = message(i);
            while producer
                .try_publish(|e| e.fill(key_hash, flags, i, &bytes))
                .is_err()
            {
                std::thread::yield_now();
            }
        }
        let read = consumer.join().expect("consumer");
        for (i, got) in read.into_iter().enumerate() {
            let (key_hash, flags, bytes) = message(i as u64);
            assert_eq!(got, (i as i64, key_hash, flags, i as u64, bytes));
        }
    }
}
