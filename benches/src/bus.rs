//! The `bus` workload: one producer thread and one consumer thread moving
//! u64 messages through Keel's bus and through its peers (the raw
//! `disruptor` crate, `crossbeam-channel`, `std::sync::mpsc`), plus Keel's
//! publish-to-handler latency at a paced offered rate, and the 1P1C / 1P3C
//! / 3P1C topologies for criterion.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use disruptor::{build_single_producer, BusySpinWithSpinLoopHint, Producer};
use hdrhistogram::Histogram;
use keel_engine::bus::{Bus, Publisher, TopicConfig, WaitStrategy};
use keel_engine::config::BusConfig;
use keel_engine::EventLog;

/// Ring and channel capacity for every contender.
pub const CAPACITY: usize = 65_536;
/// Messages per batch publish.
pub const BATCH: usize = 64;

/// A bus with one single-partition topic; single-writer when one producer
/// feeds it (the crate's single-producer claim, as the raw peer uses).
fn bus_with_topic(groups: usize, single_writer: bool) -> Bus {
    let bus = Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64)));
    let config = TopicConfig {
        partitions: Some(1),
        ring_size: Some(CAPACITY),
        groups: (0..groups).map(|g| format!("g{g}")).collect(),
        single_writer,
        ..TopicConfig::default()
    };
    bus.create_topic("bench", config).expect("valid topic");
    bus
}

/// Keel: `producers` threads publish `per_producer` messages each (singly
/// or in batches of [`BATCH`] written in place with
/// `Publisher::publish_words_with`); `groups` consumer threads each read
/// all of them. Returns the wall time from the first publish to the last
/// read.
pub fn keel(producers: usize, groups: usize, per_producer: u64, batch: bool) -> Duration {
    let bus = bus_with_topic(groups, producers == 1);
    let total = per_producer * producers as u64;
    let consumers: Vec<_> = (0..groups)
        .map(|g| {
            // The default wait strategy (Park: spin up to 20 us, then park).
            let mut sub = bus
                .subscribe("bench", &format!("g{g}"))
                .expect("group exists");
            std::thread::spawn(move || {
                let mut seen = 0u64;
                let mut sum = 0u64;
                while seen < total {
                    seen += sub.poll_wait(Duration::from_millis(100), |m| {
                        sum = sum.wrapping_add(m.word)
                    }) as u64;
                }
                std::hint::black_box(sum);
            })
        })
        .collect();
    let mut publishers: Vec<_> = (0..producers)
        .map(|_| bus.publisher("bench").expect("topic exists"))
        .collect();
    let start = Instant::now();
    let handles: Vec<_> = publishers
        .drain(..)
        .map(|mut p| {
            std::thread::spawn(move || {
                if batch {
                    publish_batches(&mut p, per_producer);
                } else {
                    publish_singles(&mut p, per_producer);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("producer");
    }
    for c in consumers {
        c.join().expect("consumer");
    }
    start.elapsed()
}

/// Publishes words `0..n` one at a time. Each producer loop is a function
/// of its own, so the compiler lays it out alone rather than as one arm
/// of a thread body holding both.
#[inline(never)]
fn publish_singles(p: &mut Publisher, n: u64) {
    for i in 0..n {
        p.publish_word(None, i).expect("in limits");
    }
}

/// Publishes words `0..n` in batches of [`BATCH`], written in place, as
/// the raw peer's batch closure writes its events.
#[inline(never)]
fn publish_batches(p: &mut Publisher, n: u64) {
    let mut i = 0;
    while i < n {
        let k = (n - i).min(BATCH as u64) as usize;
        p.publish_words_with(None, k, |j| i + j as u64)
            .expect("in limits");
        i += k as u64;
    }
}

/// The raw `disruptor` crate: single producer, one managed consumer.
pub fn raw_disruptor(n: u64, batch: bool) -> Duration {
    let seen = Arc::new(AtomicU64::new(0));
    let seen_in = Arc::clone(&seen);
    let mut producer = build_single_producer(CAPACITY, || 0u64, BusySpinWithSpinLoopHint)
        .handle_events_with(move |e: &u64, _seq, end_of_batch| {
            std::hint::black_box(*e);
            if end_of_batch {
                // Relaxed: a progress count; the join below orders the end.
                seen_in.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build();
    let start = Instant::now();
    if batch {
        let mut i = 0;
        while i < n {
            let k = (n - i).min(BATCH as u64) as usize;
            producer.batch_publish(k, |iter| {
                for (j, e) in iter.enumerate() {
                    *e = i + j as u64;
                }
            });
            i += k as u64;
        }
    } else {
        for i in 0..n {
            producer.publish(|e| *e = i);
        }
    }
    // Dropping the producer waits for the consumer to read everything.
    drop(producer);
    start.elapsed()
}

/// One producer sends `n` words through a bounded channel to a consumer
/// thread; returns the time until the consumer has seen the last one.
fn channel<S: Send + 'static, R: Send + 'static>(
    n: u64,
    (tx, rx): (S, R),
    send: impl Fn(&S, u64),
    recv: impl Fn(&R) -> Option<u64> + Send + 'static,
) -> Duration {
    let consumer = std::thread::spawn(move || {
        let mut sum = 0u64;
        while let Some(v) = recv(&rx) {
            sum = sum.wrapping_add(v);
        }
        std::hint::black_box(sum);
    });
    let start = Instant::now();
    for i in 0..n {
        send(&tx, i);
    }
    drop(tx);
    consumer.join().expect("consumer");
    start.elapsed()
}

/// `crossbeam-channel` bounded to [`CAPACITY`].
pub fn crossbeam(n: u64) -> Duration {
    channel(
        n,
        crossbeam_channel::bounded::<u64>(CAPACITY),
        |tx, v| tx.send(v).expect("receiver alive"),
        |rx| rx.recv().ok(),
    )
}

/// `std::sync::mpsc::sync_channel` bounded to [`CAPACITY`].
pub fn std_mpsc(n: u64) -> Duration {
    channel(
        n,
        std::sync::mpsc::sync_channel::<u64>(CAPACITY),
        |tx, v| tx.send(v).expect("receiver alive"),
        |rx| rx.recv().ok(),
    )
}

/// Keel's publish-to-handler latency with messages offered at `rate_per_s`
/// for `duration`: each message carries its publish time; the consumer
/// spins and records `now - sent`. Returns the histogram (ns).
pub fn keel_latency(rate_per_s: u64, duration: Duration) -> Histogram<u64> {
    let bus = bus_with_topic(1, true);
    let mut sub = bus.subscribe("bench", "g0").expect("group exists");
    sub.set_wait_strategy(WaitStrategy::Spin);
    let mut publisher = bus.publisher("bench").expect("topic exists");
    paced_latency(
        rate_per_s,
        duration,
        move |rec| sub.poll_wait(Duration::from_millis(100), |m| rec.record(m.word)) as u64,
        |now| {
            publisher.publish_word(None, now).expect("in limits");
        },
    )
}

/// The raw `disruptor` crate's publish-to-handler latency under the same
/// pacing as [`keel_latency`] (single producer, one event poller that
/// spins): the floor this machine sets for any ring at that rate, since a
/// spinning consumer that loses its vCPU for a while delays every message
/// that arrives meanwhile. Returns the histogram (ns).
pub fn disruptor_latency(rate_per_s: u64, duration: Duration) -> Histogram<u64> {
    let (mut poller, builder) =
        build_single_producer(CAPACITY, || 0u64, BusySpinWithSpinLoopHint).new_event_poller();
    let mut producer = builder.build();
    paced_latency(
        rate_per_s,
        duration,
        move |rec| {
            let Ok(mut events) = poller.take(u64::MAX) else {
                std::hint::spin_loop();
                return 0;
            };
            let mut n = 0;
            for &sent in &mut events {
                rec.record(sent);
                n += 1;
            }
            n
        },
        |now| producer.publish(|e| *e = now),
    )
}

/// The `quantile` of each histogram, in ns.
pub fn quantile_per_window(windows: &[Histogram<u64>], quantile: f64) -> Vec<f64> {
    windows
        .iter()
        .map(|h| h.value_at_quantile(quantile) as f64)
        .collect()
}

/// The `quantile` of all the histograms' samples taken together, in ns
/// (NaN for none).
pub fn pooled_quantile(windows: &[Histogram<u64>], quantile: f64) -> f64 {
    let Some((first, rest)) = windows.split_first() else {
        return f64::NAN;
    };
    let mut pooled = first.clone();
    for h in rest {
        // Every window's histogram has the same bounds (`LatencyRecorder`),
        // and auto-resize covers any other.
        pooled.add(h).expect("histograms with the same bounds");
    }
    pooled.value_at_quantile(quantile) as f64
}

/// Records a message's latency: now (ns since the run's origin) minus the
/// send time it carries.
struct LatencyRecorder {
    origin: Instant,
    histogram: Histogram<u64>,
}

impl LatencyRecorder {
    #[inline]
    fn record(&mut self, sent_ns: u64) {
        let now = self.origin.elapsed().as_nanos() as u64;
        self.histogram
            .saturating_record(now.saturating_sub(sent_ns).max(1));
    }
}

/// Offers `rate_per_s` messages a second for `duration`: `send(now_ns)` is
/// called for the i-th at `i / rate_per_s` seconds after the origin
/// (spinning until then) with the time it sends, while a consumer thread
/// calls `poll` (which records each message it takes and returns how
/// many) until it has them all. Returns the latency histogram (ns).
///
/// The sender and the consumer each run on a core of their own
/// ([`on_own_cores`]), as Keel's systems run on pinned threads. Left to
/// the scheduler, a fresh consumer thread often shared the sender's vCPU
/// on this 2-vCPU guest (its kernel packs tasks onto fewer vCPUs,
/// `sched_vcpu_pack`) until the balancer moved it: the two spinners then
/// took turns in 4 ms slices, and most 200 ms windows had a p99 of about
/// 4 ms, Keel's and the raw crate's alike; pinned, 10 of 12 windows' p99
/// was 3.6-24 us (ARCHITECTURE.md, bus, seventeenth session).
fn paced_latency(
    rate_per_s: u64,
    duration: Duration,
    mut poll: impl FnMut(&mut LatencyRecorder) -> u64 + Send,
    mut send: impl FnMut(u64) + Send,
) -> Histogram<u64> {
    let origin = Instant::now();
    let total = rate_per_s * duration.as_millis() as u64 / 1_000;
    let interval_ns = 1_000_000_000 / rate_per_s.max(1);
    let ((), histogram) = on_own_cores(
        || {
            for i in 0..total {
                let due = i * interval_ns;
                // The read that finds the message due is its send time:
                // one clock read per send, not two.
                let mut now = origin.elapsed().as_nanos() as u64;
                while now < due {
                    std::hint::spin_loop();
                    now = origin.elapsed().as_nanos() as u64;
                }
                send(now);
            }
        },
        || {
            let mut rec = LatencyRecorder {
                origin,
                histogram: Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("static bounds"),
            };
            let mut seen = 0u64;
            while seen < total {
                seen += poll(&mut rec);
            }
            rec.histogram
        },
    );
    histogram
}

/// Runs `a` and `b` on two threads, each pinned to a core of its own (the
/// first two this process may use; unpinned where it has one), and
/// returns both results.
fn on_own_cores<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    let cores = core_affinity::get_core_ids().filter(|ids| ids.len() >= 2);
    let pin = |side: usize| {
        if let Some(ids) = &cores {
            // Pinning is the method, not a condition: a refusal leaves
            // the thread where the scheduler puts it.
            core_affinity::set_for_current(ids[side]);
        }
    };
    std::thread::scope(|s| {
        let a = s.spawn(|| {
            pin(0);
            a()
        });
        let b = s.spawn(|| {
            pin(1);
            b()
        });
        (
            a.join().expect("first thread"),
            b.join().expect("second thread"),
        )
    })
}

/// Percent of `window` in which one of two threads, both spinning on the
/// clock from the same start on cores of their own (as the latency test's
/// sender and consumer do), was stopped by the host and would stay
/// stopped for over `over` more, while the other ran: the mean of the two
/// threads' shares. A message the running thread publishes then waits
/// over `over` before its consumer can take it, so at a steady rate at
/// least this share of messages is that late, whatever the ring: a p99
/// under `over` needs it below 1%. Stops that take both threads at once (the whole VM) are not
/// counted: nothing is published meanwhile.
pub fn host_paused_alone_pct(window: Duration, over: Duration) -> f64 {
    let origin = Instant::now();
    let (mine, theirs) = on_own_cores(
        || pauses(origin, window, over),
        || pauses(origin, window, over),
    );
    let over = over.as_nanos() as u64;
    // A message sent in a stop's last `over` ns is not late enough.
    let late = |stops: &[(u64, u64)]| -> Vec<(u64, u64)> {
        stops.iter().map(|&(s, e)| (s, e - over)).collect()
    };
    let alone = alone_ns(&late(&mine), &theirs) + alone_ns(&late(&theirs), &mine);
    100.0 * alone as f64 / 2.0 / window.as_nanos().max(1) as f64
}

/// Spins reading the clock until `window` after `origin`; returns each
/// stretch longer than `over` between two reads (ns after `origin`, start
/// and end), in order.
fn pauses(origin: Instant, window: Duration, over: Duration) -> Vec<(u64, u64)> {
    let (end, over) = (window.as_nanos() as u64, over.as_nanos() as u64);
    let mut stops = Vec::new();
    let mut last = origin.elapsed().as_nanos() as u64;
    while last < end {
        let now = origin.elapsed().as_nanos() as u64;
        if now - last > over {
            stops.push((last, now));
        }
        last = now;
    }
    stops
}

/// Nanoseconds inside `a`'s stretches and outside `b`'s (each a sorted
/// list of disjoint `(start, end)` stretches).
fn alone_ns(a: &[(u64, u64)], b: &[(u64, u64)]) -> u64 {
    let mut alone = 0;
    let mut rest = b;
    for &(start, end) in a {
        // `b`'s stretches that end before this one starts are past for
        // every later one too.
        while rest.first().is_some_and(|&(_, e)| e <= start) {
            rest = &rest[1..];
        }
        let mut covered = 0;
        for &(s, e) in rest.iter().take_while(|&&(s, _)| s < end) {
            covered += e.min(end) - s.max(start);
        }
        alone += end - start - covered;
    }
    alone
}

/// Messages per second for `n` messages moved in `elapsed`.
pub fn rate(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contender_moves_every_message() {
        for (producers, groups) in [(1, 1), (1, 3), (3, 1)] {
            assert!(keel(producers, groups, 10_000, false) > Duration::ZERO);
            assert!(keel(producers, groups, 10_000, true) > Duration::ZERO);
        }
        raw_disruptor(10_000, false);
        raw_disruptor(10_000, true);
        crossbeam(10_000);
        std_mpsc(10_000);
        let h = keel_latency(100_000, Duration::from_millis(20));
        assert_eq!(h.len(), 2_000);
        let h = disruptor_latency(100_000, Duration::from_millis(20));
        assert_eq!(h.len(), 2_000);
    }

    #[test]
    fn a_stop_counts_only_where_the_other_thread_was_running() {
        // Nothing in the other: all of it.
        assert_eq!(alone_ns(&[(10, 20), (30, 45)], &[]), 25);
        // Partly covered at either end, wholly covered, and a stretch of
        // the other's spanning two of these.
        assert_eq!(alone_ns(&[(10, 20)], &[(5, 12), (18, 30)]), 6);
        assert_eq!(alone_ns(&[(10, 20)], &[(0, 40)]), 0);
        assert_eq!(alone_ns(&[(10, 20), (25, 35)], &[(15, 30)]), 10);
        // Stretches of the other's that end before, touch, or start after.
        assert_eq!(alone_ns(&[(10, 20)], &[(0, 10), (20, 30)]), 10);
        assert_eq!(alone_ns(&[], &[(0, 10)]), 0);
    }

    #[test]
    fn the_pause_probe_gives_a_share_of_its_window() {
        let pct = host_paused_alone_pct(Duration::from_millis(20), Duration::from_micros(2));
        assert!((0.0..=100.0).contains(&pct), "{pct}");
    }

    /// One bad window sets the pooled p99 (it holds over 1% of the
    /// samples) but only its own window's.
    #[test]
    fn pooled_and_per_window_quantiles() {
        let window = |value: u64| {
            let mut h = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("bounds");
            h.record_n(value, 1_000).expect("in bounds");
            h
        };
        let windows = [window(100), window(100), window(1_000_000)];
        let per_window = quantile_per_window(&windows, 0.99);
        assert_eq!(per_window.len(), 3);
        assert!((per_window[0] - 100.0).abs() < 1.0);
        assert!(per_window[2] > 990_000.0);
        assert!(pooled_quantile(&windows, 0.99) > 990_000.0);
        assert!((pooled_quantile(&windows, 0.50) - 100.0).abs() < 1.0);
        assert!(pooled_quantile(&[], 0.99).is_nan());
    }
}
