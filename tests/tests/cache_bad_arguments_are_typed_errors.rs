//! Bad cache settings are refused at build with a typed error naming the
//! setting and what is allowed.

use std::time::Duration;

use keel_engine::{
    BoundedCache, CacheBuilder, CacheError, Config, EvictionPolicy, MAX_ENTRIES_LIMIT,
};

fn builder() -> CacheBuilder<u64, u64> {
    BoundedCache::<u64, u64>::builder("c")
}

fn err(b: CacheBuilder<u64, u64>) -> CacheError {
    match b.build() {
        Ok(_) => panic!("a bad setting was accepted"),
        Err(e) => e,
    }
}

#[test]
fn zero_limits_are_refused_by_name() {
    let e = err(builder().max_entries(0).shards(1));
    assert_eq!(
        e,
        CacheError::ZeroLimit {
            cache: "c".into(),
            limit: "max_entries"
        }
    );
    assert!(e.to_string().contains("max_entries"), "{e}");
    let e = err(builder().max_entries(10).max_bytes(0).shards(1));
    assert!(
        matches!(
            e,
            CacheError::ZeroLimit {
                limit: "max_memory_bytes",
                ..
            }
        ),
        "{e}"
    );
    let e = err(builder().max_entries(10).policy(EvictionPolicy::Ttl {
        ttl: Duration::ZERO,
    }));
    assert!(
        matches!(e, CacheError::ZeroLimit { limit: "ttl", .. }),
        "{e}"
    );
}

#[test]
fn shard_counts_must_be_powers_of_two_within_the_limits() {
    let e = err(builder().max_entries(100).shards(3));
    assert_eq!(
        e,
        CacheError::ShardsNotPowerOfTwo {
            cache: "c".into(),
            shards: 3,
            suggested: 4
        }
    );
    let e = err(builder().max_entries(100).shards(0));
    assert!(matches!(e, CacheError::ShardsNotPowerOfTwo { .. }), "{e}");
    let e = err(builder().max_entries(4).shards(8));
    assert!(
        matches!(
            e,
            CacheError::LimitBelowShards {
                limit: "max_entries",
                value: 4,
                shards: 8,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn out_of_range_sizes_are_refused() {
    let e = err(builder().max_entries(MAX_ENTRIES_LIMIT + 1).shards(1));
    assert!(matches!(e, CacheError::TooManyEntries { .. }), "{e}");
    for percent in [0u8, 101] {
        let e = err(builder().max_bytes_ram_share(percent));
        assert!(
            matches!(e, CacheError::RamShareOutOfRange { percent: p, .. } if p == percent),
            "{e}"
        );
    }
    let e = err(BoundedCache::<u64, u64>::builder("").max_entries(1));
    assert_eq!(e, CacheError::EmptyName);
}

#[test]
fn ram_share_and_config_sizing_build() {
    let cache = builder().max_bytes_ram_share(1).shards(2).build().unwrap();
    let (entries, bytes) = cache.limits();
    assert_eq!(bytes, keel_engine::ram_share_bytes(1));
    assert_eq!(entries, (bytes / 64).min(MAX_ENTRIES_LIMIT));
    let cache = CacheBuilder::<u64, u64>::from_config("cfg", &Config::default())
        .build()
        .unwrap();
    assert_eq!(cache.policy(), EvictionPolicy::Arc);
    assert_eq!(cache.limits().0, 100_000);
    assert_eq!(cache.limits().1, keel_engine::ram_share_bytes(10));
    assert!(cache.shard_count().is_power_of_two());
}

#[test]
fn runtime_limits_are_checked_like_build_limits() {
    let cache = builder().max_entries(100).shards(4).build().unwrap();
    assert!(matches!(
        cache.set_limits(0, 1_000),
        Err(CacheError::ZeroLimit {
            limit: "max_entries",
            ..
        })
    ));
    assert!(matches!(
        cache.set_limits(100, 2),
        Err(CacheError::LimitBelowShards {
            limit: "max_memory_bytes",
            ..
        })
    ));
    assert_eq!(cache.limits(), (100, u64::MAX));
    assert!(matches!(
        cache.flush(),
        Err(CacheError::NoBackingStore { .. })
    ));
    assert!(matches!(
        cache.get_or_load(&1),
        Err(CacheError::NoBackingStore { .. })
    ));
}
