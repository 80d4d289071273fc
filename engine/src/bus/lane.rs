//! A topic's log lanes: a durable log with a replay position feeding the
//! rings. Two kinds share this code:
//!
//! - the **spill lane** of a topic under
//!   [`FullPolicy::Spill`](super::FullPolicy): publishes that find their
//!   ring full go to the topic's one spill log, and are replayed into the
//!   rings in log order as room appears;
//! - a **partition lane** of a durable topic (`TopicConfig::durable`):
//!   every message published to partition `p` is appended to that
//!   partition's log first, then placed into ring `p` by the lane, which
//!   is the only producer of its partition's rings. Each envelope carries
//!   its log sequence, so a subscriber group commits positions in the log
//!   and a restart replays from the lowest one.
//!
//! Order: a lane's log is appended under the lane's lock. While it holds
//! records not yet placed (`backlog` non-zero), a publish goes behind
//! them; the lock holder first replays what fits. A spill lane's publish
//! goes straight into a ring only with the lock held and the backlog
//! empty; a partition lane's always appends, then places from its
//! replay position (`cursor`) on, in log order. So a publish that
//! happens after another (same thread, or synchronised with it) is
//! delivered after it, and a partition's ring order is its log order.
//!
//! Visibility: a partition lane places a record only once the log says a
//! crash keeps it ([`DurableLog::visible_end`]): under policy "always"
//! once synced (the publisher waits for that sync outside the lock, then
//! places what it covers), under the others once handed to the OS. A
//! message a subscriber saw is never taken back by a crash, so an offset
//! always names the same message. The lane keeps the encoded records it
//! appended and has not placed (up to [`PENDING_RECORDS_MAX`]), so placing
//! them reads no file; older ones are read back from the log.
//!
//! Under the policies other than "always", that costs a write to the OS
//! per publish (per batch for a batch publish) before the placing. Letting
//! records gather while the readers were busy, for a reader that found its
//! rings empty to pull, was tried and lost: a reader that keeps up pulls
//! per message anyway, and the lock hand-overs add futex calls
//! (ARCHITECTURE.md has the figures).
//!
//! Exactly once: the replay position (`cursor`) moves past a message only
//! once its envelope is in a ring, under the lock; each ring delivers it
//! once to every group. Replay stops at the first message whose ring is
//! full, so on a spill lane a stalled partition holds back the backlog of
//! the others behind it (head-of-line, the price of one log per topic).
//!
//! Who replays: publishers (under the lock, before their own message),
//! and the `bus.backpressure` tick
//! ([`Bus::update_backpressure`](super::Bus::update_backpressure)), which
//! on a spill lane also commits the replay position to the log so a
//! restart resumes there. A partition lane's position is the lowest one
//! its groups committed ([`Subscriber::commit`](super::Subscriber::commit)).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_utils::CachePadded;

use super::durable::{DurableLog, DurableLogError};
use super::message::{Envelope, Scratch, OFFSET_MAX};
use super::outcome::BusError;
use super::topic::{bump, check_batch, wait_for_room, FullPolicy, Rings, Topic};

/// Records one replay pass places at most (bounds the work of one tick or
/// one publish).
pub const REPLAY_PASS_RECORDS_MAX: usize = 4_096;
/// Records appended and not yet placed that a partition lane keeps in
/// memory to place from; beyond it the oldest are read back from the log.
pub const PENDING_RECORDS_MAX: usize = 4_096;
/// Record buffers a lane keeps for reuse.
const SPARE_BUFFERS_MAX: usize = 64;
/// Name under which the bus commits its replay position in a spill log.
pub const REPLAY_CONSUMER: &str = "bus.replay";
/// Format version of a spill record's payload.
pub const SPILL_RECORD_VERSION: u8 = 1;
/// Bytes of a spill record's header.
pub const SPILL_HEADER_BYTES: usize = 24;
/// Bytes before each message's payload in a spill record.
pub const SPILL_MESSAGE_HEADER_BYTES: usize = 12;

/// One decoded spill record: one publish (one message, or a batch).
pub(crate) struct SpillRecord<'a> {
    pub(crate) flags: u8,
    pub(crate) partition: u32,
    pub(crate) key_hash: u64,
    pub(crate) count: u32,
    body: &'a [u8],
}

/// Encodes a publish of `n` messages; `fill(i, envelope)` writes the i-th.
fn encode(
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
    (partition, key_hash, flags): (u32, u64, u8),
    n: usize,
    fill: &dyn Fn(usize, &mut Envelope<'_>),
) {
    out.clear();
    out.push(SPILL_RECORD_VERSION);
    out.push(flags);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&partition.to_le_bytes());
    out.extend_from_slice(&key_hash.to_le_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    debug_assert_eq!(out.len(), SPILL_HEADER_BYTES);
    for i in 0..n {
        let mut e = scratch.envelope();
        fill(i, &mut e);
        let message = e.delivered();
        out.extend_from_slice(&message.word().to_le_bytes());
        out.extend_from_slice(&(message.bytes().len() as u32).to_le_bytes());
        out.extend_from_slice(message.bytes());
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl<'a> SpillRecord<'a> {
    /// Decodes and checks a record (its lengths must add up exactly).
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<SpillRecord<'a>, String> {
        if bytes.len() < SPILL_HEADER_BYTES {
            return Err(format!(
                "{} bytes, shorter than the {SPILL_HEADER_BYTES}-byte header",
                bytes.len()
            ));
        }
        if bytes[0] != SPILL_RECORD_VERSION {
            return Err(format!(
                "version {}, this build reads {SPILL_RECORD_VERSION}",
                bytes[0]
            ));
        }
        let record = SpillRecord {
            flags: bytes[1],
            partition: u32_at(bytes, 4),
            key_hash: u64_at(bytes, 8),
            count: u32_at(bytes, 16),
            body: &bytes[SPILL_HEADER_BYTES..],
        };
        if record.count == 0 {
            return Err("a record of zero messages".into());
        }
        let (mut at, mut seen) = (0usize, 0u32);
        while at < record.body.len() {
            if record.body.len() - at < SPILL_MESSAGE_HEADER_BYTES {
                return Err(format!("message {seen} header runs past the end"));
            }
            let len = u32_at(record.body, at + 8) as usize;
            at += SPILL_MESSAGE_HEADER_BYTES;
            if record.body.len() - at < len {
                return Err(format!("message {seen} of {len} bytes runs past the end"));
            }
            at += len;
            seen += 1;
        }
        if seen != record.count {
            return Err(format!("{seen} messages, header says {}", record.count));
        }
        Ok(record)
    }

    /// (word, bytes) of each message, in order (checked by `decode`).
    pub(crate) fn messages(&self) -> impl Iterator<Item = (u64, &'a [u8])> {
        let body = self.body;
        let mut at = 0usize;
        std::iter::from_fn(move || {
            if at >= body.len() {
                return None;
            }
            let word = u64_at(body, at);
            let len = u32_at(body, at + 8) as usize;
            let start = at + SPILL_MESSAGE_HEADER_BYTES;
            at = start + len;
            Some((word, &body[start..at]))
        })
    }

    /// The partition in a generation of `partitions`: a keyed message
    /// hashes as a direct publish would; an unkeyed one keeps its partition
    /// when it still exists.
    fn route(&self, partitions: usize) -> usize {
        if self.flags & super::message::FLAG_KEYED != 0 {
            (self.key_hash % partitions as u64) as usize
        } else {
            self.partition as usize % partitions
        }
    }
}

/// Where the last replay pass stopped: the ring of `partition` in
/// generation `generation` was full while its slowest group had read to
/// `tail` (read before the failed try). Until that tail moves (or a resize
/// makes a new generation) there is no room, so passes skip reading the
/// log. The tail is stored after the poller releases its slots, so room
/// made after the failed try always shows as a moved tail.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Blocked {
    generation: u64,
    partition: usize,
    tail: i64,
}

/// Places the messages of `record` (log sequence `sequence`) from
/// `*partial` on into their ring (partition `fixed`, or the record's
/// route) through the lane's own attachment (`rings`, registered with the
/// topic like a publisher, so a resize waits for a pass in flight);
/// `Ok(placed)` once all are in (resetting `*partial`), `Err((placed,
/// where))` when the ring filled first (`*partial` counts what is in).
fn place(
    rings: &mut Rings,
    (sequence, record): (u64, &SpillRecord<'_>),
    fixed: Option<usize>,
    partial: &mut u32,
) -> Result<u64, (u64, Blocked)> {
    let p = fixed.unwrap_or_else(|| record.route(rings.producers.len()));
    let mut placed = 0;
    for (word, payload) in record.messages().skip(*partial as usize) {
        let tail = rings.generation.slowest_tail(p);
        let fill = |_: usize, e: &mut Envelope<'_>| {
            e.fill(record.key_hash, record.flags, word, payload);
            e.set_offset(sequence);
        };
        if rings.try_publish(p, 1, fill).is_err() {
            let blocked = Blocked {
                generation: rings.number,
                partition: p,
                tail,
            };
            return Err((placed, blocked));
        }
        *partial += 1;
        placed += 1;
    }
    *partial = 0;
    Ok(placed)
}

/// How a partition lane's publish went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LanePublish {
    /// In the ring (or in the log with the ring about to take it).
    Placed,
    /// In the log behind a full ring or a backlog (Spill policy).
    Spilled,
    /// Not appended: the ring was full or a backlog waits (Refuse policy).
    Refused,
}

/// What the lock guards: the replay position and the scratch buffers.
pub(crate) struct SpillState {
    /// Next log sequence to replay.
    cursor: u64,
    /// The log's end: the lane is its log's only appender, always under
    /// this lock, so it tracks the end itself instead of asking the log
    /// (a lock of the log's) on every publish.
    end: u64,
    /// Messages of the record at `cursor` already placed in a ring (a batch
    /// may be placed over several passes).
    partial: u32,
    /// Position last committed to the log.
    committed: u64,
    /// A spill lane's is attached while there is a backlog and dropped
    /// when it is empty, so an idle lane holds no generation alive. A
    /// partition lane's stays attached: it is its partition's only
    /// producer, and its head slot is the ring's head.
    replayer: Option<Rings>,
    /// Where the last pass stopped on a full ring.
    blocked: Option<Blocked>,
    /// A partition lane's newest records not yet placed, encoded as in
    /// the log: those from `end - pending.len()` to `end`.
    pending: VecDeque<Vec<u8>>,
    /// Buffers of placed records, for reuse.
    spare: Vec<Vec<u8>>,
    record: Vec<u8>,
    scratch: Scratch,
}

impl SpillState {
    /// Drops the `n` oldest pending records (placed, or from now on read
    /// back from the log), keeping their buffers for reuse.
    fn retire_pending(&mut self, n: usize) {
        for buffer in self.pending.drain(..n) {
            if self.spare.len() < SPARE_BUFFERS_MAX {
                self.spare.push(buffer);
            }
        }
    }
}

/// A log lane: the topic's spill log, or one partition's log, with its
/// replay state.
pub(crate) struct LogLane {
    pub(crate) log: Arc<dyn DurableLog>,
    /// The partition a partition lane feeds (`None`: a spill lane, whose
    /// records name their partition).
    partition: Option<usize>,
    /// Partition lanes: per group, the position it had committed when the
    /// lane opened. Replayed messages below it are not delivered to that
    /// group again.
    pub(crate) starts: Box<[u64]>,
    /// Partition lanes: per group, the position last committed (commits
    /// never move it back).
    group_committed: Mutex<Vec<u64>>,
    /// Records spilled and not yet fully replayed. Stored only under
    /// `state`'s lock.
    backlog: CachePadded<AtomicU64>,
    /// Messages spilled / replayed (written under the lock; statistics).
    spilled: AtomicU64,
    replayed: AtomicU64,
    /// Tick replays or commits that failed (a statistic).
    failures: AtomicU64,
    state: Mutex<SpillState>,
}

pub(super) fn log_error(topic: &str, source: DurableLogError) -> BusError {
    BusError::DurableLog {
        topic: topic.to_owned(),
        source,
    }
}

/// Refuses `n` appends from log sequence `first` on if the last would pass
/// [`OFFSET_MAX`], the largest sequence an envelope carries.
fn check_sequences(topic: &str, partition: usize, first: u64, n: usize) -> Result<(), BusError> {
    match first.checked_add((n as u64).saturating_sub(1)) {
        Some(last) if last <= OFFSET_MAX => Ok(()),
        _ => Err(BusError::LogSequencesExhausted {
            topic: topic.to_owned(),
            partition,
            max: OFFSET_MAX,
        }),
    }
}

impl LogLane {
    /// A spill lane over `log`, resuming at the replay position committed
    /// in it (a restart replays what was spilled and not yet replayed).
    pub(crate) fn spill(log: Arc<dyn DurableLog>) -> LogLane {
        let cursor = log.committed(REPLAY_CONSUMER).unwrap_or(0).max(log.start());
        LogLane::new(log, None, cursor, Box::default())
    }

    /// The lane of partition `partition` of a durable topic with subscriber
    /// `groups`. A group that never committed is registered at the log's
    /// start (so retention keeps what it has not read); the lane replays
    /// from the lowest group's position.
    pub(crate) fn partition(
        log: Arc<dyn DurableLog>,
        partition: usize,
        groups: &[String],
    ) -> Result<LogLane, DurableLogError> {
        let mut starts = Vec::with_capacity(groups.len());
        for g in groups {
            let start = match log.committed(g) {
                // A position past the end (the log lost its tail to damage
                // the commit could not foresee) would skip new messages:
                // resume at the end instead, and say so.
                Some(at) if at > log.end() => {
                    tracing::warn!(
                        partition,
                        group = %g,
                        committed = at,
                        end = log.end(),
                        "bus: committed position past the partition log's end; resuming at the end"
                    );
                    log.end()
                }
                Some(at) => at.max(log.start()),
                None => {
                    log.commit(g, log.start())?;
                    log.start()
                }
            };
            starts.push(start);
        }
        let cursor = starts.iter().copied().min().unwrap_or(log.start());
        Ok(LogLane::new(
            log,
            Some(partition),
            cursor,
            starts.into_boxed_slice(),
        ))
    }

    fn new(
        log: Arc<dyn DurableLog>,
        partition: Option<usize>,
        cursor: u64,
        starts: Box<[u64]>,
    ) -> LogLane {
        let end = log.end();
        LogLane {
            group_committed: Mutex::new(starts.to_vec()),
            starts,
            partition,
            log,
            backlog: CachePadded::new(AtomicU64::new(end.saturating_sub(cursor))),
            spilled: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            state: Mutex::new(SpillState {
                cursor,
                end,
                partial: 0,
                committed: cursor,
                replayer: None,
                blocked: None,
                pending: VecDeque::new(),
                spare: Vec::new(),
                record: Vec::new(),
                scratch: Scratch::default(),
            }),
        }
    }

    /// True while records wait to be replayed: publishes must go through
    /// the lock. Acquire: pairs with the Release store in `set_backlog`,
    /// so a publisher that sees it empty also sees the replayed envelopes'
    /// claims, and its own claim comes after them.
    #[inline]
    pub(crate) fn backlogged(&self) -> bool {
        self.backlog.load(Ordering::Acquire) != 0
    }

    /// Records waiting (a statistic).
    pub(crate) fn backlog(&self) -> u64 {
        // Relaxed: a statistic; see `backlogged` for the ordered read.
        self.backlog.load(Ordering::Relaxed)
    }

    /// (spilled, replayed) message counts and failed tick steps.
    pub(crate) fn counts(&self) -> (u64, u64, u64) {
        // Relaxed: statistics (the first two written under the lock).
        (
            self.spilled.load(Ordering::Relaxed),
            self.replayed.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }

    /// Publishes the backlog: records from the replay position to the
    /// log's end.
    fn set_backlog(&self, st: &SpillState) {
        let backlog = st.end.saturating_sub(st.cursor);
        // Release: pairs with the Acquire in `backlogged`; stored under the
        // lock, after the replayed envelopes' claims and head stores.
        self.backlog.store(backlog, Ordering::Release);
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, SpillState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one publish of `n` messages behind the backlog. The caller
    /// holds the lock (`st`).
    pub(crate) fn append(
        &self,
        topic: &str,
        st: &mut SpillState,
        route: (u32, u64, u8),
        n: usize,
        fill: &dyn Fn(usize, &mut Envelope<'_>),
    ) -> Result<(), BusError> {
        let SpillState {
            record, scratch, ..
        } = st;
        encode(record, scratch, route, n, fill);
        debug_assert!(SpillRecord::decode(record).is_ok());
        let sequence = self.log.append(record).map_err(|e| log_error(topic, e))?;
        bump(&self.spilled, n as u64);
        st.end = sequence + 1;
        self.set_backlog(st);
        Ok(())
    }

    /// Places up to `max` records of the backlog into the rings, in log
    /// order, stopping at the first message whose ring is full (and, on a
    /// partition lane, at the first record not yet visible); returns how
    /// many messages it placed. The caller holds the lock (`st`).
    pub(crate) fn replay(
        &self,
        topic: &Topic,
        st: &mut SpillState,
        max: usize,
    ) -> Result<u64, BusError> {
        let end = st.end;
        if st.cursor >= end {
            if self.partition.is_none() {
                st.replayer = None;
            }
            st.blocked = None;
            return Ok(0);
        }
        let limit = match self.partition {
            Some(_) => end.min(
                self.log
                    .visible_end()
                    .map_err(|e| log_error(&topic.name, e))?,
            ),
            None => end,
        };
        if st.cursor >= limit || self.still_blocked(topic, st) {
            return Ok(0);
        }
        if st.replayer.is_none() {
            st.replayer = Some(Rings::attach(topic)?);
        }
        let SpillState {
            cursor,
            partial,
            replayer,
            pending,
            ..
        } = st;
        let r = replayer.as_mut().expect("attached above");
        r.enter(topic)?;
        let kept_from = end - pending.len() as u64;
        let (mut placed, mut bad, mut stop) = (0u64, None, None);
        let mut place_one = |sequence: u64, bytes: &[u8]| {
            let record = match SpillRecord::decode(bytes) {
                Ok(record) => record,
                Err(reason) => {
                    bad = Some((sequence, reason));
                    return false;
                }
            };
            match place(r, (sequence, &record), self.partition, partial) {
                Ok(n) => {
                    placed += n;
                    true
                }
                Err((n, blocked)) => {
                    placed += n;
                    stop = Some(blocked);
                    false
                }
            }
        };
        let first = *cursor;
        // Records no longer kept in memory: read back from the log.
        let from_log = kept_from.min(limit);
        let read = if *cursor < from_log {
            let want = max.min((from_log - *cursor) as usize);
            self.log
                .read(*cursor, want, &mut place_one)
                .map(|next| *cursor = next)
        } else {
            Ok(())
        };
        // Then from memory, while nothing stopped the pass.
        while read.is_ok()
            && (kept_from..limit).contains(&*cursor)
            && ((*cursor - first) as usize) < max
        {
            if !place_one(*cursor, &pending[(*cursor - kept_from) as usize]) {
                break;
            }
            *cursor += 1;
        }
        // After the head stores, like a publisher's exit.
        r.slots.active.exit();
        let placed_pending = cursor.saturating_sub(kept_from) as usize;
        st.retire_pending(placed_pending);
        read.map_err(|e| log_error(&topic.name, e))?;
        st.blocked = stop;
        bump(&self.replayed, placed);
        self.set_backlog(st);
        if st.cursor >= end && self.partition.is_none() {
            st.replayer = None;
        }
        if placed > 0 {
            topic.notifier.notify();
        }
        match bad {
            Some((sequence, reason)) => Err(BusError::SpillCorrupt {
                topic: topic.name.clone(),
                sequence,
                reason,
            }),
            None => Ok(placed),
        }
    }

    /// Whether ring `p` has room for `n` more messages now beside the
    /// records appended ahead of them and not yet placed (a partition lane:
    /// its attachment is the ring's only producer, so its head slot is the
    /// ring's head and room only grows until it publishes). Attaches the
    /// lane and moves it to the current generation. Refuses a batch larger
    /// than the ring, backlog or not.
    fn room(
        &self,
        topic: &Topic,
        st: &mut SpillState,
        p: usize,
        n: usize,
    ) -> Result<bool, BusError> {
        if st.replayer.is_none() {
            st.replayer = Some(Rings::attach(topic)?);
        }
        let r = st.replayer.as_mut().expect("attached above");
        r.enter(topic)?;
        let size = r.generation.ring_size;
        // Relaxed: this lane is the head slot's only writer.
        let used = r.heads.head[p].load(Ordering::Relaxed) - r.generation.slowest_tail(p);
        r.slots.active.exit();
        check_batch(n, size)?;
        let unplaced = (st.end - st.cursor) as i64;
        Ok(size as i64 - used - unplaced >= n as i64)
    }

    /// Publishes `n` messages through a partition lane: under the lane's
    /// lock, replays the backlog, then per `policy` waits for room (Wait),
    /// refuses without appending (Refuse), or goes on (Spill); appends one
    /// log record per message and places what is visible. Then, when the
    /// log's sync policy wants it, waits for the sync outside the lock (so
    /// concurrent publishers share it) and places what it made visible.
    /// Messages the ring has no room for yet stay in the log for replay.
    ///
    /// If an append fails part-way through a batch, the messages appended
    /// before it stay in the log and are delivered; the error says the
    /// publish failed.
    pub(crate) fn publish(
        &self,
        topic: &Topic,
        (key_hash, flags): (u64, u8),
        n: usize,
        policy: FullPolicy,
        fill: &dyn Fn(usize, &mut Envelope<'_>),
    ) -> Result<LanePublish, BusError> {
        let p = self.partition.expect("publish is a partition lane's");
        let (end, wait) = {
            let mut st = self.lock();
            let mut attempts = 0u32;
            loop {
                self.replay(topic, &mut st, REPLAY_PASS_RECORDS_MAX)?;
                if self.room(topic, &mut st, p, n)? || policy == FullPolicy::Spill {
                    break;
                }
                if policy == FullPolicy::Refuse {
                    return Ok(LanePublish::Refused);
                }
                attempts += 1;
                wait_for_room(topic, attempts);
            }
            let first = st.end;
            check_sequences(&topic.name, p, first, n)?;
            let mut wait = false;
            for i in 0..n {
                let st = &mut *st;
                let mut record = st.spare.pop().unwrap_or_default();
                encode(
                    &mut record,
                    &mut st.scratch,
                    (p as u32, key_hash, flags),
                    1,
                    &|_, e| fill(i, e),
                );
                match self.log.append_deferred(&record) {
                    Ok(appended) => {
                        wait |= appended.wait;
                        st.end = appended.sequence + 1;
                        st.pending.push_back(record);
                    }
                    Err(e) => {
                        // What was appended before it is backlog now.
                        self.set_backlog(st);
                        return Err(log_error(&topic.name, e));
                    }
                }
            }
            debug_assert_eq!(st.end, first + n as u64);
            // Beyond the cap, the oldest are read back from the log.
            let over = st.pending.len().saturating_sub(PENDING_RECORDS_MAX);
            st.retire_pending(over);
            self.replay(topic, &mut st, REPLAY_PASS_RECORDS_MAX)?;
            self.set_backlog(&st);
            if st.cursor >= st.end && !wait {
                return Ok(LanePublish::Placed);
            }
            (st.end, wait)
        };
        if wait {
            self.log
                .wait(end - 1)
                .map_err(|e| log_error(&topic.name, e))?;
        }
        let mut st = self.lock();
        let mut attempts = 0u32;
        loop {
            if st.cursor < end {
                self.replay(topic, &mut st, REPLAY_PASS_RECORDS_MAX)?;
            }
            if st.cursor >= end {
                return Ok(LanePublish::Placed);
            }
            match policy {
                FullPolicy::Spill => {
                    bump(&self.spilled, n as u64);
                    return Ok(LanePublish::Spilled);
                }
                // Room was read, so this is a stale read of a reader's
                // tail: it is in the log and the next replay places it.
                FullPolicy::Refuse => return Ok(LanePublish::Placed),
                FullPolicy::Wait => {
                    attempts += 1;
                    wait_for_room(topic, attempts);
                }
            }
        }
    }

    /// Durably records that group `group` (named `name`) has handled every
    /// message of this partition below `next`; a position at or below the
    /// last one committed is ignored (a member that read the partition
    /// before a rebalance never moves it back). True if it moved.
    pub(crate) fn commit_group(
        &self,
        group: usize,
        name: &str,
        next: u64,
    ) -> Result<bool, DurableLogError> {
        let mut committed = self
            .group_committed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if next <= committed[group] {
            return Ok(false);
        }
        self.log.commit(name, next)?;
        committed[group] = next;
        Ok(true)
    }

    /// True if the last pass stopped on a full ring that has not had room
    /// made since (nothing to gain from reading the log again).
    fn still_blocked(&self, topic: &Topic, st: &SpillState) -> bool {
        let (Some(b), Some(r)) = (&st.blocked, &st.replayer) else {
            return false;
        };
        r.number == b.generation
            && topic.gate.current() == b.generation
            && r.generation.slowest_tail(b.partition) == b.tail
    }

    /// The tick's step: replays what fits (skipped if a publisher holds the
    /// lock: it replays itself), then commits the replay position so a
    /// restart resumes there (the log may then drop what was replayed).
    pub(crate) fn tick(&self, topic: &Topic) -> Result<(), BusError> {
        let result = self.tick_inner(topic);
        if result.is_err() {
            // Relaxed: a statistic; the tick is its only writer.
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn tick_inner(&self, topic: &Topic) -> Result<(), BusError> {
        let cursor = {
            let Ok(mut st) = self.state.try_lock() else {
                return Ok(());
            };
            self.replay(topic, &mut st, REPLAY_PASS_RECORDS_MAX)?;
            // A partition lane's position is its groups' to commit.
            if self.partition.is_some() || st.cursor == st.committed {
                return Ok(());
            }
            st.committed = st.cursor;
            st.cursor
        };
        // Outside the lock: a commit syncs, publishers need not wait on it.
        self.log
            .commit(REPLAY_CONSUMER, cursor)
            .map_err(|e| log_error(&topic.name, e))
    }

    /// Commits a spill lane's replay position (on drop of the topic).
    fn commit_now(&self) -> Result<(), DurableLogError> {
        let cursor = {
            let st = self.lock();
            if self.partition.is_some() || st.cursor == st.committed {
                return Ok(());
            }
            st.cursor
        };
        self.log.commit(REPLAY_CONSUMER, cursor)?;
        self.log.flush()
    }
}

impl Drop for LogLane {
    fn drop(&mut self) {
        if let Err(e) = self.commit_now() {
            tracing::error!(error = %e, "bus: committing the spill replay position on close failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_record_round_trips_and_bad_lengths_are_refused() {
        let (mut out, mut scratch) = (Vec::new(), Scratch::default());
        let payloads: [&[u8]; 3] = [b"a", b"", b"xyz"];
        let fill = |i: usize, e: &mut Envelope<'_>| e.fill(9, 2, i as u64 * 10, payloads[i]);
        encode(&mut out, &mut scratch, (3, 9, 2), 3, &fill);
        let r = SpillRecord::decode(&out).unwrap();
        assert_eq!((r.flags, r.partition, r.key_hash, r.count), (2, 3, 9, 3));
        let got: Vec<(u64, Vec<u8>)> = r.messages().map(|(w, b)| (w, b.to_vec())).collect();
        assert_eq!(
            got,
            vec![(0, b"a".to_vec()), (10, vec![]), (20, b"xyz".to_vec())]
        );
        assert!(SpillRecord::decode(&out[..out.len() - 1]).is_err());
        let mut wrong_count = out.clone();
        wrong_count[16] = 4;
        assert!(SpillRecord::decode(&wrong_count).is_err());
        let mut wrong_version = out;
        wrong_version[0] = 2;
        assert!(SpillRecord::decode(&wrong_version).is_err());
    }

    #[test]
    fn appends_past_the_largest_carried_sequence_are_refused_by_name() {
        assert!(check_sequences("t", 0, OFFSET_MAX - 3, 4).is_ok());
        let err = check_sequences("t", 2, OFFSET_MAX - 3, 5).unwrap_err();
        assert!(matches!(
            err,
            BusError::LogSequencesExhausted { ref topic, partition: 2, max: OFFSET_MAX } if topic == "t"
        ));
        assert!(check_sequences("t", 0, u64::MAX, 2).is_err());
    }
}
