//! The `wal` workloads: Keel's partition log against raw `write(2)` +
//! `fdatasync` peers, group commit against a naive sync per record, the
//! recovery scan, and write amplification (pwrite vs memory-mapped writes).
//! Every function writes under the directory it is given and removes its
//! files.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_engine::config::FsyncPolicy;
use keel_storage::{encoded_len, LogOptions, OsBackend, PartitionLog};

/// Payload bytes of every record.
pub const PAYLOAD_BYTES: usize = 100;

fn payload(i: u64) -> [u8; PAYLOAD_BYTES] {
    let mut p = [0x5a; PAYLOAD_BYTES];
    p[..8].copy_from_slice(&i.to_le_bytes());
    p
}

/// A scratch directory removed on drop.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// A fresh directory `name` under `root`.
    pub fn new(root: &Path, name: &str) -> std::io::Result<Scratch> {
        let dir = root.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn options(fsync: FsyncPolicy, every: u64) -> LogOptions {
    LogOptions {
        fsync,
        fsync_every_records: every.max(1),
        ..LogOptions::default()
    }
}

fn open(dir: &Path, opts: LogOptions) -> PartitionLog {
    PartitionLog::open(Arc::new(OsBackend), dir, opts)
        .expect("open wal")
        .0
}

/// Keel, one producer, sync every `every` records: records per second
/// (the final partial batch is synced inside the timing).
pub fn keel_every_n(root: &Path, records: u64, every: u64) -> f64 {
    let scratch = Scratch::new(root, "keel-every-n").expect("scratch dir");
    let log = open(scratch.path(), options(FsyncPolicy::EveryN, every));
    let start = Instant::now();
    for i in 0..records {
        let _ = log.append(&payload(i)).expect("append");
    }
    log.sync().expect("sync");
    records as f64 / start.elapsed().as_secs_f64()
}

/// The peer: one `write(2)` per record to a plain file, `fdatasync` every
/// `every` records.
pub fn raw_every_n(root: &Path, records: u64, every: u64) -> f64 {
    let scratch = Scratch::new(root, "raw-every-n").expect("scratch dir");
    let mut file = File::create(scratch.path().join("raw.log")).expect("create");
    let start = Instant::now();
    for i in 0..records {
        file.write_all(&payload(i)).expect("write");
        if (i + 1) % every == 0 {
            file.sync_data().expect("fdatasync");
        }
    }
    file.sync_data().expect("fdatasync");
    records as f64 / start.elapsed().as_secs_f64()
}

/// Keel under policy "always" with `producers` threads appending for
/// `duration`: acknowledged (durable) records per second, and records per
/// `fdatasync` (how many appenders each group commit served).
pub fn keel_always(root: &Path, producers: usize, duration: Duration) -> (f64, f64) {
    let scratch = Scratch::new(root, "keel-always").expect("scratch dir");
    let log = Arc::new(open(scratch.path(), options(FsyncPolicy::Always, 1)));
    let start = Instant::now();
    let deadline = start + duration;
    let handles: Vec<_> = (0..producers)
        .map(|_| {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let _ = log.append(&payload(n)).expect("append");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles
        .into_iter()
        .map(|h| h.join().expect("producer"))
        .sum();
    let rate = total as f64 / start.elapsed().as_secs_f64();
    (rate, total as f64 / log.syncs().max(1) as f64)
}

/// A durable bus topic (one partition, group `g`, 100-byte payloads) over
/// logs in a scratch directory under `root` with sync policy `fsync`
/// (`every` records for every-N); `producers` threads publish for
/// `duration` or until `messages` are published (each its share) while one
/// consumer reads everything and commits at the end. Messages published
/// and delivered per second, timed until the consumer has them all.
pub fn keel_durable_topic(
    root: &Path,
    (fsync, every): (FsyncPolicy, u64),
    producers: usize,
    (messages, duration): (u64, Duration),
) -> f64 {
    use keel_engine::bus::{Bus, TopicConfig};
    use keel_engine::config::BusConfig;
    use keel_engine::EventLog;
    use keel_storage::WalDurableLogs;
    use std::sync::atomic::{AtomicU64, Ordering};

    let scratch = Scratch::new(root, "keel-durable-topic").expect("scratch dir");
    let logs = WalDurableLogs::new(Arc::new(OsBackend), scratch.path(), options(fsync, every));
    let bus = Arc::new(
        Bus::new(&BusConfig::default(), Arc::new(EventLog::new(64)))
            .with_durable_logs(Arc::new(logs)),
    );
    let config = TopicConfig {
        partitions: Some(1),
        durable: true,
        groups: vec!["g".into()],
        ..TopicConfig::default()
    };
    bus.create_topic("bench", config).expect("durable topic");
    let mut sub = bus.subscribe("bench", "g").expect("subscribe");
    let published = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let share = messages / producers as u64;
    let handles: Vec<_> = (0..producers)
        .map(|_| {
            let (bus, published, done) = (bus.clone(), published.clone(), done.clone());
            std::thread::spawn(move || {
                let mut p = bus.publisher("bench").expect("publisher");
                let mut n = 0u64;
                while n < share && Instant::now() < deadline {
                    p.publish(None, &payload(n)).expect("publish");
                    n += 1;
                }
                // Relaxed (both): totals read after `done` says all
                // producers finished (partner: the Acquire load below).
                published.fetch_add(n, Ordering::Relaxed);
                done.fetch_add(1, Ordering::Release);
            })
        })
        .collect();
    let mut received = 0u64;
    loop {
        received += sub.poll_wait(Duration::from_millis(1), |_| {}) as u64;
        // Acquire: pairs with the producers' Release on `done`, so their
        // `published` additions are visible once all are counted.
        if done.load(Ordering::Acquire) == producers as u64
            && received == published.load(Ordering::Relaxed)
        {
            break;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    for h in handles {
        h.join().expect("producer");
    }
    sub.commit().expect("commit");
    received as f64 / elapsed
}

/// The naive peer: `write(2)` then `fdatasync` for every record, one
/// producer, for `duration`.
pub fn naive_always(root: &Path, duration: Duration) -> f64 {
    let scratch = Scratch::new(root, "naive-always").expect("scratch dir");
    let mut file = File::create(scratch.path().join("naive.log")).expect("create");
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        file.write_all(&payload(n)).expect("write");
        file.sync_data().expect("fdatasync");
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Writes about `bytes` of records, then times `rounds` reopenings (the
/// recovery scan of every segment, page cache warm): median GB/s of
/// record bytes recovered.
pub fn recovery_gb_per_s(root: &Path, bytes: u64, rounds: usize) -> f64 {
    let scratch = Scratch::new(root, "recovery").expect("scratch dir");
    let records = bytes / encoded_len(PAYLOAD_BYTES) as u64;
    {
        let log = open(scratch.path(), options(FsyncPolicy::Never, 1));
        for i in 0..records {
            let _ = log.append(&payload(i)).expect("append");
        }
        log.sync().expect("sync");
    }
    let mut samples: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            let (log, report) = PartitionLog::open(
                Arc::new(OsBackend),
                scratch.path(),
                options(FsyncPolicy::Never, 1),
            )
            .expect("reopen");
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(report.records, records, "recovery lost records");
            assert!(report.cut.is_none(), "recovery cut a clean log");
            log.bytes() as f64 / secs / 1e9
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

/// Bytes this process has caused to be written to storage so far
/// (`write_bytes` of `/proc/self/io`: pages dirtied, counted again when a
/// page is dirtied again after writeback).
pub fn process_write_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/io").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))?
        .trim()
        .parse()
        .ok()
}

/// Sectors written to the device holding `path`, in bytes (from
/// `/proc/diskstats`; includes every other process's writes).
pub fn device_write_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(path).ok()?.dev();
    let (major, minor) = (libc_major(dev), libc_minor(dev));
    let stats = std::fs::read_to_string("/proc/diskstats").ok()?;
    let whole = std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/../dev"))
        .ok()
        .and_then(|s| {
            let (a, b) = s.trim().split_once(':')?;
            Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?))
        });
    for line in stats.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(ma), Some(mi)) = (
            f.first().and_then(|x| x.parse::<u64>().ok()),
            f.get(1).and_then(|x| x.parse::<u64>().ok()),
        ) else {
            continue;
        };
        if (ma, mi) == (major, minor) || Some((ma, mi)) == whole {
            return f.get(9)?.parse::<u64>().ok().map(|s| s * 512);
        }
    }
    None
}

fn libc_major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)
}

fn libc_minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)
}

/// Write amplification of one way of writing the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Amplification {
    /// Process `write_bytes` over record bytes (header + payload).
    pub per_record_byte: f64,
    /// The same over payload bytes only.
    pub per_payload_byte: f64,
    /// Device sectors written (all processes) over record bytes.
    pub device_per_record_byte: Option<f64>,
}

fn amplification(records: u64, root: &Path, body: impl FnOnce()) -> Amplification {
    let (p0, d0) = (process_write_bytes(), device_write_bytes(root));
    body();
    let (p1, d1) = (process_write_bytes(), device_write_bytes(root));
    let record_bytes = (records * encoded_len(PAYLOAD_BYTES) as u64) as f64;
    let written = p1
        .zip(p0)
        .map_or(f64::NAN, |(b, a)| b.saturating_sub(a) as f64);
    Amplification {
        per_record_byte: written / record_bytes,
        per_payload_byte: written / (records * PAYLOAD_BYTES as u64) as f64,
        device_per_record_byte: d1
            .zip(d0)
            .map(|(b, a)| b.saturating_sub(a) as f64 / record_bytes),
    }
}

/// Keel (pwrite + fdatasync every `every` records) writing `records`.
pub fn keel_amplification(root: &Path, records: u64, every: u64) -> Amplification {
    let scratch = Scratch::new(root, "keel-amp").expect("scratch dir");
    let log = open(scratch.path(), options(FsyncPolicy::EveryN, every));
    amplification(records, root, || {
        for i in 0..records {
            let _ = log.append(&payload(i)).expect("append");
        }
        log.sync().expect("sync");
    })
}

/// The rejected design: the same records copied into a shared memory map
/// of a preallocated file, `msync` every `every` records; `random` advises
/// the mapping `MADV_RANDOM` first.
pub fn mmap_amplification(root: &Path, records: u64, every: u64, random: bool) -> Amplification {
    let scratch = Scratch::new(root, "mmap-amp").expect("scratch dir");
    let len = records * encoded_len(PAYLOAD_BYTES) as u64 + 4096;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(scratch.path().join("mapped.log"))
        .expect("create");
    file.set_len(len).expect("set_len");
    file.sync_all().expect("fsync");
    // SAFETY: the file was just created in a private scratch directory and
    // is only touched through this map for the map's lifetime.
    let mut map = unsafe { memmap2::MmapMut::map_mut(&file) }.expect("mmap");
    if random {
        map.advise(memmap2::Advice::Random).expect("madvise");
    }
    let rec = encoded_len(PAYLOAD_BYTES);
    amplification(records, root, || {
        let mut at = 0;
        for i in 0..records {
            map[at..at + 8].copy_from_slice(&(PAYLOAD_BYTES as u64).to_le_bytes());
            map[at + 8..at + rec].copy_from_slice(&[0x5a; 124 - 8][..rec - 8]);
            map[at + 8..at + 16].copy_from_slice(&i.to_le_bytes());
            at += rec;
            if (i + 1) % every == 0 {
                map.flush().expect("msync");
            }
        }
        map.flush().expect("msync");
    })
}
