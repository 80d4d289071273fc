//! The bus: topics by name, the limits in force, bus-wide backpressure.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::durable::{DurableLogs, LogStream};
use super::lane::{log_error, LogLane};
use super::outcome::BusError;
use super::publisher::Publisher;
use super::quiesce::{SLOW_BUS_PRESSURE, SLOW_TOPIC_PRESSURE};
use super::subscriber::{Subscriber, WaitStrategy};
use super::topic::{FullPolicy, Rings, Topic, TopicConfig};
use crate::config::BusConfig;
use crate::metrics::MetricsSnapshot;
use crate::scalable::{
    BackpressureCell, BackpressureState, BackpressureStrategy, BackpressureThresholds, EventSink,
    LimitBounds, Limits, LimitsError, Scalable,
};
use crate::schedule::System;

/// Most partitions one topic may have.
pub const MAX_PARTITIONS: usize = 4_096;

/// State shared by the bus and its handles (read on the hot path).
pub(crate) struct BusShared {
    pub(crate) state: BackpressureCell,
    pub(crate) delay_ns: AtomicU64,
    pub(crate) max_payload_bytes: AtomicU64,
    pub(crate) max_topics: AtomicU64,
    pub(crate) max_subscribers_per_topic: AtomicU64,
    pub(crate) max_queue_size: AtomicU64,
    /// Per-mille fill thresholds (Warning, Critical, Shedding).
    pub(crate) thresholds_permille: [AtomicU64; 3],
    pub(crate) delay_min_ms: AtomicU64,
    pub(crate) delay_max_ms: AtomicU64,
}

/// The message bus (SPEC §3.1). Cheap to share: wrap it in an `Arc`.
pub struct Bus {
    shared: Arc<BusShared>,
    topics: RwLock<Vec<Arc<Topic>>>,
    ring_size: usize,
    default_partitions: usize,
    events: Arc<dyn EventSink>,
    /// Serialises limit changes (the registry serialises too; direct
    /// callers may not go through it).
    reconfiguring: Mutex<()>,
    /// Serialises backpressure updates, and so the writes of the topics'
    /// pressure bits (`Gate::set_slow` relies on it).
    pressure: Mutex<()>,
    /// Where spill and durable topics get their logs (`None`: both are
    /// refused).
    durable_logs: Option<Arc<dyn DurableLogs>>,
}

fn check_shape(topic: &str, partitions: usize, ring_size: usize) -> Result<(), BusError> {
    if partitions == 0 {
        return Err(BusError::ZeroPartitions(topic.to_owned()));
    }
    if partitions > MAX_PARTITIONS {
        return Err(BusError::TooManyPartitions {
            topic: topic.to_owned(),
            partitions,
            max: MAX_PARTITIONS,
        });
    }
    if !ring_size.is_power_of_two() || !(64..=1 << 24).contains(&ring_size) {
        return Err(BusError::BadRingSize {
            topic: topic.to_owned(),
            size: ring_size,
        });
    }
    Ok(())
}

/// Limit names for one topic's shape.
fn shape_keys(topic: &str) -> (String, String) {
    (
        format!("topic.{topic}.partitions"),
        format!("topic.{topic}.ring_size"),
    )
}

fn limit_names() -> [&'static str; 9] {
    [
        "max_topics",
        "max_subscribers_per_topic",
        "max_queue_size",
        "max_payload_bytes",
        "warning_fill_permille",
        "critical_fill_permille",
        "shedding_fill_permille",
        "critical_delay_min_ms",
        "critical_delay_max_ms",
    ]
}

impl Bus {
    /// A bus with the given (validated) config; state changes go to `events`.
    pub fn new(config: &BusConfig, events: Arc<dyn EventSink>) -> Bus {
        crate::barrier::init();
        let permille = |f: f64| AtomicU64::new((f * 1_000.0).round() as u64);
        Bus {
            shared: Arc::new(BusShared {
                state: BackpressureCell::new(),
                delay_ns: AtomicU64::new(config.critical_delay_min_ms * 1_000_000),
                max_payload_bytes: AtomicU64::new(config.max_payload_bytes as u64),
                max_topics: AtomicU64::new(config.max_topics as u64),
                max_subscribers_per_topic: AtomicU64::new(config.max_subscribers_per_topic as u64),
                max_queue_size: AtomicU64::new(config.max_queue_size as u64),
                thresholds_permille: [
                    permille(config.warning_fill),
                    permille(config.critical_fill),
                    permille(config.shedding_fill),
                ],
                delay_min_ms: AtomicU64::new(config.critical_delay_min_ms),
                delay_max_ms: AtomicU64::new(config.critical_delay_max_ms),
            }),
            topics: RwLock::new(Vec::new()),
            ring_size: config.ring_size,
            default_partitions: config.default_partitions,
            events,
            reconfiguring: Mutex::new(()),
            pressure: Mutex::new(()),
            durable_logs: None,
        }
    }

    /// Attaches durable storage: topics with `FullPolicy::Spill` open their
    /// spill log through `logs` when created (storage implements it over
    /// the WAL; the bus knows no files).
    pub fn with_durable_logs(mut self, logs: Arc<dyn DurableLogs>) -> Bus {
        self.durable_logs = Some(logs);
        self
    }

    fn load(a: &AtomicU64) -> u64 {
        // Relaxed: limits are independent values; a call racing a change
        // sees the old or the new one.
        a.load(Ordering::Relaxed)
    }

    /// Creates a topic.
    ///
    /// A durable topic created again over existing logs keeps at least as
    /// many partitions as it has logs (`partitions: None` takes that many;
    /// fewer is refused).
    pub fn create_topic(&self, name: &str, config: TopicConfig) -> Result<(), BusError> {
        let partitions = config.partitions.unwrap_or(match self.default_partitions {
            0 => config.expected_subscribers.max(1),
            n => n,
        });
        if config.groups.is_empty() {
            return Err(BusError::NoGroups(name.to_owned()));
        }
        if config.durable && config.single_writer {
            return Err(BusError::DurableNeedsMultiWriter(name.to_owned()));
        }
        if config.full_policy == FullPolicy::Spill && config.single_writer {
            return Err(BusError::SpillNeedsMultiWriter(name.to_owned()));
        }
        let ring_size = match (config.ring_size, config.hot) {
            (Some(size), _) => size,
            (None, true) => self.ring_size,
            (None, false) => (Self::load(&self.shared.max_queue_size) as usize)
                .next_power_of_two()
                .max(64),
        };
        let partitions = match config.durable {
            true => self.durable_partitions(name, config.partitions, partitions)?,
            false => partitions,
        };
        check_shape(name, partitions, ring_size)?;
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if topics.iter().any(|t| t.name == name) {
            return Err(BusError::TopicExists(name.to_owned()));
        }
        let max = Self::load(&self.shared.max_topics);
        if topics.len() as u64 >= max {
            return Err(BusError::TooManyTopics {
                topic: name.to_owned(),
                max,
            });
        }
        // Opened under the topics lock, so two creators of one name never
        // open its logs twice.
        let lanes = match config.durable {
            true => Some(self.open_lanes(name, &config.groups, 0..partitions)?),
            false => None,
        };
        let spill = self.open_spill(name, &config)?;
        let topic = Topic::new(name, config, partitions, ring_size, (spill, lanes));
        // Under the topics lock, which `update_backpressure` holds while it
        // changes the bus state and mirrors it into every topic's gate.
        topic.gate.set_slow(
            SLOW_BUS_PRESSURE,
            self.shared.state.load() != BackpressureState::Normal,
        );
        topics.push(Arc::new(topic));
        Ok(())
    }

    fn open_spill(&self, name: &str, config: &TopicConfig) -> Result<Option<LogLane>, BusError> {
        // A durable topic spills into its partition logs.
        if config.full_policy != FullPolicy::Spill || config.durable {
            return Ok(None);
        }
        let logs = self
            .durable_logs
            .as_ref()
            .ok_or_else(|| BusError::SpillUnavailable(name.to_owned()))?;
        let log = logs
            .open(name, LogStream::Spill)
            .map_err(|source| log_error(name, source))?;
        Ok(Some(LogLane::spill(log)))
    }

    fn durable_logs(&self, name: &str) -> Result<&Arc<dyn DurableLogs>, BusError> {
        self.durable_logs
            .as_ref()
            .ok_or_else(|| BusError::DurableUnavailable(name.to_owned()))
    }

    /// A durable topic's partition count: at least as many as it has logs
    /// (`requested` fewer is refused; `None` adopts them over `default`).
    fn durable_partitions(
        &self,
        name: &str,
        requested: Option<usize>,
        default: usize,
    ) -> Result<usize, BusError> {
        let existing = self
            .durable_logs(name)?
            .partitions(name)
            .map_err(|source| log_error(name, source))?;
        match requested {
            Some(requested) if requested < existing => Err(BusError::DurableShrink {
                topic: name.to_owned(),
                existing,
                requested,
            }),
            _ => Ok(default.max(existing)),
        }
    }

    /// Opens the lanes of partitions `range` of durable topic `name`.
    fn open_lanes(
        &self,
        name: &str,
        groups: &[String],
        range: std::ops::Range<usize>,
    ) -> Result<Vec<Arc<LogLane>>, BusError> {
        let logs = self.durable_logs(name)?;
        range
            .map(|p| {
                let log = logs.open(name, LogStream::Partition(p as u32))?;
                Ok(Arc::new(LogLane::partition(log, p, groups)?))
            })
            .collect::<Result<_, _>>()
            .map_err(|source| log_error(name, source))
    }

    fn topic(&self, name: &str) -> Result<Arc<Topic>, BusError> {
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        topics
            .iter()
            .find(|t| t.name == name)
            .cloned()
            .ok_or_else(|| BusError::UnknownTopic(name.to_owned()))
    }

    /// A publishing handle for one thread.
    pub fn publisher(&self, topic: &str) -> Result<Publisher, BusError> {
        let topic = self.topic(topic)?;
        let rings = Rings::attach(&topic)?;
        Ok(Publisher {
            bus: Arc::clone(&self.shared),
            ring_size: rings.generation.ring_size,
            rings,
            topic,
            next_partition: 0,
        })
    }

    /// Changes a live topic's partition count and ring size. Publishers
    /// move to the new rings at their next publish; subscribers finish the
    /// old rings first, so nothing is lost, repeated or reordered per key.
    pub fn resize_topic(
        &self,
        name: &str,
        partitions: usize,
        ring_size: usize,
    ) -> Result<(), BusError> {
        check_shape(name, partitions, ring_size)?;
        let topic = self.topic(name)?;
        if let Some(lanes) = &topic.lanes {
            // Under the lanes' write lock, so two resizes never open a log
            // twice (only this topic's publishers wait for it).
            let mut lanes = lanes.write().unwrap_or_else(|p| p.into_inner());
            let existing = lanes.len();
            if partitions < existing {
                return Err(BusError::DurableShrink {
                    topic: name.to_owned(),
                    existing,
                    requested: partitions,
                });
            }
            lanes.extend(self.open_lanes(name, &topic.config.groups, existing..partitions)?);
        }
        let current = topic.current_generation();
        if current.partitions != partitions || current.ring_size != ring_size {
            topic.resize(partitions, ring_size);
        }
        Ok(())
    }

    /// Joins `group` of `topic`; partitions are rebalanced over the group's
    /// members.
    pub fn subscribe(&self, topic: &str, group: &str) -> Result<Subscriber, BusError> {
        let topic = self.topic(topic)?;
        let g = topic
            .groups
            .iter()
            .position(|g| g.name == group)
            .ok_or_else(|| BusError::UnknownGroup {
                topic: topic.name.clone(),
                group: group.to_owned(),
            })?;
        let max = Self::load(&self.shared.max_subscribers_per_topic);
        // Relaxed: a count checked and bumped under the group's lock below.
        let member = {
            let mut members = topic.groups[g]
                .members
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if topic.subscribers.load(Ordering::Relaxed) >= max {
                return Err(BusError::TooManySubscribers {
                    topic: topic.name.clone(),
                    max,
                });
            }
            topic.subscribers.fetch_add(1, Ordering::Relaxed);
            let member = topic.next_member.fetch_add(1, Ordering::Relaxed);
            members.push(member);
            // Release: pairs with the Acquire in `refresh_assignment`.
            topic.groups[g].version.fetch_add(1, Ordering::Release);
            member
        };
        Ok(Subscriber {
            bus: Arc::clone(&self.shared),
            topic,
            group: g,
            member,
            generation: None,
            assigned: Vec::new(),
            seen_version: u64::MAX,
            next: 0,
            wait: WaitStrategy::Park,
            gather: false,
            batch: u64::MAX,
            positions: Default::default(),
        })
    }

    /// Names of the topics.
    pub fn topics(&self) -> Vec<String> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|t| t.name.clone())
            .collect()
    }

    /// The bus-wide backpressure state (one relaxed load).
    pub fn state(&self) -> BackpressureState {
        self.shared.state.load()
    }

    fn thresholds(&self) -> BackpressureThresholds {
        let t = &self.shared.thresholds_permille;
        let f = |a: &AtomicU64| Self::load(a) as f64 / 1_000.0;
        BackpressureThresholds {
            warning: f(&t[0]),
            critical: f(&t[1]),
            shedding: f(&t[2]),
        }
    }

    /// The backpressure step, run on the tick: replays spilled messages
    /// into rings with room (committing the replay position), reads every
    /// ring's fill (published minus slowest group), sets each topic's state
    /// from its fullest partition and the bus's from the aggregate fill,
    /// and the Critical delay from how far past Critical the aggregate is.
    /// A spill log failure is logged and counted, and retried next tick
    /// (publishers see it as a typed error).
    pub fn update_backpressure(&self, now_ns: u64) {
        // One update at a time, so each gate's pressure bits end as the
        // last states set (see `Topic::gate`).
        let _one = self.pressure.lock().unwrap_or_else(|p| p.into_inner());
        let thresholds = self.thresholds();
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        let (mut used, mut capacity) = (0u64, 0u64);
        for topic in topics.iter() {
            topic.maintain();
            let lanes = topic.lanes();
            for lane in topic.spill.iter().chain(lanes.iter().map(|l| &**l)) {
                if let Err(e) = lane.tick(topic) {
                    tracing::error!(topic = %topic.name, error = %e, "bus: log replay failed");
                }
            }
            let mut fullest = 0.0f64;
            for generation in topic.generations() {
                let depths = generation.depths(&generation.heads());
                let deepest = depths.iter().copied().max().unwrap_or(0);
                fullest = fullest.max(deepest as f64 / generation.ring_size as f64);
                used += depths.iter().sum::<u64>();
                capacity += (generation.ring_size * generation.partitions) as u64;
            }
            let state = thresholds.state_for(fullest);
            topic
                .state
                .transition(state, &topic.name, now_ns, &*self.events);
            topic
                .gate
                .set_slow(SLOW_TOPIC_PRESSURE, state != BackpressureState::Normal);
        }
        let fill = if capacity == 0 {
            0.0
        } else {
            used as f64 / capacity as f64
        };
        let state = thresholds.state_for(fill);
        self.shared
            .state
            .transition(state, "bus", now_ns, &*self.events);
        for topic in topics.iter() {
            topic
                .gate
                .set_slow(SLOW_BUS_PRESSURE, state != BackpressureState::Normal);
        }
        let (lo, hi) = (
            Self::load(&self.shared.delay_min_ms),
            Self::load(&self.shared.delay_max_ms),
        );
        let span = (thresholds.shedding - thresholds.critical).max(f64::EPSILON);
        let past = ((fill - thresholds.critical) / span).clamp(0.0, 1.0);
        let delay_ms = lo as f64 + (hi - lo) as f64 * past;
        // Relaxed: a figure publishers report; no data hangs off it.
        self.shared
            .delay_ns
            .store((delay_ms * 1_000_000.0) as u64, Ordering::Relaxed);
    }

    /// The backpressure step as a tick system (it touches no table).
    pub fn backpressure_system(self: &Arc<Self>) -> System {
        let bus = Arc::clone(self);
        System::new("bus.backpressure", move |ctx| {
            bus.update_backpressure(ctx.now_ns());
            Ok(())
        })
    }
}

impl Scalable for Bus {
    fn name(&self) -> &str {
        "bus"
    }

    fn limits(&self) -> Limits {
        let s = &self.shared;
        let values = [
            &s.max_topics,
            &s.max_subscribers_per_topic,
            &s.max_queue_size,
            &s.max_payload_bytes,
            &s.thresholds_permille[0],
            &s.thresholds_permille[1],
            &s.thresholds_permille[2],
            &s.delay_min_ms,
            &s.delay_max_ms,
        ];
        let mut limits = Limits::new();
        for (name, value) in limit_names().into_iter().zip(values) {
            limits.set(name, Self::load(value));
        }
        limits.set(Limits::MAX_ENTRIES, Self::load(&s.max_topics));
        limits.set(Limits::MAX_QUEUE_DEPTH, Self::load(&s.max_queue_size));
        for topic in self.topics.read().unwrap_or_else(|p| p.into_inner()).iter() {
            let current = topic.current_generation();
            let (partitions, ring_size) = shape_keys(&topic.name);
            limits.set(&partitions, current.partitions as u64);
            limits.set(&ring_size, current.ring_size as u64);
        }
        limits
    }

    fn limit_bounds(&self) -> LimitBounds {
        let mut bounds = LimitBounds::new()
            .with("max_topics", 1..=65_536)
            .with(Limits::MAX_ENTRIES, 1..=65_536)
            .with("max_subscribers_per_topic", 1..=4_096)
            .with("max_queue_size", 1..=1 << 24)
            .with(Limits::MAX_QUEUE_DEPTH, 1..=1 << 24)
            .with("max_payload_bytes", 1..=64 << 20)
            .with("warning_fill_permille", 1..=1_000)
            .with("critical_fill_permille", 1..=1_000)
            .with("shedding_fill_permille", 1..=1_000)
            .with("critical_delay_min_ms", 10..=1_000)
            .with("critical_delay_max_ms", 10..=1_000);
        for topic in self.topics.read().unwrap_or_else(|p| p.into_inner()).iter() {
            let (partitions, ring_size) = shape_keys(&topic.name);
            bounds = bounds
                .with(&partitions, 1..=MAX_PARTITIONS as u64)
                .with(&ring_size, 64..=1 << 24);
        }
        bounds
    }

    fn apply_limits(&self, limits: &Limits) -> Result<(), LimitsError> {
        let _one = self.reconfiguring.lock().unwrap_or_else(|p| p.into_inner());
        let get = |k: &str| limits.get(k);
        let refuse = |reason: &str| LimitsError::Refused {
            subsystem: "bus".into(),
            reason: reason.into(),
        };
        let cur = self.limits();
        let pick = |k: &str| get(k).or(cur.get(k)).unwrap_or(0);
        let (w, c, s) = (
            pick("warning_fill_permille"),
            pick("critical_fill_permille"),
            pick("shedding_fill_permille"),
        );
        if !(w < c && c < s) {
            return Err(refuse(
                "fill thresholds must rise: warning < critical < shedding",
            ));
        }
        let (lo, hi) = (pick("critical_delay_min_ms"), pick("critical_delay_max_ms"));
        if lo > hi {
            return Err(refuse(
                "critical_delay_min_ms must not exceed critical_delay_max_ms",
            ));
        }
        // `max_entries` and `max_queue_depth` are the common names of
        // `max_topics` and `max_queue_size`; the specific name wins if both
        // changed.
        let topics = if get("max_topics") != cur.get("max_topics") {
            pick("max_topics")
        } else {
            pick(Limits::MAX_ENTRIES)
        };
        let queue = if get("max_queue_size") != cur.get("max_queue_size") {
            pick("max_queue_size")
        } else {
            pick(Limits::MAX_QUEUE_DEPTH)
        };
        // Topic shapes: check every one before changing anything.
        let topic_list = self
            .topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut resizes = Vec::new();
        for topic in &topic_list {
            let (pk, rk) = shape_keys(&topic.name);
            let current = topic.current_generation();
            let (partitions, ring_size) = (pick(&pk) as usize, pick(&rk) as usize);
            if (partitions, ring_size) != (current.partitions, current.ring_size) {
                check_shape(&topic.name, partitions, ring_size)
                    .map_err(|e| refuse(&e.to_string()))?;
                resizes.push((topic, partitions, ring_size));
            }
        }
        let s2 = &self.shared;
        // Relaxed (all): independent limits, each read on its own.
        s2.max_topics.store(topics, Ordering::Relaxed);
        s2.max_queue_size.store(queue, Ordering::Relaxed);
        s2.max_subscribers_per_topic
            .store(pick("max_subscribers_per_topic"), Ordering::Relaxed);
        s2.max_payload_bytes
            .store(pick("max_payload_bytes"), Ordering::Relaxed);
        s2.thresholds_permille[0].store(w, Ordering::Relaxed);
        s2.thresholds_permille[1].store(c, Ordering::Relaxed);
        s2.thresholds_permille[2].store(s, Ordering::Relaxed);
        s2.delay_min_ms.store(lo, Ordering::Relaxed);
        s2.delay_max_ms.store(hi, Ordering::Relaxed);
        for (topic, partitions, ring_size) in resizes {
            topic.resize(partitions, ring_size);
        }
        Ok(())
    }

    fn metrics(&self) -> MetricsSnapshot {
        let mut m = MetricsSnapshot::new("bus");
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        m.gauge("topics", "Topics.", &[], topics.len() as f64);
        for topic in topics.iter() {
            let totals = topic.publisher_totals();
            let t = [("topic", topic.name.as_str())];
            m.counter(
                "published_total",
                "Messages published.",
                &t,
                totals.published as f64,
            );
            m.counter(
                "refused_total",
                "Publishes refused (shedding or ring full).",
                &t,
                totals.refused as f64,
            );
            m.counter(
                "delayed_total",
                "Publishes answered with a Critical delay.",
                &t,
                totals.delayed as f64,
            );
            let lanes = topic.lanes();
            if topic.spill.is_some() || !lanes.is_empty() {
                let (mut spilled, mut replayed, mut failures, mut backlog) = (0, 0, 0, 0);
                for lane in topic.spill.iter().chain(lanes.iter().map(|l| &**l)) {
                    let (s, r, f) = lane.counts();
                    (spilled, replayed, failures) = (spilled + s, replayed + r, failures + f);
                    backlog += lane.backlog();
                }
                m.counter(
                    "spilled_total",
                    "Messages left in a durable log behind a full ring or a backlog.",
                    &t,
                    spilled as f64,
                );
                m.counter(
                    "replayed_total",
                    "Messages replayed from a durable log into the rings.",
                    &t,
                    replayed as f64,
                );
                m.counter(
                    "spill_failures_total",
                    "Tick replays or replay-position commits that failed.",
                    &t,
                    failures as f64,
                );
                m.gauge(
                    "spill_backlog_records",
                    "Log records waiting to be placed into the rings.",
                    &t,
                    backlog as f64,
                );
            }
            for (p, lane) in lanes.iter().enumerate() {
                let part = p.to_string();
                m.gauge(
                    "log_end_sequence",
                    "A durable topic's partition log: the sequence the next message gets.",
                    &[("topic", topic.name.as_str()), ("partition", part.as_str())],
                    lane.log.end() as f64,
                );
            }
            // Relaxed: a statistic.
            m.gauge(
                "subscribers",
                "Subscribers.",
                &t,
                topic.subscribers.load(Ordering::Relaxed) as f64,
            );
            m.gauge(
                "backpressure_state_topic",
                "Topic state: 0 Normal .. 3 Shedding.",
                &t,
                f64::from(topic.state.load() as u8),
            );
            for generation in topic.generations() {
                let heads = generation.heads();
                let gen = generation.number.to_string();
                for (p, depth) in generation.depths(&heads).iter().enumerate() {
                    let ps = p.to_string();
                    let l = [
                        ("topic", topic.name.as_str()),
                        ("generation", gen.as_str()),
                        ("partition", ps.as_str()),
                    ];
                    m.gauge(
                        "partition_depth",
                        "Published, not yet consumed by the slowest group.",
                        &l,
                        *depth as f64,
                    );
                    m.gauge(
                        "ring_head_sequence",
                        "Last sequence published.",
                        &l,
                        heads[p] as f64,
                    );
                    for (g, rings) in topic.groups.iter().zip(generation.groups.iter()) {
                        let lg = [
                            ("topic", topic.name.as_str()),
                            ("generation", gen.as_str()),
                            ("partition", ps.as_str()),
                            ("group", g.name.as_str()),
                        ];
                        // Relaxed: statistics.
                        let tail = rings.tail[p].load(Ordering::Relaxed) as f64;
                        m.gauge(
                            "ring_consumer_sequence",
                            "Last sequence consumed by a group.",
                            &lg,
                            tail,
                        );
                        let consumed = rings.consumed[p].load(Ordering::Relaxed) as f64;
                        m.counter(
                            "consumed_total",
                            "Messages consumed by a group.",
                            &lg,
                            consumed,
                        );
                    }
                }
            }
        }
        m
    }

    fn backpressure(&self) -> BackpressureState {
        self.state()
    }

    fn backpressure_strategy(&self) -> BackpressureStrategy {
        BackpressureStrategy::Adaptive
    }
}
