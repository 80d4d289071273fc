//! Helpers for the crash tests: running a child process until a SIGKILL,
//! and the durable topic the bus crash child and its test share.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use keel_engine::bus::{Bus, TopicConfig};
use keel_engine::config::FsyncPolicy;
use keel_storage::{LogOptions, OsBackend};

/// Runs `command` with its stdout piped; unless `during_start_up`, waits
/// (up to 20 s, start-up can be slow on a loaded machine) for its first
/// complete line; then lets it run for `delay`, SIGKILLs it, and returns
/// every complete line it printed (a kill may land mid-print).
pub fn run_until_killed(mut command: Command, during_start_up: bool, delay: Duration) -> String {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("piped stdout");
    // Lines go through a channel so the kill can wait for the first one.
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut stdout = std::io::BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match stdout.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.ends_with('\n') => {
                    let _ = lines_tx.send(line);
                }
                Ok(_) => {}
            }
        }
    });
    let mut text = String::new();
    if !during_start_up {
        if let Ok(first) = lines.recv_timeout(Duration::from_secs(20)) {
            text.push_str(&first);
        }
    }
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL child");
    let status = child.wait().expect("wait child");
    assert!(!status.success(), "child exited by itself: {status}");
    reader.join().expect("stdout reader");
    text.extend(lines.try_iter());
    text
}

/// A directory on the real disk (not tmpfs) when `TMPDIR` is not set.
pub fn env_tmp() -> std::path::PathBuf {
    std::env::var_os("TMPDIR").map_or_else(|| "/var/tmp".into(), Into::into)
}

/// The bus crash test's topic name.
pub const CRASH_TOPIC: &str = "orders";

/// A bus over logs in `dir` (policy "always") with the crash test's
/// durable topic created: 2 partitions, a 256-slot ring, group `g`.
pub fn crash_bus(dir: &std::path::Path) -> Bus {
    let options = LogOptions {
        segment_bytes: 64 << 10,
        fsync: FsyncPolicy::Always,
        ..LogOptions::default()
    };
    let bus = crate::bus_support::bus_over(Arc::new(OsBackend), dir, options);
    let config = TopicConfig {
        partitions: Some(2),
        ring_size: Some(256),
        durable: true,
        groups: vec!["g".into()],
        ..TopicConfig::default()
    };
    bus.create_topic(CRASH_TOPIC, config)
        .expect("create the durable topic");
    bus
}
