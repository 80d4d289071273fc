//! A subscribing handle: a member of one group, reading the partitions the
//! group assigns it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::bus::BusShared;
use super::generation::Generation;
use super::lane::log_error;
use super::message::Message;
use super::outcome::BusError;
use super::topic::{bump, Topic};
use crate::scalable::BackpressureState;

/// How long the Park strategy spin-polls before it parks.
const PARK_SPIN: Duration = Duration::from_micros(20);

/// Spin-loop hints the Park strategy waits between polls that found
/// nothing (about 3 us on this host's AMD cores, 6 us where a hint takes
/// 140 cycles). A poll reads the producer's cursor line, so a consumer
/// that polls the moment it has caught up makes every publish win that
/// line back; waiting lets a batch gather, and a single publish with a
/// consumer runs near its one-thread speed (ARCHITECTURE.md, "Where a
/// single publish's time goes"). The cost is latency: under Park a
/// message that lands just after an empty poll waits up to this long
/// (Spin polls back to back for the lowest latency).
const GATHER_PAUSES: u32 = 128;

/// Under Park, a poll that hands over fewer messages than this is
/// followed by a gather pause before the next poll, as an empty one is: a
/// consumer that keeps taking a few messages at a time reads slots on the
/// lines the producer is writing, and each read takes the line from it.
const GATHER_MIN: usize = 64;

/// Waits [`GATHER_PAUSES`] spin-loop hints.
#[inline]
fn gather_pause() {
    for _ in 0..GATHER_PAUSES {
        std::hint::spin_loop();
    }
}

/// How a subscriber waits when nothing is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Poll in a tight loop (lowest latency; burns a core).
    Spin,
    /// Poll, yielding the core between polls.
    Yield,
    /// Poll for up to 20 us with a short pause (about 3 us) between
    /// polls that found nothing, then park until a publisher wakes it
    /// (each park bounded by 1 ms). A poll that found only a few messages
    /// is followed by the pause too, so batches gather. The default: it
    /// never starves the host on few cores, and it trades a few
    /// microseconds of latency for throughput (Spin does not).
    Park,
}

/// Reads a topic as one member of a subscriber group. Dropping it leaves
/// the group; its partitions pass to the other members with nothing lost.
pub struct Subscriber {
    pub(crate) bus: Arc<BusShared>,
    pub(crate) topic: Arc<Topic>,
    pub(crate) group: usize,
    pub(crate) member: u64,
    /// The generation being read: the oldest one the group has not drained.
    pub(crate) generation: Option<Arc<Generation>>,
    pub(crate) assigned: Vec<usize>,
    pub(crate) seen_version: u64,
    pub(crate) next: usize,
    pub(crate) wait: WaitStrategy,
    /// Under Park, the last `poll_wait` handed over fewer than
    /// [`GATHER_MIN`] messages: the next one lets a batch gather before it
    /// polls. Set only under Park, cleared when the strategy changes.
    pub(crate) gather: bool,
    /// Messages per partition per poll while not Critical (default: all
    /// that are ready).
    pub(crate) batch: u64,
    /// A durable topic's log positions, per partition index (empty on
    /// other topics).
    pub(crate) positions: Positions,
}

/// A durable topic's log positions as one subscriber sees them.
#[derive(Default)]
pub(crate) struct Positions {
    /// Per partition: the group's position when the lane opened; replayed
    /// messages below it were handled before the restart and are skipped.
    starts: Vec<u64>,
    /// Per partition: the log position after the last message handed to
    /// the handler (0: none yet).
    next: Vec<u64>,
}

impl Subscriber {
    /// Caps the messages taken from one partition per poll (fairness
    /// across partitions for slow handlers). The cap is lifted while the
    /// bus is Critical, so consumers drain as fast as they can. Each take
    /// scans the ring's ready range once, so small caps on a deep backlog
    /// cost more per message; the default takes all that is ready.
    pub fn set_batch(&mut self, max_per_partition: u64) {
        self.batch = max_per_partition.max(1);
    }

    /// Sets how [`Subscriber::poll_wait`] waits.
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.wait = wait;
        self.gather = false;
    }

    /// Partitions this member reads now (in the generation it reads).
    pub fn partitions(&mut self) -> &[usize] {
        self.refresh();
        &self.assigned
    }

    /// Picks the generation to read and this member's partitions in it.
    /// The check that nothing changed is inlined into every poll; the
    /// re-pick is out of line (see `Publisher::send` for why both are
    /// pinned).
    #[inline(always)]
    fn refresh(&mut self) {
        let group = &self.topic.groups[self.group];
        // Acquire: pairs with the Release bump in `Bus::subscribe` and
        // `Drop`, so the member list read below is the one that version
        // names.
        let version = group.version.load(Ordering::Acquire);
        // A hint to take the fast path; the slow path reads the generation
        // list under its lock.
        let current = self.topic.gate.current();
        let settled = self
            .generation
            .as_ref()
            .is_some_and(|g| g.number == current);
        if settled && version == self.seen_version {
            return;
        }
        self.repick(version, settled);
    }

    /// The generation and partitions to read after a change: `version` is
    /// the group's membership version just read, `settled` whether the
    /// generation read so far is still current.
    #[cold]
    #[inline(never)]
    fn repick(&mut self, version: u64, settled: bool) {
        let group = &self.topic.groups[self.group];
        if !settled {
            // Mid-change: seal and retire what can be, then re-pick.
            self.topic.maintain();
        }
        let generations = self.topic.generations();
        let target = generations
            .iter()
            .find(|g| !g.drained_by(self.group))
            .or(generations.last())
            .cloned()
            .expect("a topic always has a generation");
        let members = group.members.lock().unwrap_or_else(|p| p.into_inner());
        let me = members.iter().position(|&m| m == self.member).unwrap_or(0);
        let count = members.len().max(1);
        self.assigned = (0..target.partitions).filter(|p| p % count == me).collect();
        let lanes = self.topic.lanes();
        let positions = &mut self.positions;
        for lane in &lanes[positions.starts.len().min(lanes.len())..] {
            positions.starts.push(lane.starts[self.group]);
        }
        positions.next.resize(lanes.len(), 0);
        self.generation = Some(target);
        self.seen_version = version;
    }

    /// Hands ready messages to `handler` without waiting; returns how many.
    /// Each partition's messages arrive in publish order, and across a
    /// resize every message of the old generation comes before any of the
    /// new. While the bus is Critical, batches are unbounded (drain fast).
    pub fn poll(&mut self, mut handler: impl FnMut(Message<'_>)) -> usize {
        self.refresh();
        let critical = self.bus.state.load() >= BackpressureState::Critical;
        let max = if critical { u64::MAX } else { self.batch };
        // Borrowed, not cloned: a clone per poll would write the
        // generation's reference count, a line publishers read.
        let generation = self.generation.as_ref().expect("set by refresh");
        let rings = &generation.groups[self.group];
        let positions = &mut self.positions;
        let mut delivered = 0;
        for k in 0..self.assigned.len() {
            let partition = self.assigned[(self.next + k) % self.assigned.len()];
            // A poller is shared only during a hand-over; skip it if busy.
            let Ok(mut poller) = rings.pollers[partition].try_lock() else {
                continue;
            };
            // Relaxed: only the holder of this poller's mutex writes `tail`.
            let mut sequence = rings.tail[partition].load(Ordering::Relaxed);
            let partition_id = partition as u32;
            // Two loops, so a plain topic's reads no offset per message.
            let (n, handled) = match positions.starts.get(partition).copied() {
                None => {
                    let n = poller.drain(max, |envelope| {
                        sequence += 1;
                        handler(envelope.message(partition_id, sequence, None));
                    });
                    (n, n as usize)
                }
                // A durable topic's: below `start`, a replayed message
                // this group handled before the restart.
                Some(start) => {
                    let (mut handled, mut next) = (0usize, None);
                    let n = poller.drain(max, |envelope| {
                        sequence += 1;
                        let offset = envelope.offset();
                        if offset < start {
                            return;
                        }
                        next = Some(offset + 1);
                        handled += 1;
                        handler(envelope.message(partition_id, sequence, Some(offset)));
                    });
                    if let Some(next) = next {
                        positions.next[partition] = next;
                    }
                    (n, handled)
                }
            };
            if n == 0 {
                continue;
            }
            // Release: pairs with the Acquire in `Generation::drained_by`.
            rings.tail[partition].store(sequence, Ordering::Release);
            // A statistic with one writer (the poller's holder).
            bump(&rings.consumed[partition], n);
            delivered += handled;
        }
        self.next = self.next.wrapping_add(1);
        delivered
    }

    /// Like [`Subscriber::poll`], but waits (per the wait strategy) up to
    /// `timeout` for at least one message.
    pub fn poll_wait(&mut self, timeout: Duration, mut handler: impl FnMut(Message<'_>)) -> usize {
        // The clock is first read once a poll found nothing: a clock read
        // costs tens of nanoseconds in a VM, more than a poll that finds
        // work.
        let mut started = None;
        if self.gather {
            gather_pause();
        }
        loop {
            let n = self.poll(&mut handler);
            if n > 0 {
                self.gather = self.wait == WaitStrategy::Park && n < GATHER_MIN;
                return n;
            }
            let now = Instant::now();
            let waited = now - *started.get_or_insert(now);
            if waited >= timeout {
                return 0;
            }
            match self.wait {
                WaitStrategy::Spin => std::hint::spin_loop(),
                WaitStrategy::Yield => std::thread::yield_now(),
                WaitStrategy::Park if waited < PARK_SPIN => gather_pause(),
                WaitStrategy::Park => {
                    let left = timeout - waited;
                    // Borrowed: parking allocates nothing.
                    let generation = self.generation.as_ref().expect("set by poll");
                    let rings = &generation.groups[self.group];
                    self.topic.notifier.park(
                        || {
                            self.assigned.iter().any(|&p| {
                                rings.pollers[p]
                                    .try_lock()
                                    .map(|poller| poller.has_available())
                                    .unwrap_or(true)
                            })
                        },
                        left,
                    );
                }
            }
        }
    }

    /// On a durable topic, durably records for this subscriber's group
    /// that every message handed to this subscriber's handler so far has
    /// been handled: a topic created again over the same logs (after a
    /// restart or crash) delivers this group only what comes after, per
    /// partition. Commit after handling, at the interval that suits you:
    /// messages handled and not committed are delivered again after a
    /// crash (at least once). Each partition whose position moved costs
    /// one durable write. Returns how many moved.
    pub fn commit(&mut self) -> Result<usize, BusError> {
        if self.topic.lanes.is_none() {
            return Err(BusError::NotDurable(self.topic.name.clone()));
        }
        let lanes = self.topic.lanes();
        let group = &self.topic.groups[self.group].name;
        let mut moved = 0;
        // The lane ignores a position that does not move its group's.
        for (lane, &next) in lanes.iter().zip(&self.positions.next) {
            if lane
                .commit_group(self.group, group, next)
                .map_err(|e| log_error(&self.topic.name, e))?
            {
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// The group this subscriber belongs to.
    pub fn group(&self) -> &str {
        &self.topic.groups[self.group].name
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let group = &self.topic.groups[self.group];
        let mut members = group.members.lock().unwrap_or_else(|p| p.into_inner());
        members.retain(|&m| m != self.member);
        // Release: pairs with the Acquire in `refresh_assignment`.
        group.version.fetch_add(1, Ordering::Release);
        // Relaxed: a statistic.
        self.topic.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}
