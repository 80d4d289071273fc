//! Typed start-up configuration.
//!
//! Every constant the engine uses has a documented default here. A host
//! builds a [`Config`] with [`Config::default`], [`Config::from_toml_str`],
//! [`Config::load`] (a TOML file plus `KEEL_*` environment overrides) and
//! then calls [`Config::validate`]; [`Config::load`] validates for you.
//!
//! Environment overrides name a key by its section and field joined with a
//! double underscore: `KEEL_ENGINE__TICK_PERIOD_US=500`,
//! `KEEL_BUS__RING_SIZE=131072`, `KEEL_ENGINE__CORE_LIST=0,1`.

mod env;
mod sections;
mod validate;

use std::path::Path;

pub(crate) use validate::CAPACITY_MAX;

pub use sections::{
    BusConfig, CacheConfig, CacheEviction, EngineConfig, FsyncPolicy, ResilienceConfig,
    TablesConfig, WalConfig,
};

use serde::{Deserialize, Serialize};

/// Why a configuration was refused. Each variant names what was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A value is outside the range the engine accepts.
    #[error("config key `{key}` = {value} is out of range: allowed {allowed}")]
    OutOfRange {
        /// Dotted key, e.g. `engine.tick_period_us`.
        key: String,
        /// The refused value as written.
        value: String,
        /// The allowed range or set, in words.
        allowed: String,
    },
    /// The TOML text could not be parsed or had a wrongly typed or unknown key.
    #[error("config {source_name}: {message}")]
    Parse {
        /// Where the text came from (a path, or `<string>`).
        source_name: String,
        /// The parser's message, which names the key.
        message: String,
    },
    /// An environment override could not be applied.
    #[error("environment override {var}={value}: {message}")]
    Env {
        /// The variable name, e.g. `KEEL_ENGINE__TICK_PERIOD_US`.
        var: String,
        /// Its value.
        value: String,
        /// What was wrong with it.
        message: String,
    },
    /// The config file could not be read.
    #[error("config file {path}: {message}")]
    Io {
        /// The path that was read.
        path: String,
        /// The operating system's message.
        message: String,
    },
}

impl ConfigError {
    /// The dotted key this error is about, where it is about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::OutOfRange { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// The whole start-up configuration, one section per subsystem.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Tick loop, workers and pinning.
    pub engine: EngineConfig,
    /// Capacities of the columnar tables, fixed at start-up.
    pub tables: TablesConfig,
    /// Message bus and its Disruptor rings.
    pub bus: BusConfig,
    /// Write-ahead log segments and fsync policy.
    pub wal: WalConfig,
    /// Circuit breakers, bulkheads and retries.
    pub resilience: ResilienceConfig,
    /// The bounded cache.
    pub cache: CacheConfig,
}

impl Config {
    /// Parses TOML text (keys not given keep their defaults). Does not validate.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            source_name: "<string>".to_owned(),
            message: e.to_string(),
        })
    }

    /// Reads `path` (if given), applies `KEEL_*` variables from the process
    /// environment, and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_with_env(path, std::env::vars())
    }

    /// Like [`Config::load`], with the environment passed in (for tests and
    /// hosts that keep their own).
    pub fn load_with_env(
        path: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|e| ConfigError::Io {
                path: p.display().to_string(),
                message: e.to_string(),
            })?,
            None => String::new(),
        };
        let source_name = path.map_or("<defaults>".to_owned(), |p| p.display().to_string());
        let mut doc: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            source_name: source_name.clone(),
            message: e.to_string(),
        })?;
        env::apply_overrides(&mut doc, vars)?;
        let config: Config = toml::Value::Table(doc)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                source_name,
                message: e.to_string(),
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every rule; the first broken one is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate::validate(self)
    }
}
