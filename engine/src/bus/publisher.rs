//! A publishing handle: one per producing thread. It holds its own clones
//! of the partitions' ring producers, so publishing touches no shared lock.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::bus::BusShared;
use super::lane::{LanePublish, LogLane, REPLAY_PASS_RECORDS_MAX};
use super::message::{stable_hash, Envelope, FLAG_BACKPRESSURE, FLAG_KEYED};
use super::outcome::{BusError, PublishOutcome, Refusal};
use super::topic::{bump, check_batch, wait_for_room, FullPolicy, Rings, Topic};
use crate::scalable::BackpressureState;

/// (partition, key hash, flags) of one publish.
type Route = (usize, u64, u8);

/// Publishes to one topic. Not `Clone`: make one per thread with
/// [`Bus::publisher`](super::Bus::publisher).
pub struct Publisher {
    pub(crate) bus: Arc<BusShared>,
    pub(crate) topic: Arc<Topic>,
    pub(crate) rings: Rings,
    /// Copy of the generation's ring size, so publishing reads only this
    /// handle's memory.
    pub(crate) ring_size: usize,
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
        // `move`: the word travels by value (see `send`).
        self.send(key, 1, move |_, flags, key_hash, e| {
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
        self.publish_words_with(key, words.len(), |i| words[i])
    }

    /// Publishes `n` words as one batch, as [`Publisher::publish_words`]
    /// does, the i-th being `word(i)`, written straight into the ring's
    /// slots: words made as they are published need no staging array and
    /// no copy out of it (the shape of the `disruptor` crate's batch
    /// publish). `word` should be a pure function of the index: Keel
    /// calls it for each word as it writes the slot (or the spill or log
    /// record), in index order, and does not promise to call it only once.
    #[inline]
    pub fn publish_words_with(
        &mut self,
        key: Option<&[u8]>,
        n: usize,
        word: impl Fn(usize) -> u64,
    ) -> Result<PublishOutcome, BusError> {
        if n == 0 {
            return Ok(PublishOutcome::Accepted);
        }
        self.send(key, n, |i, flags, key_hash, e| {
            e.fill(key_hash, flags, word(i), &[])
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
        if self.rings.enter(&self.topic)? {
            self.ring_size = self.rings.generation.ring_size;
            self.next_partition = 0;
        }
        Ok(())
    }

    /// The common case in as few instructions as it takes (63 for a
    /// single word publish into a single-writer ring on x86-64, loop
    /// included; see ARCHITECTURE.md): an unkeyed publish of `n` slots
    /// into a plain topic while the bus and topic are Normal, into the
    /// current generation's next round-robin partition with room for it.
    /// Plainness, both states and the generation are one load of the
    /// topic's gate word (`quiesce.rs`).
    /// `None` if any of that does not hold, and nothing happened: `send`
    /// goes on to its general path, which handles every case.
    #[inline(always)]
    fn try_fast(
        &mut self,
        n: usize,
        fill: impl Fn(usize, &mut Envelope<'_>),
    ) -> Option<PublishOutcome> {
        // One message always fits (a ring has at least 64 slots), so a
        // single publish compiles no size check.
        if !((n == 1 || self.check_batch(n).is_ok())
            && self
                .rings
                .slots
                .active
                .enter_fast(self.rings.number, &self.topic.gate))
        {
            return None;
        }
        let p = self.next_partition;
        let published = self.rings.try_publish(p, n, fill).is_ok();
        // After the head store, as in the general path.
        self.rings.slots.active.exit();
        if !published {
            return None;
        }
        self.next_partition = self.after(p);
        Some(self.accepted(n, BackpressureState::Normal))
    }

    /// Tries the fast path in the caller's code, and calls the general
    /// path out of line. Both halves are pinned: left to itself, LLVM
    /// inlined the whole of `send` into one binary's publish loop and
    /// called all of it out of line (general path and all, returning the
    /// 64-byte result through memory) from another's, and the second ran
    /// single publishes at about 0.6x the first's rate (ARCHITECTURE.md,
    /// bus performance). The general path takes `fill` by value: lent by
    /// reference, its address escaped into the out-of-line call, and what
    /// it captured (a published word) went through the stack on every
    /// fast publish too.
    #[inline(always)]
    fn send<F: Fn(usize, u8, u64, &mut Envelope<'_>)>(
        &mut self,
        key: Option<&[u8]>,
        n: usize,
        fill: F,
    ) -> Result<PublishOutcome, BusError> {
        if key.is_none() {
            if let Some(outcome) = self.try_fast(n, |i, e| fill(i, 0, 0, e)) {
                return Ok(outcome);
            }
        }
        self.send_general(key, n, fill)
    }

    /// Every publish the fast path does not take: keyed, durable or
    /// spilling topics, backpressure, a resize, a full ring.
    #[inline(never)]
    fn send_general<F: Fn(usize, u8, u64, &mut Envelope<'_>)>(
        &mut self,
        key: Option<&[u8]>,
        n: usize,
        fill: F,
    ) -> Result<PublishOutcome, BusError> {
        let fill = &fill;
        let state = self.bus.state.load().max(self.topic.state.load());
        if state == BackpressureState::Shedding && !self.topic.config.critical {
            bump(&self.rings.slots.refused, 1);
            return Ok(PublishOutcome::Refused(Refusal::Shedding));
        }
        if self.topic.lanes.is_some() {
            return self.send_durable(key, n, state, fill);
        }
        if self.topic.spill.as_ref().is_some_and(LogLane::backlogged) {
            return self.send_spilling(key, None, n, state, fill);
        }
        self.enter()?;
        if let Err(e) = self.check_batch(n) {
            self.rings.slots.active.exit();
            return Err(e);
        }
        let route = self.route(key, state);
        let published = self.send_in_generation(route, n, fill);
        // After the head store, so a sealer that sees us out sees the head.
        self.rings.slots.active.exit();
        if published {
            return Ok(self.accepted(n, state));
        }
        if self.topic.config.full_policy == FullPolicy::Spill {
            return self.send_spilling(key, Some(route), n, state, fill);
        }
        bump(&self.rings.slots.refused, 1);
        Ok(PublishOutcome::Refused(Refusal::RingFull))
    }

    fn check_batch(&self, n: usize) -> Result<(), BusError> {
        check_batch(n, self.ring_size)
    }

    /// Counts an enqueued publish, wakes readers, says how it went.
    #[inline]
    fn accepted(&mut self, n: usize, state: BackpressureState) -> PublishOutcome {
        bump(&self.rings.slots.published, n as u64);
        self.topic.notifier.notify();
        match state {
            BackpressureState::Normal => PublishOutcome::Accepted,
            BackpressureState::Warning => PublishOutcome::AcceptedWithBackpressure,
            _ => {
                bump(&self.rings.slots.delayed, 1);
                // Relaxed: the tick's latest figure is good enough.
                PublishOutcome::Delayed(Duration::from_nanos(
                    self.bus.delay_ns.load(Ordering::Relaxed),
                ))
            }
        }
    }

    /// The round-robin partition after `p`.
    #[inline]
    fn after(&self, p: usize) -> usize {
        if p + 1 == self.rings.producers.len() {
            0
        } else {
            p + 1
        }
    }

    /// The partition, key hash and flags of a publish; advances the
    /// round-robin for an unkeyed one.
    #[inline]
    fn route(&mut self, key: Option<&[u8]>, state: BackpressureState) -> Route {
        let (partition, key_hash, mut flags) = match key {
            Some(k) => {
                let h = stable_hash(k);
                (
                    (h % self.rings.producers.len() as u64) as usize,
                    h,
                    FLAG_KEYED,
                )
            }
            None => {
                let p = self.next_partition;
                self.next_partition = self.after(p);
                (p, 0, 0)
            }
        };
        if state >= BackpressureState::Warning {
            flags |= FLAG_BACKPRESSURE;
        }
        (partition, key_hash, flags)
    }

    /// One try to claim and fill `n` slots of the route's ring.
    #[inline]
    fn try_ring(
        &mut self,
        (partition, key_hash, flags): Route,
        n: usize,
        fill: &impl Fn(usize, u8, u64, &mut Envelope<'_>),
    ) -> bool {
        self.rings
            .try_publish(partition, n, |i, e| fill(i, flags, key_hash, e))
            .is_ok()
    }

    /// Publishes into the current generation; false if the ring was full
    /// and the policy is not to wait.
    #[inline]
    fn send_in_generation(
        &mut self,
        route: Route,
        n: usize,
        fill: &impl Fn(usize, u8, u64, &mut Envelope<'_>),
    ) -> bool {
        let mut attempts = 0u32;
        loop {
            if self.try_ring(route, n, fill) {
                return true;
            }
            match self.topic.config.full_policy {
                FullPolicy::Refuse | FullPolicy::Spill => return false,
                FullPolicy::Wait => {
                    attempts += 1;
                    wait_for_room(&self.topic, attempts);
                }
            }
        }
    }

    /// A durable topic's publish (see `lane.rs`): routed here; the
    /// partition's lane appends it, waits until it is durable under the
    /// log's sync policy (outside the lane's lock, so concurrent
    /// publishers share a sync) and places it once subscribers may see it.
    #[cold]
    fn send_durable(
        &mut self,
        key: Option<&[u8]>,
        n: usize,
        state: BackpressureState,
        fill: &dyn Fn(usize, u8, u64, &mut Envelope<'_>),
    ) -> Result<PublishOutcome, BusError> {
        // Entered only to learn the current partition count.
        self.enter()?;
        let route = self.route(key, state);
        self.rings.slots.active.exit();
        let (partition, key_hash, flags) = route;
        let lane = self
            .topic
            .lane(partition)
            .expect("a durable topic has a lane per partition");
        let how = lane.publish(
            &self.topic,
            (key_hash, flags),
            n,
            self.topic.config.full_policy,
            &|i, e| fill(i, flags, key_hash, e),
        )?;
        Ok(match how {
            LanePublish::Placed => self.accepted(n, state),
            LanePublish::Spilled => {
                bump(&self.rings.slots.published, n as u64);
                PublishOutcome::Spilled
            }
            LanePublish::Refused => {
                bump(&self.rings.slots.refused, 1);
                PublishOutcome::Refused(Refusal::RingFull)
            }
        })
    }

    /// The spill path (see `lane.rs`): the ring was full under the Spill
    /// policy, or the topic has a backlog. Under the lane's lock: replay
    /// what fits, then publish into the ring only if the backlog is now
    /// empty, else append behind it.
    #[cold]
    fn send_spilling(
        &mut self,
        key: Option<&[u8]>,
        tried: Option<Route>,
        n: usize,
        state: BackpressureState,
        fill: &dyn Fn(usize, u8, u64, &mut Envelope<'_>),
    ) -> Result<PublishOutcome, BusError> {
        let topic = Arc::clone(&self.topic);
        let lane = topic.spill.as_ref().expect("only spill topics spill");
        let mut st = lane.lock();
        lane.replay(&topic, &mut st, REPLAY_PASS_RECORDS_MAX)?;
        self.enter()?;
        if let Err(e) = self.check_batch(n) {
            self.rings.slots.active.exit();
            return Err(e);
        }
        // A resize may have moved us to a generation with fewer partitions.
        let route = match tried {
            Some(r) if key.is_none() && r.0 < self.rings.producers.len() => r,
            _ => self.route(key, state),
        };
        // Backlog empty under the lock: no spilled message can be overtaken.
        let published = !lane.backlogged() && self.try_ring(route, n, &fill);
        self.rings.slots.active.exit();
        if published {
            drop(st);
            return Ok(self.accepted(n, state));
        }
        let (partition, key_hash, flags) = route;
        lane.append(
            &topic.name,
            &mut st,
            (partition as u32, key_hash, flags),
            n,
            &|i, e| fill(i, flags, key_hash, e),
        )?;
        drop(st);
        bump(&self.rings.slots.published, n as u64);
        Ok(PublishOutcome::Spilled)
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic.name
    }

    /// Partitions of the generation this handle publishes into.
    pub fn partitions(&self) -> usize {
        self.rings.producers.len()
    }
}
