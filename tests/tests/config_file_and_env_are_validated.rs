//! A host loading a TOML file with environment overrides gets the typed
//! config, or an error naming the key, the value and the allowed range.

use keel_engine::{Config, ConfigError};

#[test]
fn a_bad_value_in_a_file_names_key_value_and_range() {
    let dir = std::env::temp_dir().join(format!("keel-cfg-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keel.toml");
    std::fs::write(&path, "[bus]\nring_size = 1000\n").unwrap();
    let err = Config::load_with_env(Some(&path), []).unwrap_err();
    match &err {
        ConfigError::OutOfRange {
            key,
            value,
            allowed,
        } => {
            assert_eq!((key.as_str(), value.as_str()), ("bus.ring_size", "1000"));
            assert!(allowed.contains("power of two"), "{allowed}");
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("bus.ring_size") && text.contains("1000"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_file_is_named() {
    let err = Config::load_with_env(Some(std::path::Path::new("/nonexistent/keel.toml")), [])
        .unwrap_err();
    assert!(matches!(err, ConfigError::Io { ref path, .. } if path.contains("nonexistent")));
}
