//! The tick scheduler: runs registered systems once per tick, in parallel
//! where their access does not conflict.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use hdrhistogram::Histogram;

use super::context::SystemContext;
use super::pool::{WorkerPool, MAX_JOBS_PER_BATCH};
use super::stages::stage_plan;
use super::system::{Mode, System, SystemError};
use crate::clock::{Clock, MonotonicClock, SimClock};
use crate::config::EngineConfig;
use crate::metrics::MetricsSnapshot;
use crate::world::World;

/// Most columns one system may declare.
pub const MAX_ACCESS_PER_SYSTEM: usize = 64;

/// Why a system was refused at registration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A declared column does not exist in the scheduler's world.
    #[error("system `{system}` declares a column that does not exist: {column:?}")]
    UnknownColumn {
        /// The system's name.
        system: String,
        /// The missing column.
        column: crate::table::ColumnId,
    },
    /// A split system declared writes to a table other than its split one.
    #[error("system `{system}` splits rows of one table but writes another")]
    SplitWritesOtherTable {
        /// The system's name.
        system: String,
    },
    /// A split system names a table that does not exist.
    #[error("system `{system}` splits an unknown table")]
    UnknownSplitTable {
        /// The system's name.
        system: String,
    },
    /// Too many columns declared.
    #[error("system `{system}` declares {count} columns; at most {MAX_ACCESS_PER_SYSTEM}")]
    TooManyColumns {
        /// The system's name.
        system: String,
        /// How many it declared.
        count: usize,
    },
    /// Two systems share a name.
    #[error("a system named `{system}` is already registered")]
    DuplicateName {
        /// The repeated name.
        system: String,
    },
    /// More jobs per tick than a batch can hold.
    #[error("too many systems: a stage could exceed {MAX_JOBS_PER_BATCH} jobs")]
    TooManySystems,
}

/// How the scheduler runs: participants, pinning, spinning, clock.
#[derive(Clone)]
pub struct SchedulerOptions {
    /// Threads that run systems, the tick's own thread included (at least 1).
    pub participants: usize,
    /// Cores to pin to: the tick thread takes `cores[0]`, worker `i` takes
    /// `cores[(i + 1) % len]`. Empty: no pinning.
    pub cores: Vec<usize>,
    /// How long an idle worker spins before parking, nanoseconds.
    pub spin_ns: u64,
    /// The clock read once per tick.
    pub clock: Arc<dyn Clock>,
}

impl SchedulerOptions {
    /// From the engine config: `worker_count` 0 means one participant per
    /// available core; `deterministic` means one participant and a
    /// [`SimClock`] (returned so the caller can drive it).
    pub fn from_config(config: &EngineConfig) -> (SchedulerOptions, Option<SimClock>) {
        let available = available_cores().to_vec();
        let cores = if config.core_list.is_empty() {
            available.clone()
        } else {
            config.core_list.clone()
        };
        if config.deterministic {
            let sim = SimClock::new();
            let options = SchedulerOptions {
                participants: 1,
                cores: Vec::new(),
                spin_ns: 0,
                clock: Arc::new(sim.clone()),
            };
            return (options, Some(sim));
        }
        let participants = match config.worker_count {
            0 if !available.is_empty() => available.len(),
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let options = SchedulerOptions {
            participants: participants.max(1),
            cores,
            spin_ns: config.worker_spin_us * 1_000,
            clock: Arc::new(MonotonicClock::new()),
        };
        (options, None)
    }

    /// One participant, no pinning, the given clock: the deterministic mode.
    pub fn deterministic(clock: Arc<dyn Clock>) -> SchedulerOptions {
        SchedulerOptions {
            participants: 1,
            cores: Vec::new(),
            spin_ns: 0,
            clock,
        }
    }
}

struct Slot {
    system: System,
    /// Longest chunk run time this tick, ns.
    last_ns: AtomicU64,
    errors: AtomicU64,
    first_error: OnceLock<String>,
    histogram: Histogram<u64>,
    runs: u64,
}

#[derive(Debug, Clone, Copy)]
struct Job {
    slot: u32,
    start: u32,
    end: u32,
}

/// Runs systems over a [`World`] once per [`Scheduler::run_tick`].
pub struct Scheduler {
    world: World,
    slots: Vec<Slot>,
    stages: Vec<Vec<usize>>,
    jobs: Vec<Job>,
    pool: WorkerPool,
    participants: usize,
    clock: Arc<dyn Clock>,
    tick: u64,
    tick_histogram: Histogram<u64>,
    pinned: Arc<AtomicUsize>,
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("static histogram bounds are valid")
}

static PIN_REFUSED_LOGGED: AtomicBool = AtomicBool::new(false);

/// Cores this process may run on, read once.
fn available_cores() -> &'static [usize] {
    static CORES: OnceLock<Vec<usize>> = OnceLock::new();
    CORES.get_or_init(|| {
        core_affinity::get_core_ids()
            .map(|ids| ids.into_iter().map(|c| c.id).collect())
            .unwrap_or_default()
    })
}

/// Pins the calling thread to `core`; logs once per process when the core
/// is not available to the process or the OS refuses.
pub(crate) fn pin_current_thread(core: usize) -> bool {
    // core_affinity panics on ids past the CPU set size, so only ids the OS
    // reported as ours are tried.
    let pinned = available_cores().contains(&core)
        && core_affinity::set_for_current(core_affinity::CoreId { id: core });
    // Relaxed: a log-once flag guards nothing else.
    if !pinned && !PIN_REFUSED_LOGGED.swap(true, Ordering::Relaxed) {
        tracing::warn!(core, "pinning to a core was refused; threads run unpinned");
    }
    pinned
}

impl Scheduler {
    /// Starts the worker threads (`participants - 1` of them).
    pub fn new(world: World, options: SchedulerOptions) -> Scheduler {
        let participants = options.participants.max(1);
        let pinned = Arc::new(AtomicUsize::new(0));
        let cores = options.cores.clone();
        let pinned_count = Arc::clone(&pinned);
        let pin = Arc::new(move |worker: usize| {
            if !cores.is_empty() && pin_current_thread(cores[(worker + 1) % cores.len()]) {
                // Relaxed: a statistic.
                pinned_count.fetch_add(1, Ordering::Relaxed);
            }
        });
        Scheduler {
            world,
            slots: Vec::new(),
            stages: Vec::new(),
            jobs: Vec::new(),
            pool: WorkerPool::new(participants - 1, options.spin_ns, pin),
            participants,
            clock: options.clock,
            tick: 0,
            tick_histogram: new_histogram(),
            pinned,
        }
    }

    /// Registers a system. Registration happens at start-up: it may
    /// allocate; ticks do not.
    pub fn add_system(&mut self, system: System) -> Result<(), ScheduleError> {
        self.check(&system)?;
        let jobs_of = |s: &System| {
            if s.split.is_some() {
                self.participants
            } else {
                1
            }
        };
        let jobs_max =
            self.slots.iter().map(|s| jobs_of(&s.system)).sum::<usize>() + jobs_of(&system);
        if jobs_max > MAX_JOBS_PER_BATCH {
            return Err(ScheduleError::TooManySystems);
        }
        self.slots.push(Slot::new(system));
        let systems: Vec<&System> = self.slots.iter().map(|s| &s.system).collect();
        self.stages = stage_plan(&systems);
        self.jobs
            .reserve(jobs_max.saturating_sub(self.jobs.capacity()));
        Ok(())
    }

    fn check(&self, system: &System) -> Result<(), ScheduleError> {
        let name = || system.name.clone();
        if self.slots.iter().any(|s| s.system.name == system.name) {
            return Err(ScheduleError::DuplicateName { system: name() });
        }
        if system.access.len() > MAX_ACCESS_PER_SYSTEM {
            return Err(ScheduleError::TooManyColumns {
                system: name(),
                count: system.access.len(),
            });
        }
        if let Some(&(column, _)) = system
            .access
            .iter()
            .find(|(c, _)| !self.world.has_column(*c))
        {
            return Err(ScheduleError::UnknownColumn {
                system: name(),
                column,
            });
        }
        if let Some(split) = system.split {
            if self.world.table(split.table).is_err() {
                return Err(ScheduleError::UnknownSplitTable { system: name() });
            }
            let foreign_write = system
                .access
                .iter()
                .any(|(c, m)| *m == Mode::Write && c.table != split.table);
            if foreign_write {
                return Err(ScheduleError::SplitWritesOtherTable { system: name() });
            }
        }
        Ok(())
    }

    /// The world, between ticks.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The world, between ticks, for inserts and removes.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// Threads that run systems, the caller of `run_tick` included.
    pub fn participants(&self) -> usize {
        self.participants
    }

    /// Worker threads that were pinned to a core.
    pub fn pinned_workers(&self) -> usize {
        // Relaxed: a statistic.
        self.pinned.load(Ordering::Relaxed)
    }

    /// Ticks run so far.
    pub fn ticks(&self) -> u64 {
        self.tick
    }

    /// Systems grouped into stages: systems in one stage run in parallel;
    /// stages run in order.
    pub fn stages(&self) -> Vec<Vec<&str>> {
        self.stages
            .iter()
            .map(|stage| {
                stage
                    .iter()
                    .map(|&s| self.slots[s].system.name.as_str())
                    .collect()
            })
            .collect()
    }

    /// Failed runs of a system so far (errors and panics), and the first
    /// failure's message.
    pub fn failures(&self, system: &str) -> Option<(u64, Option<&str>)> {
        let slot = self.slots.iter().find(|s| s.system.name == system)?;
        // Relaxed: read between ticks, after the pool's Acquire on `done`.
        Some((
            slot.errors.load(Ordering::Relaxed),
            slot.first_error.get().map(String::as_str),
        ))
    }

    /// Runs every system once. Returns the tick number. Allocates nothing.
    pub fn run_tick(&mut self) -> u64 {
        let started = Instant::now();
        self.tick += 1;
        let now_ns = self.clock.now_ns();
        for stage in 0..self.stages.len() {
            self.plan_jobs(stage);
            let (world, slots, jobs, tick) = (&self.world, &self.slots, &self.jobs, self.tick);
            self.pool.run(jobs.len(), &|j| {
                run_job(world, slots, jobs[j], tick, now_ns)
            });
            for &s in &self.stages[stage] {
                let slot = &mut self.slots[s];
                slot.runs += 1;
                slot.histogram
                    .saturating_record(slot.last_ns.load(Ordering::Relaxed).max(1));
            }
        }
        self.tick_histogram
            .saturating_record((started.elapsed().as_nanos() as u64).max(1));
        self.tick
    }

    fn plan_jobs(&mut self, stage: usize) {
        self.jobs.clear();
        for &s in &self.stages[stage] {
            let slot = &self.slots[s];
            // Relaxed: the pool's batch publication orders this reset before
            // the jobs' `fetch_max`.
            slot.last_ns.store(0, Ordering::Relaxed);
            let Some(split) = slot.system.split else {
                self.jobs.push(Job {
                    slot: s as u32,
                    start: 0,
                    end: 0,
                });
                continue;
            };
            let len = self.world.table(split.table).map_or(0, |t| t.len());
            let chunks = (len / split.min_rows_per_chunk).clamp(1, self.participants);
            for c in 0..chunks {
                let start = (len * c / chunks) as u32;
                let end = (len * (c + 1) / chunks) as u32;
                self.jobs.push(Job {
                    slot: s as u32,
                    start,
                    end,
                });
            }
        }
    }

    /// Per-system run times and failures, and tick durations.
    pub fn metrics(&self) -> MetricsSnapshot {
        let mut m = MetricsSnapshot::new("scheduler");
        m.counter("ticks_total", "Ticks run.", &[], self.tick as f64);
        m.gauge(
            "participants",
            "Threads that run systems, the tick thread included.",
            &[],
            self.participants as f64,
        );
        m.gauge(
            "pinned_workers",
            "Worker threads pinned to a core.",
            &[],
            self.pinned_workers() as f64,
        );
        m.latency(
            "tick_duration_ns",
            "Wall time of one tick.",
            &[],
            &self.tick_histogram,
        );
        for slot in &self.slots {
            let labels = [("system", slot.system.name.as_str())];
            m.counter(
                "system_runs_total",
                "Runs of a system.",
                &labels,
                slot.runs as f64,
            );
            // Relaxed: read between ticks.
            let errors = slot.errors.load(Ordering::Relaxed) as f64;
            m.counter(
                "system_failures_total",
                "Failed or panicked runs of a system.",
                &labels,
                errors,
            );
            m.latency(
                "system_run_ns",
                "Run time of a system (slowest chunk).",
                &labels,
                &slot.histogram,
            );
        }
        m
    }
}

impl Slot {
    fn new(system: System) -> Slot {
        Slot {
            system,
            last_ns: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_error: OnceLock::new(),
            histogram: new_histogram(),
            runs: 0,
        }
    }

    fn record_failure(&self, error: SystemError) {
        // Relaxed: a counter read between ticks.
        self.errors.fetch_add(1, Ordering::Relaxed);
        if self.first_error.set(error.to_string()).is_ok() {
            tracing::warn!(system = %self.system.name, %error, "system failed; later failures are counted, not logged");
        }
    }
}

fn run_job(world: &World, slots: &[Slot], job: Job, tick: u64, now_ns: u64) {
    let slot = &slots[job.slot as usize];
    let ctx = SystemContext {
        world,
        system: &slot.system,
        chunk: slot
            .system
            .split
            .map(|s| (s.table, job.start as usize, job.end as usize)),
        tick,
        now_ns,
        lent_shared: Default::default(),
        lent_exclusive: Default::default(),
    };
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| (slot.system.run)(&ctx)));
    // Relaxed: read by the tick thread after the pool's Acquire on `done`.
    slot.last_ns
        .fetch_max(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => slot.record_failure(error),
        Err(_) => slot.record_failure(SystemError::Panicked),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::clock::SimClock;

    /// Small enough for Miri: a split system writing through chunk slices on
    /// two participants beside a reader of another column.
    #[test]
    fn split_writes_and_parallel_reads_cover_every_row() {
        let mut world = World::new();
        let t = world.add_table("t", 64).unwrap();
        let a = world.add_column::<u32>(t, "a").unwrap();
        let b = world.add_column::<u64>(t, "b").unwrap();
        for _ in 0..50 {
            world.table_mut(t).unwrap().insert().unwrap();
        }
        let options = SchedulerOptions {
            participants: 2,
            cores: Vec::new(),
            spin_ns: 0,
            clock: Arc::new(SimClock::new()),
        };
        let mut s = Scheduler::new(world, options);
        s.add_system(
            System::new("bump", move |ctx| {
                let rows = ctx.rows(t)?;
                for (i, v) in ctx.write(a)?.iter_mut().enumerate() {
                    *v += (rows.start + i) as u32;
                }
                Ok(())
            })
            .writes(a)
            .split_rows(t, 8),
        )
        .unwrap();
        s.add_system(
            System::new("sum_b", move |ctx| {
                let _: u64 = ctx.read(b)?.iter().sum();
                Ok(())
            })
            .reads(b),
        )
        .unwrap();
        for _ in 0..3 {
            s.run_tick();
        }
        let column = s.world().table(t).unwrap().column(a).unwrap();
        assert!(column.iter().enumerate().all(|(i, v)| *v == 3 * i as u32));
        assert_eq!(s.failures("bump").unwrap().0, 0);
    }
}
