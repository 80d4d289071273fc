//! Crash-test child for durable topics: creates durable topic `orders`
//! (2 partitions, group `g`, logs in `DIR` under policy "always") and
//! publishes from `THREADS` threads forever (thread `t` uses key `[t]`,
//! word `t << 32 | index`), printing `a t index` once a publish returned.
//! A consumer on the main thread prints `h partition offset word` for each
//! message it handles and `c partition next` after each commit returned
//! (every 16 messages). The parent SIGKILLs it at a random point.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use keel_engine::bus::PublishOutcome;
use keel_tests::crash_support::{crash_bus, CRASH_TOPIC};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, threads] = &args[..] else {
        eprintln!("usage: bus-crash-child DIR THREADS");
        std::process::exit(2);
    };
    let threads: u64 = threads.parse().expect("threads");
    let bus = Arc::new(crash_bus(std::path::Path::new(dir)));
    let mut sub = bus.subscribe(CRASH_TOPIC, "g").expect("subscribe");
    let say = |line: String| {
        std::io::stdout()
            .lock()
            .write_all(line.as_bytes())
            .expect("stdout");
    };
    for t in 0..threads {
        let bus = Arc::clone(&bus);
        std::thread::spawn(move || {
            let mut p = bus.publisher(CRASH_TOPIC).expect("publisher");
            for i in 0u64.. {
                let outcome = p
                    .publish_word(Some(&[t as u8]), t << 32 | i)
                    .expect("publish");
                assert_eq!(outcome, PublishOutcome::Accepted);
                say(format!("a {t} {i}\n"));
            }
        });
    }
    let mut handled = 0u64;
    let mut next = [0u64; 2];
    loop {
        sub.poll_wait(Duration::from_millis(10), |m| {
            let offset = m.offset.expect("durable");
            next[m.partition as usize] = offset + 1;
            say(format!("h {} {offset} {}\n", m.partition, m.word));
            handled += 1;
        });
        if handled >= 16 {
            handled = 0;
            sub.commit().expect("commit");
            for (p, n) in next.iter().enumerate() {
                say(format!("c {p} {n}\n"));
            }
        }
    }
}
