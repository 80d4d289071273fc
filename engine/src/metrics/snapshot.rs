//! A subsystem's metrics at one moment.

use hdrhistogram::Histogram;

/// Whether a sample only grows or goes up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Monotonic total since start.
    Counter,
    /// Current value.
    Gauge,
}

/// One value with its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Name within the subsystem, e.g. `queue_depth`.
    pub name: String,
    /// One line saying what it measures.
    pub help: String,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// Label pairs, e.g. `("partition", "3")`.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// Every sample of one subsystem.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSnapshot {
    /// The subsystem's name; rendered as a name prefix.
    pub subsystem: String,
    /// Its samples.
    pub samples: Vec<Sample>,
}

impl MetricsSnapshot {
    /// An empty snapshot for `subsystem`.
    pub fn new(subsystem: &str) -> MetricsSnapshot {
        MetricsSnapshot {
            subsystem: subsystem.to_owned(),
            samples: Vec::new(),
        }
    }

    fn push(
        &mut self,
        kind: MetricKind,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        self.samples.push(Sample {
            name: name.to_owned(),
            help: help.to_owned(),
            kind,
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            value,
        });
    }

    /// Adds a counter sample.
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.push(MetricKind::Counter, name, help, labels, value);
    }

    /// Adds a gauge sample.
    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.push(MetricKind::Gauge, name, help, labels, value);
    }

    /// Adds p50, p95 and p99 of a histogram as gauges labelled `quantile`
    /// (nothing while the histogram is empty).
    pub fn latency(&mut self, name: &str, help: &str, labels: &[(&str, &str)], h: &Histogram<u64>) {
        if h.is_empty() {
            return;
        }
        for (q, label) in [(0.50, "0.5"), (0.95, "0.95"), (0.99, "0.99")] {
            let mut with_q: Vec<(&str, &str)> = labels.to_vec();
            with_q.push(("quantile", label));
            self.gauge(name, help, &with_q, h.value_at_quantile(q) as f64);
        }
    }

    /// The first sample with this name and these labels (in any order).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .map(|s| s.value)
    }
}
