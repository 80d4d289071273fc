//! Progress on stderr while scenarios run: one line per step, rewritten in
//! place on a terminal.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Tracks steps done out of the run's total.
pub struct Progress {
    total: usize,
    done: usize,
    scenario: &'static str,
    started: Instant,
    tty: bool,
}

impl Progress {
    /// A display for `total` steps.
    pub fn new(total: usize) -> Progress {
        Progress {
            total,
            done: 0,
            scenario: "",
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// A new scenario begins.
    pub fn scenario(&mut self, name: &'static str) {
        self.scenario = name;
    }

    /// A step begins.
    pub fn step(&mut self, what: &str) {
        self.done += 1;
        let width = 24;
        let filled = width * self.done.min(self.total) / self.total.max(1);
        let bar: String = "#".repeat(filled) + &"-".repeat(width - filled);
        let line = format!(
            "[{bar}] {}/{} {:>6.1}s  {}: {what}",
            self.done,
            self.total,
            self.started.elapsed().as_secs_f64(),
            self.scenario
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    /// All steps are done.
    pub fn finish(&mut self) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = writeln!(err);
        }
        let _ = writeln!(err, "done in {:.1}s", self.started.elapsed().as_secs_f64());
    }
}
