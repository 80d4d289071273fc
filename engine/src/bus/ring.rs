//! One partition's Disruptor ring (the `disruptor` crate): a multi-producer
//! ring with one event poller per subscriber group.

use disruptor::{
    build_multi_producer, BusySpin, EventGuard, EventPoller, MultiConsumerBarrier, MultiProducer,
    MultiProducerBarrier, Producer, SingleConsumerBarrier,
};

use super::message::Envelope;

/// The producer side; its type depends on how many pollers the ring has.
#[derive(Clone)]
pub(crate) enum RingProducer {
    One(MultiProducer<Envelope, SingleConsumerBarrier>),
    Many(MultiProducer<Envelope, MultiConsumerBarrier>),
}

/// Why a publish into the ring did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

impl RingProducer {
    #[inline]
    pub(crate) fn try_publish(&mut self, fill: impl FnOnce(&mut Envelope)) -> Result<i64, Full> {
        match self {
            RingProducer::One(p) => p.try_publish(fill).map_err(|_| Full),
            RingProducer::Many(p) => p.try_publish(fill).map_err(|_| Full),
        }
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
        macro_rules! batch {
            ($p:expr) => {
                $p.try_batch_publish(n, |iter| {
                    for (i, e) in iter.enumerate() {
                        fill(i, e);
                    }
                })
                .map_err(|_| Full)
            };
        }
        match self {
            RingProducer::One(p) => batch!(p),
            RingProducer::Many(p) => batch!(p),
        }
    }
}

/// The consumer side for one group.
pub(crate) type RingPoller = EventPoller<Envelope, MultiProducerBarrier>;

/// Builds a ring of `size` slots (a power of two) with `groups` pollers.
/// The wait strategy is irrelevant: only pollers consume, and they never
/// block inside the crate.
pub(crate) fn build_ring(size: usize, groups: usize) -> (RingProducer, Vec<RingPoller>) {
    debug_assert!(size.is_power_of_two() && groups >= 1);
    let builder = build_multi_producer(size, Envelope::default, BusySpin);
    let (first, builder) = builder.new_event_poller();
    if groups == 1 {
        return (RingProducer::One(builder.build()), vec![first]);
    }
    let (second, mut builder) = builder.new_event_poller();
    let mut pollers = vec![first, second];
    for _ in 2..groups {
        let (next, b) = builder.new_event_poller();
        pollers.push(next);
        builder = b;
    }
    (RingProducer::Many(builder.build()), pollers)
}

/// Takes up to `max` events; `None` when none are ready.
pub(crate) fn take(
    poller: &mut RingPoller,
    max: u64,
) -> Option<EventGuard<'_, Envelope, MultiProducerBarrier>> {
    // NoEvents and Shutdown both mean: nothing to read now.
    poller.take(max).ok()
}
