//! Results: the table printed at the end and the JSON report.

use std::fmt::Write as _;
use std::path::Path;

use super::BenchError;

/// Metric every scenario gets where `/proc/stat` exists: percent of all
/// CPU time during the scenario that the hypervisor stole from this
/// machine's vCPUs. Ratios from a run with a high figure are weather.
pub const HOST_STEAL_PCT: &str = "host_steal_pct";

/// Metric of scenarios that measure microsecond latencies: percent of the
/// time in which one of two spinning threads was stopped by the host, for
/// over 2 us more, while the other ran
/// (`keel_benches::bus::host_paused_alone_pct`). A paced message sent
/// then waits over 2 us, so a p99 under 2 us needs this under 1%,
/// whatever the ring.
pub const HOST_PAUSED_ALONE_PCT: &str = "host_paused_alone_pct_over_2us";

/// A Keel figure set against a peer figure.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// What is compared, in words.
    pub what: &'static str,
    /// The metric measuring Keel.
    pub keel: &'static str,
    /// The metric measuring the peer (None: Keel only).
    pub peer: Option<&'static str>,
    /// Unit of both figures.
    pub unit: &'static str,
    /// True if smaller figures are better (times), false for rates.
    pub lower_is_better: bool,
}

/// What one scenario measured.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: &'static str,
    /// Metrics in the order measured.
    pub metrics: Vec<(&'static str, f64)>,
    /// Rows of the results table.
    pub comparisons: Vec<Comparison>,
}

impl ScenarioResult {
    /// A metric's value.
    pub fn get(&self, metric: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(n, _)| *n == metric)
            .map(|(_, v)| *v)
    }
}

/// How many times better Keel is than the peer (above 1: Keel wins).
fn advantage(c: &Comparison, keel: f64, peer: f64) -> f64 {
    if c.lower_is_better {
        peer / keel
    } else {
        keel / peer
    }
}

/// The results table: one row per comparison.
pub fn table(results: &[ScenarioResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<10} {:<44} {:>14} {:>14} {:>9}",
        "scenario", "measure", "keel", "peer", "keel adv"
    );
    for r in results {
        for c in &r.comparisons {
            let keel = r.get(c.keel).unwrap_or(f64::NAN);
            let (peer, adv) = match c.peer.and_then(|p| r.get(p)) {
                Some(p) => (fmt(p), format!("{:.2}x", advantage(c, keel, p))),
                None => ("-".to_owned(), "-".to_owned()),
            };
            let what = format!("{} ({})", c.what, c.unit);
            let _ = writeln!(
                out,
                "{:<10} {:<44} {:>14} {:>14} {:>9}",
                r.name,
                what,
                fmt(keel),
                peer,
                adv
            );
        }
    }
    let _ = writeln!(
        out,
        "keel adv: how many times better Keel is than the peer in the same run (>1 = Keel wins)"
    );
    host_line(
        &mut out,
        results,
        HOST_STEAL_PCT,
        "host steal (CPU time the hypervisor took from this VM)",
    );
    host_line(
        &mut out,
        results,
        HOST_PAUSED_ALONE_PCT,
        "host pauses (time a spinning thread was stopped, for 2 us more or longer, while \
         another ran; a p99 under 2 us needs under 1%)",
    );
    out
}

/// A line under the table giving a host metric's percent for each
/// scenario that measured it (none if none did).
fn host_line(out: &mut String, results: &[ScenarioResult], metric: &str, what: &str) {
    let each: Vec<String> = results
        .iter()
        .filter_map(|r| Some(format!("{} {:.1}%", r.name, r.get(metric)?)))
        .collect();
    if !each.is_empty() {
        let _ = writeln!(out, "{what}: {}", each.join(", "));
    }
}

fn fmt(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{:.3e}", v)
    } else {
        format!("{:.3}", v)
    }
}

/// Writes `{"machine":{..},"quick":..,"scenarios":[{"name":..,"metrics":{..}}]}`.
pub fn write_json(path: &Path, results: &[ScenarioResult], quick: bool) -> Result<(), BenchError> {
    let scenarios: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let metrics: serde_json::Map<String, serde_json::Value> = r
                .metrics
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::json!(v)))
                .collect();
            serde_json::json!({ "name": r.name, "metrics": metrics })
        })
        .collect();
    let doc = serde_json::json!({ "machine": machine(), "quick": quick, "scenarios": scenarios });
    let text = serde_json::to_string_pretty(&doc).expect("JSON values always serialise");
    std::fs::write(path, text + "\n").map_err(|e| BenchError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// The machine the figures came from.
fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    serde_json::json!({ "cpu": cpu, "cores": cores, "os": std::env::consts::OS, "arch": std::env::consts::ARCH })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &'static str, metrics: Vec<(&'static str, f64)>) -> ScenarioResult {
        ScenarioResult {
            name,
            metrics,
            comparisons: vec![Comparison {
                what: "x vs y",
                keel: "x",
                peer: Some("y"),
                unit: "ops/s",
                lower_is_better: false,
            }],
        }
    }

    #[test]
    fn the_table_names_the_host_steal_of_each_scenario_that_measured_it() {
        let with = result("bus", vec![("x", 4.0), ("y", 2.0), (HOST_STEAL_PCT, 15.04)]);
        let without = result("wal", vec![("x", 1.0), ("y", 1.0)]);
        let text = table(&[with.clone(), without.clone()]);
        assert!(text.contains("2.00x"), "{text}");
        assert!(
            text.contains("host steal (CPU time the hypervisor took from this VM): bus 15.0%\n"),
            "{text}"
        );
        assert!(!table(&[without]).contains("host steal"));
        assert!(!text.contains("host pauses"));
        let paused = result("bus", vec![("x", 4.0), (HOST_PAUSED_ALONE_PCT, 3.26)]);
        let text = table(&[paused]);
        assert!(text.contains("needs under 1%): bus 3.3%\n"), "{text}");
    }
}
