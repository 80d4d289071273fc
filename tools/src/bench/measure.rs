//! Measurement helpers: rounds, medians.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }
}
