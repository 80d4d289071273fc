//! Crash-test child: opens the log in `DIR` under policy "always" and
//! appends from `THREADS` threads forever, printing `run thread index
//! sequence` for each record once `append` has returned (durable). The
//! parent SIGKILLs it at a random point.

use std::io::Write;
use std::sync::Arc;

use keel_engine::config::FsyncPolicy;
use keel_storage::{LogOptions, OsBackend, PartitionLog};
use keel_tests::wal_support::payload;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, run, threads] = &args[..] else {
        eprintln!("usage: wal-crash-child DIR RUN THREADS");
        std::process::exit(2);
    };
    let run: u32 = run.parse().expect("run");
    let threads: u32 = threads.parse().expect("threads");
    let options = LogOptions {
        segment_bytes: 64 << 10,
        fsync: FsyncPolicy::Always,
        ..LogOptions::default()
    };
    let (log, _) = PartitionLog::open(Arc::new(OsBackend), dir, options).expect("open log");
    let log = Arc::new(log);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0u64.. {
                    let receipt = log.append(&payload(run, t, i)).expect("append");
                    let line = format!("{run} {t} {i} {}\n", receipt.sequence);
                    std::io::stdout()
                        .lock()
                        .write_all(line.as_bytes())
                        .expect("stdout");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("appender");
    }
}
