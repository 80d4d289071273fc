//! One partition's Disruptor ring (the `disruptor` crate), with one event
//! poller per subscriber group. Multi-writer topics use the crate's
//! multi-producer ring (clonable producers, an atomic claim per publish);
//! single-writer topics its single-producer ring (one producer, no atomic
//! read-modify-write per publish).

use disruptor::{
    build_multi_producer, build_single_producer, BusySpin, EventPoller, MultiConsumerBarrier,
    MultiProducer, MultiProducerBarrier, Producer, SingleConsumerBarrier, SingleProducer,
    SingleProducerBarrier,
};

use super::message::Envelope;

/// The producer side; its type depends on the writer mode and on how many
/// pollers the ring has.
pub(crate) enum RingProducer {
    MultiOne(MultiProducer<Envelope, SingleConsumerBarrier>),
    MultiMany(MultiProducer<Envelope, MultiConsumerBarrier>),
    SingleOne(SingleProducer<Envelope, SingleConsumerBarrier>),
    SingleMany(SingleProducer<Envelope, MultiConsumerBarrier>),
}

/// Why a publish into the ring did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// Runs `$body` with `$p` bound to the producer, whatever its type.
macro_rules! each_producer {
    ($self:expr, $p:ident => $body:expr) => {
        match $self {
            RingProducer::MultiOne($p) => $body,
            RingProducer::MultiMany($p) => $body,
            RingProducer::SingleOne($p) => $body,
            RingProducer::SingleMany($p) => $body,
        }
    };
}

impl RingProducer {
    /// Whether this is a single-writer ring's producer (it cannot be
    /// cloned; one publisher holds it at a time).
    pub(crate) fn is_single(&self) -> bool {
        matches!(
            self,
            RingProducer::SingleOne(_) | RingProducer::SingleMany(_)
        )
    }

    /// A second handle on a multi-producer ring; `None` for single-producer
    /// rings, which have exactly one.
    pub(crate) fn try_clone(&self) -> Option<RingProducer> {
        match self {
            RingProducer::MultiOne(p) => Some(RingProducer::MultiOne(p.clone())),
            RingProducer::MultiMany(p) => Some(RingProducer::MultiMany(p.clone())),
            RingProducer::SingleOne(_) | RingProducer::SingleMany(_) => None,
        }
    }

    #[inline]
    pub(crate) fn try_publish(&mut self, fill: impl FnOnce(&mut Envelope)) -> Result<i64, Full> {
        each_producer!(self, p => p.try_publish(fill).map_err(|_| Full))
    }

    /// Publishes `n` envelopes at once; `fill(i, envelope)` writes the i-th.
    #[inline]
    pub(crate) fn try_publish_batch(
        &mut self,
        n: usize,
        mut fill: impl FnMut(usize, &mut Envelope),
    ) -> Result<i64, Full> {
        // The batch iterator's type is private to the crate, so the closure
        // is written once per arm, where its parameter type is inferred.
        each_producer!(self, p => p
            .try_batch_publish(n, |iter| {
                for (i, e) in iter.enumerate() {
                    fill(i, e);
                }
            })
            .map_err(|_| Full))
    }
}

/// The consumer side for one group.
pub(crate) enum RingPoller {
    Multi(EventPoller<Envelope, MultiProducerBarrier>),
    Single(EventPoller<Envelope, SingleProducerBarrier>),
}

impl RingPoller {
    /// Hands up to `max` ready envelopes to `f`, in order, then releases
    /// their slots; returns how many. (NoEvents and Shutdown both mean:
    /// nothing to read now.)
    #[inline]
    pub(crate) fn drain(&mut self, max: u64, mut f: impl FnMut(&Envelope)) -> u64 {
        macro_rules! drain {
            ($poller:expr) => {{
                let Ok(mut guard) = $poller.take(max) else {
                    return 0;
                };
                let mut n = 0;
                for e in &mut guard {
                    f(e);
                    n += 1;
                }
                n
            }};
        }
        match self {
            RingPoller::Multi(p) => drain!(p),
            RingPoller::Single(p) => drain!(p),
        }
    }

    /// True if an envelope is ready.
    pub(crate) fn has_available(&self) -> bool {
        match self {
            RingPoller::Multi(p) => p.has_available(),
            RingPoller::Single(p) => p.has_available(),
        }
    }
}

/// Builds a ring of `size` slots (a power of two) with `groups` pollers.
/// The wait strategy is irrelevant: only pollers consume, and they never
/// block inside the crate.
pub(crate) fn build_ring(
    size: usize,
    groups: usize,
    single_writer: bool,
) -> (RingProducer, Vec<RingPoller>) {
    debug_assert!(size.is_power_of_two() && groups >= 1);
    macro_rules! build {
        ($start:expr, $poller:path, $one:path, $many:path) => {{
            let (first, builder) = $start.new_event_poller();
            if groups == 1 {
                return ($one(builder.build()), vec![$poller(first)]);
            }
            let (second, mut builder) = builder.new_event_poller();
            let mut pollers = vec![$poller(first), $poller(second)];
            for _ in 2..groups {
                let (next, b) = builder.new_event_poller();
                pollers.push($poller(next));
                builder = b;
            }
            ($many(builder.build()), pollers)
        }};
    }
    if single_writer {
        build!(
            build_single_producer(size, Envelope::default, BusySpin),
            RingPoller::Single,
            RingProducer::SingleOne,
            RingProducer::SingleMany
        )
    } else {
        build!(
            build_multi_producer(size, Envelope::default, BusySpin),
            RingPoller::Multi,
            RingProducer::MultiOne,
            RingProducer::MultiMany
        )
    }
}
