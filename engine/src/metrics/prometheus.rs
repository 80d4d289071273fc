//! Prometheus text exposition format (version 0.0.4).

use std::fmt::Write;

use super::{MetricKind, MetricsSnapshot};

/// Renders snapshots as `keel_{subsystem}_{name}{labels} value` lines, one
/// `# HELP` and `# TYPE` per metric family, families in first-seen order.
/// Names are reduced to `[a-zA-Z0-9_]`; label values are escaped.
pub fn render_prometheus(snapshots: &[MetricsSnapshot]) -> String {
    let mut families: Vec<(String, &str, MetricKind, Vec<String>)> = Vec::new();
    for snapshot in snapshots {
        for sample in &snapshot.samples {
            let family = format!(
                "keel_{}_{}",
                sanitize(&snapshot.subsystem),
                sanitize(&sample.name)
            );
            let line = format!(
                "{family}{} {}",
                labels(&sample.labels),
                number(sample.value)
            );
            match families.iter_mut().find(|f| f.0 == family) {
                Some(f) => f.3.push(line),
                None => families.push((family, &sample.help, sample.kind, vec![line])),
            }
        }
    }
    let mut out = String::new();
    for (family, help, kind, lines) in families {
        let kind = match kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(out, "# HELP {family} {help}");
        let _ = writeln!(out, "# TYPE {family} {kind}");
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn labels(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{}=\"{v}\"", sanitize(k))
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}
