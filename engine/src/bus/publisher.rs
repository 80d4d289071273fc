//! A publishing handle: one per producing thread. It holds its own clones
//! of the partitions' ring producers, so publishing touches no shared lock.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::bus::BusShared;
use super::generation::{AttachError, Generation, HeadSlots};
use super::message::{stable_hash, Envelope, FLAG_BACKPRESSURE, FLAG_KEYED};
use super::outcome::{BusError, PublishOutcome, Refusal};
use super::ring::{Full, RingProducer};
use super::topic::{bump, FullPolicy, PublisherSlots, Topic};
use crate::scalable::BackpressureState;

/// Publishes to one topic. Not `Clone`: make one per thread with
/// [`Bus::publisher`](super::Bus::publisher).
pub struct Publisher {
    pub(crate) bus: Arc<BusShared>,
    pub(crate) topic: Arc<Topic>,
    /// The generation `producers` belong to.
    pub(crate) generation: Arc<Generation>,
    /// Copies of the generation's number and ring size, so publishing
    /// reads only this handle's memory.
    pub(crate) generation_number: u64,
    pub(crate) ring_size: usize,
    pub(crate) producers: Vec<RingProducer>,
    pub(crate) heads: Arc<HeadSlots>,
    pub(crate) slots: Arc<PublisherSlots>,
    pub(crate) next_partition: usize,
}

impl Publisher {
    /// Publishes a byte payload; a keyed message goes to
    /// `stable_hash(key) % partitions`, an unkeyed one round-robin.
    pub fn publish(
        &mut self,
        key: Option<&[u8]>,
        payload: &[u8],
    ) -> Result<PublishOutcome, BusError> {
        self.check_payload(payload.len())?;
        self.send(key, 1, |_, flags, key_hash, e| {
            e.fill(key_hash, flags, 0, payload)
        })
    }

    /// Publishes a word (the cheapest payload).
    #[inline]
    pub fn publish_word(
        &mut self,
        key: Option<&[u8]>,
        word: u64,
    ) -> Result<PublishOutcome, BusError> {
        self.send(key, 1, |_, flags, key_hash, e| {
            e.fill(key_hash, flags, word, &[])
        })
    }

    /// Publishes words as one batch into one partition (the key's, or the
    /// next round-robin one): one claim on the ring for the whole batch.
    /// The batch is accepted or refused as a whole; it may not exceed the
    /// ring size.
    #[inline]
    pub fn publish_words(
        &mut self,
        key: Option<&[u8]>,
        words: &[u64],
    ) -> Result<PublishOutcome, BusError> {
        if words.is_empty() {
            return Ok(PublishOutcome::Accepted);
        }
        self.send(key, words.len(), |i, flags, key_hash, e| {
            e.fill(key_hash, flags, words[i], &[])
        })
    }

    /// Like [`Publisher::publish`], and when the outcome is `Delayed`,
    /// sleeps for the stated time before returning.
    pub fn publish_paced(
        &mut self,
        key: Option<&[u8]>,
        payload: &[u8],
    ) -> Result<PublishOutcome, BusError> {
        let outcome = self.publish(key, payload)?;
        if let PublishOutcome::Delayed(d) = outcome {
            std::thread::sleep(d);
        }
        Ok(outcome)
    }

    fn check_payload(&self, len: usize) -> Result<(), BusError> {
        // Relaxed: a limit; a publish racing a change may see either value.
        let max = self.bus.max_payload_bytes.load(Ordering::Relaxed);
        if len as u64 > max {
            return Err(BusError::PayloadTooLarge { len, max });
        }
        Ok(())
    }

    /// Enters a publish: marks this handle active in its generation, and if
    /// that generation is no longer current, moves to the current one first.
    #[inline]
    fn enter(&mut self) -> Result<(), BusError> {
        while !self
            .slots
            .active
            .enter(self.generation_number, &self.topic.gate)
        {
            self.move_to_current()?;
        }
        Ok(())
    }

    #[cold]
    fn move_to_current(&mut self) -> Result<(), BusError> {
        loop {
            let generation = self.topic.current_generation();
            match generation.attach() {
                Ok((producers, heads)) => {
                    // A single writer's old producers go back to their
                    // generation (dropped there once it is sealed); clones
                    // just drop, letting the old rings shut down.
                    let old = std::mem::replace(&mut self.producers, producers);
                    self.generation.detach(old);
                    self.heads = heads;
                    self.generation_number = generation.number;
                    self.ring_size = generation.ring_size;
                    self.generation = generation;
                    self.next_partition = 0;
                    return Ok(());
                }
                // Sealed between the two calls: take the next current one.
                Err(AttachError::Sealed) => continue,
                Err(AttachError::Taken) => {
                    return Err(BusError::SingleWriterTaken(self.topic.name.clone()))
                }
            }
        }
    }

    #[inline]
    fn send(
        &mut self,
        key: Option<&[u8]>,
        n: usize,
        fill: impl Fn(usize, u8, u64, &mut Envelope),
    ) -> Result<PublishOutcome, BusError> {
        let state = self.bus.state.load().max(self.topic.state.load());
        if state == BackpressureState::Shedding && !self.topic.config.critical {
            bump(&self.slots.refused, 1);
            return Ok(PublishOutcome::Refused(Refusal::Shedding));
        }
        self.enter()?;
        let ring_size = self.ring_size;
        if n > ring_size {
            self.slots.active.exit();
            return Err(BusError::PayloadTooLarge {
                len: n,
                max: ring_size as u64,
            });
        }
        let published = self.send_in_generation(key, n, state, fill);
        // After the head store, so a sealer that sees us out sees the head.
        self.slots.active.exit();
        let Some(()) = published else {
            bump(&self.slots.refused, 1);
            return Ok(PublishOutcome::Refused(Refusal::RingFull));
        };
        bump(&self.slots.published, n as u64);
        self.topic.notifier.notify();
        Ok(match state {
            BackpressureState::Normal => PublishOutcome::Accepted,
            BackpressureState::Warning => PublishOutcome::AcceptedWithBackpressure,
            _ => {
                bump(&self.slots.delayed, 1);
                // Relaxed: the tick's latest figure is good enough.
                PublishOutcome::Delayed(Duration::from_nanos(
                    self.bus.delay_ns.load(Ordering::Relaxed),
                ))
            }
        })
    }

    /// Publishes into the current generation; `None` if the ring was full
    /// and the policy is to refuse.
    #[inline]
    fn send_in_generation(
        &mut self,
        key: Option<&[u8]>,
        n: usize,
        state: BackpressureState,
        fill: impl Fn(usize, u8, u64, &mut Envelope),
    ) -> Option<()> {
        let (partition, key_hash, mut flags) = match key {
            Some(k) => {
                let h = stable_hash(k);
                ((h % self.producers.len() as u64) as usize, h, FLAG_KEYED)
            }
            None => {
                let p = self.next_partition;
                self.next_partition = if p + 1 == self.producers.len() {
                    0
                } else {
                    p + 1
                };
                (p, 0, 0)
            }
        };
        if state >= BackpressureState::Warning {
            flags |= FLAG_BACKPRESSURE;
        }
        let mut attempts = 0u32;
        let last = loop {
            let producer = &mut self.producers[partition];
            let result = if n == 1 {
                producer.try_publish(|e| fill(0, flags, key_hash, e))
            } else {
                producer.try_publish_batch(n, |i, e| fill(i, flags, key_hash, e))
            };
            match result {
                Ok(seq) => break seq,
                Err(Full) => match self.topic.config.full_policy {
                    FullPolicy::Refuse => return None,
                    // Spill is refused at topic creation until a WAL is
                    // attached, so only Wait reaches here.
                    FullPolicy::Wait | FullPolicy::Spill => {
                        attempts += 1;
                        self.wait_for_room(attempts);
                    }
                },
            }
        };
        // Release: single writer; pairs with the Acquire in
        // `Generation::heads`, so a sealed head covers this envelope.
        self.heads.head[partition].store(last, Ordering::Release);
        Some(())
    }

    /// Ring full under the Wait policy: spin briefly (readers usually free
    /// room within microseconds), then wake readers and back off without
    /// burning a core (yield, then short sleeps).
    #[cold]
    fn wait_for_room(&mut self, attempts: u32) {
        match attempts {
            0..=255 => std::hint::spin_loop(),
            256..=271 => {
                self.topic.notifier.notify();
                std::thread::yield_now();
            }
            _ => {
                self.topic.notifier.notify();
                std::thread::sleep(Duration::from_micros(20));
            }
        }
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic.name
    }

    /// Partitions of the generation this handle publishes into.
    pub fn partitions(&self) -> usize {
        self.producers.len()
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        // A single writer hands its producers back so a new publisher can
        // attach; clones of a multi-writer ring just drop.
        self.generation.detach(std::mem::take(&mut self.producers));
    }
}
