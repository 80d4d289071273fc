//! What the engine renders is valid Prometheus text exposition: a strict
//! parser reads it back, every sample belongs to a family declared once with
//! HELP and TYPE, and the values match the snapshot.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use keel_engine::{render_prometheus, Config, Engine, MetricsSnapshot, System, World};

/// Name, labels, value.
type ParsedSample = (String, Vec<(String, String)>, f64);

#[derive(Debug)]
struct Parsed {
    types: HashMap<String, String>,
    samples: Vec<ParsedSample>,
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_labels(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").expect("label name then =\"");
        assert!(valid_name(name), "label name {name:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next().expect("closing quote");
            match c {
                '\\' => match chars.next().expect("escape").1 {
                    'n' => value.push('\n'),
                    e @ ('\\' | '"') => value.push(e),
                    e => panic!("bad escape \\{e}"),
                },
                '"' => break i,
                c => value.push(c),
            }
        };
        out.push((name.to_owned(), value));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out
}

fn parse(text: &str) -> Parsed {
    let mut types = HashMap::new();
    let mut helped = HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(helped.insert(name.to_owned()), "HELP twice for {name}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge"].contains(&kind), "type {kind}");
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "TYPE twice for {name}"
            );
        } else {
            let (head, value) = line.rsplit_once(' ').expect("sample line has a value");
            let value: f64 = match value {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("value {v:?}")),
            };
            let (name, labels) = match head.split_once('{') {
                Some((n, l)) => (n, parse_labels(l.strip_suffix('}').expect("closing brace"))),
                None => (head, Vec::new()),
            };
            assert!(valid_name(name), "metric name {name:?}");
            assert!(types.contains_key(name), "{name} sampled before its TYPE");
            assert!(helped.contains(name), "{name} sampled before its HELP");
            samples.push((name.to_owned(), labels, value));
        }
    }
    Parsed { types, samples }
}

#[test]
fn rendered_snapshots_parse_back_with_their_values() {
    let mut m = MetricsSnapshot::new("bus.main");
    m.counter(
        "published_total",
        "Messages published.",
        &[("topic", "orders \"eu\"\\x")],
        12.0,
    );
    m.counter(
        "published_total",
        "Messages published.",
        &[("topic", "line\nbreak")],
        3.0,
    );
    m.gauge("depth", "Depth.", &[], 0.25);
    let parsed = parse(&render_prometheus(&[m]));
    assert_eq!(parsed.types["keel_bus_main_published_total"], "counter");
    assert_eq!(parsed.types["keel_bus_main_depth"], "gauge");
    let eu = parsed
        .samples
        .iter()
        .find(|s| s.1 == [("topic".to_owned(), "orders \"eu\"\\x".to_owned())])
        .unwrap();
    assert_eq!(eu.2, 12.0);
    let lb = parsed
        .samples
        .iter()
        .find(|s| s.1 == [("topic".to_owned(), "line\nbreak".to_owned())])
        .unwrap();
    assert_eq!(lb.2, 3.0);
}

#[test]
fn the_engines_whole_metrics_text_parses() {
    let mut config = Config::default();
    config.engine.deterministic = true;
    let mut engine = Engine::new(config, World::new()).unwrap();
    engine.add_system(System::new("noop", |_| Ok(()))).unwrap();
    for _ in 0..10 {
        engine
            .sim_clock()
            .unwrap()
            .advance(std::time::Duration::from_millis(1));
        engine.run_tick().unwrap();
    }
    let _ = Arc::clone(engine.registry());
    let parsed = parse(&engine.metrics_text());
    let runs = parsed
        .samples
        .iter()
        .find(|s| {
            s.0 == "keel_scheduler_system_runs_total"
                && s.1 == [("system".to_owned(), "noop".to_owned())]
        })
        .unwrap();
    assert_eq!(runs.2, 10.0);
    let quantiles: Vec<&str> = parsed
        .samples
        .iter()
        .filter(|s| s.0 == "keel_scheduler_system_run_ns")
        .flat_map(|s| {
            s.1.iter()
                .filter(|l| l.0 == "quantile")
                .map(|l| l.1.as_str())
        })
        .collect();
    assert_eq!(quantiles, ["0.5", "0.95", "0.99"]);
}
