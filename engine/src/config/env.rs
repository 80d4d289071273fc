//! `KEEL_*` environment overrides applied to the parsed TOML document before
//! it is turned into a [`Config`](super::Config).
//!
//! `KEEL_SECTION__KEY=value` sets `section.key`. The value is read as a TOML
//! value when it parses as one (`500`, `0.8`, `true`, `[0, 1]`), as a list
//! of integers when it is comma-separated integers (`0,1`), and as a string
//! otherwise (`always`, `/var/lib/keel`). Variables starting with `KEEL_`
//! but without the double underscore are not config keys and are ignored.

use super::ConfigError;

const PREFIX: &str = "KEEL_";

pub(crate) fn apply_overrides(
    doc: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (var, raw) in vars {
        let Some(rest) = var.strip_prefix(PREFIX) else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            continue;
        };
        let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        if section.is_empty() || key.is_empty() {
            return Err(ConfigError::Env {
                var,
                value: raw,
                message: "expected KEEL_SECTION__KEY".to_owned(),
            });
        }
        let value = parse_value(&raw);
        let table = doc
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(table) = table.as_table_mut() else {
            return Err(ConfigError::Env {
                var,
                value: raw,
                message: format!("`{section}` is not a section"),
            });
        };
        table.insert(key, value);
    }
    Ok(())
}

fn parse_value(raw: &str) -> toml::Value {
    if let Ok(mut t) = format!("v = {raw}").parse::<toml::Table>() {
        if let Some(v) = t.remove("v") {
            return v;
        }
    }
    let ints: Result<Vec<i64>, _> = raw.split(',').map(|s| s.trim().parse::<i64>()).collect();
    match ints {
        Ok(list) if raw.contains(',') => {
            toml::Value::Array(list.into_iter().map(toml::Value::Integer).collect())
        }
        _ => toml::Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError, FsyncPolicy};

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load_with_env(
            None,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn overrides_set_typed_values() {
        let c = load(&[
            ("KEEL_ENGINE__TICK_PERIOD_US", "500"),
            ("KEEL_ENGINE__CORE_LIST", "0,1"),
            ("KEEL_BUS__WARNING_FILL", "0.6"),
            ("KEEL_WAL__FSYNC", "every_n"),
            ("KEEL_WAL__DIR", "/tmp/keel wal"),
            ("KEEL_LOG", "ignored: not a config key"),
            ("PATH", "/bin"),
        ])
        .unwrap();
        assert_eq!(c.engine.tick_period_us, 500);
        assert_eq!(c.engine.core_list, vec![0, 1]);
        assert_eq!(c.bus.warning_fill, 0.6);
        assert_eq!(c.wal.fsync, FsyncPolicy::EveryN);
        assert_eq!(c.wal.dir, "/tmp/keel wal");
    }

    #[test]
    fn override_out_of_range_names_the_key() {
        let err = load(&[("KEEL_BUS__RING_SIZE", "1000")]).unwrap_err();
        assert_eq!(err.key(), Some("bus.ring_size"));
    }

    #[test]
    fn unknown_override_key_is_refused_by_name() {
        let err = load(&[("KEEL_ENGINE__TICK_PERIOD", "5")]).unwrap_err();
        assert!(err.to_string().contains("tick_period"), "{err}");
    }

    #[test]
    fn wrongly_typed_override_is_refused_by_name() {
        let err = load(&[("KEEL_ENGINE__WORKER_COUNT", "many")]).unwrap_err();
        assert!(err.to_string().contains("worker_count"), "{err}");
    }

    #[test]
    fn file_then_env_then_validation() {
        let dir = std::env::temp_dir().join(format!("keel-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keel.toml");
        std::fs::write(&path, "[engine]\ntick_period_us = 2000\nworker_count = 1\n").unwrap();
        let c = Config::load_with_env(
            Some(&path),
            [("KEEL_ENGINE__WORKER_COUNT".to_owned(), "2".to_owned())],
        )
        .unwrap();
        assert_eq!((c.engine.tick_period_us, c.engine.worker_count), (2000, 2));
        std::fs::write(&path, "[engine]\ntick_period_us = 1\n").unwrap();
        let err = Config::load_with_env(Some(&path), []).unwrap_err();
        assert_eq!(err.key(), Some("engine.tick_period_us"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_file_key_is_refused_by_name() {
        let err = Config::from_toml_str("[bus]\nring_sise = 64\n").unwrap_err();
        assert!(err.to_string().contains("ring_sise"), "{err}");
    }
}
