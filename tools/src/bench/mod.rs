//! The `keel bench` harness: scenarios, progress display, results table and
//! JSON report.

mod bus;
mod cache;
mod measure;
mod progress;
mod report;
mod resilience;
mod tick;
mod wal;

use std::path::Path;

use measure::CpuTicks;

pub use progress::Progress;
pub use report::{Comparison, ScenarioResult};

/// Why a benchmark run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A scenario name nobody knows.
    #[error("unknown scenario `{0}` (known: {1})")]
    UnknownScenario(String, String),
    /// The JSON report could not be written.
    #[error("writing {path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The OS message.
        message: String,
    },
}

/// Options every scenario gets.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Short runs.
    pub quick: bool,
}

/// One benchmark scenario: Keel and its peers, measured in one run.
pub struct Scenario {
    /// Name used on the command line and in JSON.
    pub name: &'static str,
    /// What it measures, for `--list` and the README.
    pub about: &'static str,
    /// Measurement steps, for the progress display.
    pub steps: usize,
    /// Runs it.
    pub run: fn(&BenchOptions, &mut Progress) -> Result<ScenarioResult, BenchError>,
}

fn scenarios() -> Vec<Scenario> {
    vec![
        tick::scenario(),
        bus::scenario(),
        cache::scenario(),
        wal::scenario(),
        resilience::scenario(),
    ]
}

/// Prints every scenario and what it measures.
pub fn list() {
    for s in scenarios() {
        println!("{:<12} {}", s.name, s.about);
    }
}

/// Runs the named scenarios (all if none), prints the table, writes JSON.
pub fn run(names: &[String], quick: bool, json: Option<&Path>) -> Result<(), BenchError> {
    let all = scenarios();
    let known = || all.iter().map(|s| s.name).collect::<Vec<_>>().join(", ");
    let chosen: Vec<&Scenario> = if names.is_empty() {
        all.iter().collect()
    } else {
        names
            .iter()
            .map(|n| {
                all.iter()
                    .find(|s| s.name == n)
                    .ok_or_else(|| BenchError::UnknownScenario(n.clone(), known()))
            })
            .collect::<Result<_, _>>()?
    };
    let options = BenchOptions { quick };
    let total_steps = chosen.iter().map(|s| s.steps).sum();
    let mut progress = Progress::new(total_steps);
    let mut results = Vec::new();
    for scenario in chosen {
        progress.scenario(scenario.name);
        let before = CpuTicks::now();
        let mut result = (scenario.run)(&options, &mut progress)?;
        if let Some(pct) = before
            .zip(CpuTicks::now())
            .and_then(|(b, a)| a.steal_pct_since(&b))
        {
            result.metrics.push((report::HOST_STEAL_PCT, pct));
        }
        results.push(result);
    }
    progress.finish();
    print!("{}", report::table(&results));
    if let Some(path) = json {
        report::write_json(path, &results, quick)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
