//! Measurement helpers: rounds, medians, and how much CPU time the host
//! took from this machine while a scenario ran.

use std::time::Instant;

/// The median of some samples (the mean of the middle two for an even
/// count); NaN for none.
pub fn median(samples: &mut [f64]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let mid = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    }
}

/// Runs each measurement once per round, in order, for `rounds` rounds,
/// so every contender sees the same host weather (a noisy minute on a
/// shared VM halves a rate); returns each one's median.
pub fn interleaved_medians<const N: usize>(
    rounds: usize,
    measures: [&dyn Fn() -> f64; N],
) -> [f64; N] {
    let mut samples: [Vec<f64>; N] = std::array::from_fn(|_| Vec::with_capacity(rounds));
    for _ in 0..rounds {
        for (measure, samples) in measures.iter().zip(&mut samples) {
            samples.push(measure());
        }
    }
    samples.map(|mut s| median(&mut s))
}

/// Runs `body` once to warm up, then `rounds` times; each run returns how
/// many units of work it did. Returns the median nanoseconds per unit.
pub fn ns_per_unit(rounds: usize, mut body: impl FnMut() -> u64) -> f64 {
    body();
    let mut samples: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            let units = body().max(1);
            start.elapsed().as_nanos() as f64 / units as f64
        })
        .collect();
    median(&mut samples)
}

/// Cumulative CPU time of all CPUs, in clock ticks, from the `cpu` line of
/// `/proc/stat`: how much the hypervisor stole (time a vCPU wanted to run
/// and the host ran something else) and the whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTicks {
    steal: u64,
    total: u64,
}

impl CpuTicks {
    /// Now; `None` where `/proc/stat` is missing or unreadable.
    pub fn now() -> Option<CpuTicks> {
        parse_proc_stat(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// Percent of all CPU time between `earlier` and `self` that the host
    /// stole; `None` if no time passed.
    pub fn steal_pct_since(&self, earlier: &CpuTicks) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let steal = self.steal.checked_sub(earlier.steal)?;
        (total > 0).then(|| 100.0 * steal as f64 / total as f64)
    }
}

/// Reads the `cpu` line: user, nice, system, idle, iowait, irq, softirq,
/// steal (then guest time, already counted in user and nice).
fn parse_proc_stat(text: &str) -> Option<CpuTicks> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    Some(CpuTicks {
        steal: *ticks.get(7)?,
        total: ticks.iter().sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_read_from_the_cpu_line_and_taken_as_a_share_of_all_time() {
        let before = "cpu  100 0 50 800 10 0 5 35 7 0\ncpu0 50 0 25 400 5 0 2 18 3 0\n";
        let after = "cpu  200 0 100 1500 20 0 10 170 9 0\n";
        let (b, a) = (
            parse_proc_stat(before).unwrap(),
            parse_proc_stat(after).unwrap(),
        );
        assert_eq!(
            b,
            CpuTicks {
                steal: 35,
                total: 1000
            }
        );
        // 1,000 ticks passed, 135 of them stolen.
        assert_eq!(a.steal_pct_since(&b), Some(13.5));
        assert_eq!(b.steal_pct_since(&b), None);
        assert_eq!(parse_proc_stat("cpu  1 2 3\n"), None);
        assert_eq!(parse_proc_stat("intr 5\n"), None);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn interleaved_medians_run_the_measures_in_turn() {
        let calls = std::cell::RefCell::new(Vec::new());
        let a = || {
            calls.borrow_mut().push('a');
            calls.borrow().len() as f64
        };
        let b = || {
            calls.borrow_mut().push('b');
            10.0 * calls.borrow().len() as f64
        };
        assert_eq!(interleaved_medians(3, [&a, &b]), [3.0, 40.0]);
        assert_eq!(*calls.borrow(), ['a', 'b', 'a', 'b', 'a', 'b']);
    }
}
