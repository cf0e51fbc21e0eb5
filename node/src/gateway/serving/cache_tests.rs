//! Unit tests of the model cache with a fake loader and a clock the tests move.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use mirage_core::config::ServingConfig;
use mirage_core::records::ModelKind;
use mirage_core::{ModelId, Schema};
use mirage_models::Synthesizer;
use rand_chacha::ChaCha8Rng;

use super::{Clock, ModelCache};
use crate::gateway::serving::loader::{LoadError, LoadedModel, ModelLoader};

/// A model that generates nothing: the cache never looks inside.
#[derive(Debug, Default)]
struct Blank(Schema);

impl Synthesizer for Blank {
    fn kind(&self) -> ModelKind {
        ModelKind::GaussianCopula
    }
    fn schema(&self) -> &Schema {
        &self.0
    }
    fn sample_batch(
        &self,
        _rows: usize,
        _first_row: u64,
        _rng: &mut ChaCha8Rng,
    ) -> mirage_models::Result<RecordBatch> {
        Ok(RecordBatch::new_empty(self.0.arrow_schema()))
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    fn parameters_json(&self) -> mirage_models::Result<serde_json::Value> {
        Ok(serde_json::json!({}))
    }
}

/// Loads blank models of `bytes` each after `delay`, failing the ids in `failing` once.
#[derive(Debug, Default)]
struct FakeLoader {
    bytes: u64,
    delay: Duration,
    loads: AtomicUsize,
    failing: Mutex<HashSet<ModelId>>,
}

impl ModelLoader for FakeLoader {
    fn load(&self, model: ModelId, key: &str) -> Result<LoadedModel, LoadError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        let failed = self
            .failing
            .lock()
            .map(|mut failing| failing.remove(&model))
            .unwrap_or(false);
        if failed {
            return Err(LoadError::Missing {
                model,
                key: key.to_string(),
            });
        }
        Ok(LoadedModel {
            model: Arc::new(Blank::default()),
            bytes: self.bytes,
        })
    }
}

/// A clock the test moves by hand.
#[derive(Debug, Clone)]
struct ManualClock(Arc<Mutex<Instant>>);

impl ManualClock {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(Instant::now())))
    }
    fn advance(&self, by: Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
    fn clock(&self) -> Clock {
        let time = Arc::clone(&self.0);
        Arc::new(move || {
            time.lock()
                .map(|now| *now)
                .unwrap_or_else(|_| Instant::now())
        })
    }
}

fn config(cache_bytes: u64, ttl_secs: u64) -> ServingConfig {
    ServingConfig {
        cache_bytes,
        ttl_secs,
        ..ServingConfig::default()
    }
}

fn cache(config: ServingConfig, loader: FakeLoader) -> (ModelCache, Arc<FakeLoader>, ManualClock) {
    let loader = Arc::new(loader);
    let clock = ManualClock::new();
    let cache = ModelCache::with_loader(config, loader.clone(), clock.clock());
    (cache, loader, clock)
}

fn model(n: u128) -> ModelId {
    ModelId::from_uuid(uuid::Uuid::from_u128(n))
}

#[tokio::test]
async fn least_recently_used_models_go_first_beyond_the_budget() -> anyhow::Result<()> {
    let loader = FakeLoader {
        bytes: 100,
        ..FakeLoader::default()
    };
    let (cache, loader, _) = cache(config(250, 600), loader);
    let (a, b, c) = (model(1), model(2), model(3));
    cache.get(a, "models/a").await?;
    cache.get(b, "models/b").await?;
    cache.get(a, "models/a").await?; // a is now more recent than b
    cache.get(c, "models/c").await?; // 300 bytes > 250: b goes
    assert!(cache.is_warm(a) && cache.is_warm(c));
    assert!(
        !cache.is_warm(b),
        "the least recently used model is dropped"
    );
    let occupancy = cache.occupancy();
    assert_eq!((occupancy.models, occupancy.bytes), (2, 200));
    let counters = cache.metrics().snapshot();
    assert_eq!(counters.hits, 1);
    assert_eq!(counters.misses, 3);
    assert_eq!(counters.evicted_for_capacity, 1);
    assert_eq!(loader.loads.load(Ordering::SeqCst), 3);
    assert_eq!(counters.loaded_bytes, 300);
    Ok(())
}

#[tokio::test]
async fn a_model_larger_than_the_budget_is_served_and_kept_alone() -> anyhow::Result<()> {
    let loader = FakeLoader {
        bytes: 500,
        ..FakeLoader::default()
    };
    let (cache, _, _) = cache(config(250, 600), loader);
    cache.get(model(1), "models/a").await?;
    assert!(cache.is_warm(model(1)));
    cache.get(model(2), "models/b").await?;
    assert!(!cache.is_warm(model(1)) && cache.is_warm(model(2)));
    assert_eq!(cache.occupancy().bytes, 500);
    Ok(())
}

#[tokio::test]
async fn models_unused_for_the_ttl_are_dropped() -> anyhow::Result<()> {
    let loader = FakeLoader {
        bytes: 10,
        ..FakeLoader::default()
    };
    let (cache, loader, clock) = cache(config(1 << 20, 10), loader);
    let (a, b) = (model(1), model(2));
    cache.get(a, "models/a").await?;
    clock.advance(Duration::from_secs(5));
    cache.get(b, "models/b").await?;
    clock.advance(Duration::from_secs(6));
    cache.sweep();
    assert!(!cache.is_warm(a), "unused for 11 s with a 10 s ttl");
    assert!(cache.is_warm(b), "unused for 6 s");
    // A use restarts the ttl.
    cache.get(b, "models/b").await?;
    clock.advance(Duration::from_secs(9));
    cache.sweep();
    assert!(cache.is_warm(b));
    // An expired model is loaded again on the next request.
    clock.advance(Duration::from_secs(1));
    cache.get(b, "models/b").await?;
    assert_eq!(loader.loads.load(Ordering::SeqCst), 3);
    let counters = cache.metrics().snapshot();
    assert_eq!(counters.evicted_for_ttl, 2);
    assert_eq!(cache.occupancy().bytes, 10);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_for_a_cold_model_load_it_once() -> anyhow::Result<()> {
    let loader = FakeLoader {
        bytes: 10,
        delay: Duration::from_millis(200),
        ..FakeLoader::default()
    };
    let (cache, loader, _) = cache(config(1 << 20, 600), loader);
    let requests: Vec<_> = (0..8)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(model(1), "models/a").await })
        })
        .collect();
    let mut models = Vec::new();
    for request in requests {
        models.push(request.await??);
    }
    assert_eq!(
        loader.loads.load(Ordering::SeqCst),
        1,
        "one load for 8 requests"
    );
    assert!(models.windows(2).all(|w| Arc::ptr_eq(&w[0], &w[1])));
    assert_eq!(cache.metrics().snapshot().loads, 1);
    Ok(())
}

#[tokio::test]
async fn a_failed_load_is_reported_and_retried_by_the_next_request() -> anyhow::Result<()> {
    let loader = FakeLoader {
        bytes: 10,
        failing: Mutex::new(HashSet::from([model(1)])),
        ..FakeLoader::default()
    };
    let (cache, loader, _) = cache(config(1 << 20, 600), loader);
    let error = cache
        .get(model(1), "models/a")
        .await
        .expect_err("the first load fails");
    let status = error.status();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(
        status.message().contains("train the model again"),
        "{status:?}"
    );
    assert!(!cache.is_warm(model(1)));
    cache.get(model(1), "models/a").await?;
    assert_eq!(loader.loads.load(Ordering::SeqCst), 2);
    let counters = cache.metrics().snapshot();
    assert_eq!((counters.load_failures, counters.loads), (1, 1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_finishes_when_its_request_goes_away() -> anyhow::Result<()> {
    let loader = FakeLoader {
        bytes: 10,
        delay: Duration::from_millis(150),
        ..FakeLoader::default()
    };
    let (cache, loader, _) = cache(config(1 << 20, 600), loader);
    let gave_up =
        tokio::time::timeout(Duration::from_millis(10), cache.get(model(1), "models/a")).await;
    assert!(gave_up.is_err(), "the request is dropped mid-load");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cache.is_warm(model(1)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cache.is_warm(model(1)), "the load warmed the cache anyway");
    cache.get(model(1), "models/a").await?;
    assert_eq!(loader.loads.load(Ordering::SeqCst), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_drops_idle_models_without_requests() -> anyhow::Result<()> {
    let loader = FakeLoader {
        bytes: 10,
        ..FakeLoader::default()
    };
    let (cache, _, clock) = cache(config(1 << 20, 1), loader);
    cache.get(model(1), "models/a").await?;
    let sweeper = cache.spawn_sweeper();
    clock.advance(Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache.is_warm(model(1)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!cache.is_warm(model(1)), "swept with no request");
    assert_eq!(cache.occupancy().bytes, 0);
    drop(cache);
    tokio::time::timeout(Duration::from_secs(5), sweeper).await??;
    Ok(())
}
