//! [`ModelCache`]: the models this node keeps warm for serving rows.
//!
//! Keyed by model id; each entry holds the restored model behind an `Arc`, so a request
//! keeps sampling from a model even if the cache drops it meanwhile. The memory budget is
//! in bytes, estimated per model from its stored files ([`super::loader::estimate_bytes`]).
//! Beyond the budget the least recently used models go; a model unused for the TTL goes at
//! the next access, or at the next sweep of [`ModelCache::spawn_sweeper`]'s task. A model larger than the whole budget is
//! still served and kept, alone, until something else is loaded or its TTL passes.
//!
//! Loads are single-flight: the first request for a cold model starts its load on a
//! blocking thread, and every request for it meanwhile waits for that one load. The load
//! runs in a task of its own, so it completes (and warms the cache) even when the request
//! that started it goes away. Failed loads are not remembered: the next request retries.
//!
//! The cache holds few models (a budget of gigabytes, models of megabytes), so LRU order
//! is a use counter per entry and eviction scans them: simpler than a linked list, and
//! cheaper at this size.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mirage_core::ModelId;
use mirage_core::config::ServingConfig;
use mirage_models::Synthesizer;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::loader::{LoadError, LoadedModel, ModelLoader, StoreLoader};
use super::metrics::{CacheOccupancy, ServingMetrics};
use crate::jobs::ObjectStorage;

/// What the cache reads the time from (injected so tests can move it).
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// The answer of a load, shared with every request that waited for it.
type LoadOutcome = Option<Result<Arc<dyn Synthesizer>, LoadError>>;

/// The warm models of this node. Cheap to clone (clones share the cache).
#[derive(Clone)]
pub struct ModelCache {
    inner: Arc<Inner>,
}

struct Inner {
    config: ServingConfig,
    loader: Arc<dyn ModelLoader>,
    clock: Clock,
    metrics: ServingMetrics,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<ModelId, Entry>,
    loading: HashMap<ModelId, watch::Receiver<LoadOutcome>>,
    bytes: u64,
    uses: u64,
}

struct Entry {
    model: Arc<dyn Synthesizer>,
    bytes: u64,
    last_used: Instant,
    /// The cache-wide use count at its last use: the smallest is the least recent.
    used_at: u64,
}

impl std::fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let occupancy = self.occupancy();
        f.debug_struct("ModelCache")
            .field("models", &occupancy.models)
            .field("bytes", &occupancy.bytes)
            .field("capacity_bytes", &occupancy.capacity_bytes)
            .finish_non_exhaustive()
    }
}

impl ModelCache {
    /// A cache loading models from `storage` through directories under `scratch`.
    pub fn new(config: ServingConfig, storage: ObjectStorage, scratch: PathBuf) -> Self {
        let loader = Arc::new(StoreLoader::new(storage, scratch));
        Self::with_loader(config, loader, Arc::new(Instant::now))
    }

    /// A cache loading with `loader` and reading the time from `clock`.
    pub fn with_loader(config: ServingConfig, loader: Arc<dyn ModelLoader>, clock: Clock) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                loader,
                clock,
                metrics: ServingMetrics::default(),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The serving settings.
    pub fn config(&self) -> &ServingConfig {
        &self.inner.config
    }

    /// The counters.
    pub fn metrics(&self) -> &ServingMetrics {
        &self.inner.metrics
    }

    /// What the cache holds now.
    pub fn occupancy(&self) -> CacheOccupancy {
        let state = self.inner.lock();
        CacheOccupancy {
            models: state.entries.len() as u64,
            bytes: state.bytes,
            capacity_bytes: self.inner.config.cache_bytes,
        }
    }

    /// Appends the serving metrics to `out` (Prometheus text format).
    pub fn render(&self, out: &mut String) {
        self.inner.metrics.render(self.occupancy(), out);
    }

    /// Whether `model` is warm now (does not count as a use).
    pub fn is_warm(&self, model: ModelId) -> bool {
        self.inner.lock().entries.contains_key(&model)
    }

    /// Drops the models unused for the TTL.
    pub fn sweep(&self) {
        let now = (self.inner.clock)();
        let mut state = self.inner.lock();
        self.inner.expire(&mut state, now);
    }

    /// Sweeps expired models every quarter TTL (at most every minute) in the background,
    /// so idle models leave memory without waiting for a request. The task ends once
    /// every clone of the cache is dropped.
    pub fn spawn_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let period =
            (self.inner.ttl() / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
        let cache = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(inner) = cache.upgrade() else {
                    return;
                };
                ModelCache { inner }.sweep();
            }
        })
    }

    /// Model `model`, warm: from the cache, or loaded from the object key prefix `key`
    /// (once, however many requests ask for it meanwhile).
    pub async fn get(&self, model: ModelId, key: &str) -> Result<Arc<dyn Synthesizer>, LoadError> {
        let mut pending = {
            let now = (self.inner.clock)();
            let mut state = self.inner.lock();
            self.inner.expire(&mut state, now);
            state.uses += 1;
            let uses = state.uses;
            if let Some(entry) = state.entries.get_mut(&model) {
                entry.last_used = now;
                entry.used_at = uses;
                self.inner.metrics.hit();
                return Ok(Arc::clone(&entry.model));
            }
            self.inner.metrics.miss();
            match state.loading.get(&model) {
                Some(waiting) => waiting.clone(),
                None => {
                    let (sender, receiver) = watch::channel(None);
                    state.loading.insert(model, receiver.clone());
                    drop(state);
                    self.start_load(model, key.to_string(), sender);
                    receiver
                }
            }
        };
        let crashed = || LoadError::Crashed {
            model,
            message: "the load ended without an answer".into(),
        };
        let outcome = pending
            .wait_for(Option::is_some)
            .await
            .map_err(|_| crashed())?;
        match &*outcome {
            Some(result) => result.clone(),
            None => Err(crashed()),
        }
    }

    fn start_load(&self, model: ModelId, key: String, sender: watch::Sender<LoadOutcome>) {
        let inner = Arc::clone(&self.inner);
        debug!(model = %model, key = %key, "loading a cold model");
        tokio::spawn(async move {
            let loader = Arc::clone(&inner.loader);
            let result = tokio::task::spawn_blocking(move || loader.load(model, &key))
                .await
                .unwrap_or_else(|error| {
                    Err(LoadError::Crashed {
                        model,
                        message: error.to_string(),
                    })
                });
            let outcome = inner.finish_load(model, result);
            // Nobody waiting is fine: the model is warm for the next request.
            let _ = sender.send(Some(outcome));
        });
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements, so a panic elsewhere while
        // holding the lock leaves nothing half-done worth refusing service for.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn ttl(&self) -> Duration {
        Duration::from_secs(self.config.ttl_secs)
    }

    fn expire(&self, state: &mut State, now: Instant) {
        let ttl = self.ttl();
        let expired: Vec<ModelId> = state
            .entries
            .iter()
            .filter(|(_, entry)| now.saturating_duration_since(entry.last_used) >= ttl)
            .map(|(id, _)| *id)
            .collect();
        for model in expired {
            if let Some(entry) = state.entries.remove(&model) {
                state.bytes -= entry.bytes;
                self.metrics.evicted_for_ttl();
                info!(model = %model, bytes = entry.bytes, "warm model dropped after its ttl");
            }
        }
    }

    fn finish_load(
        &self,
        model: ModelId,
        result: Result<LoadedModel, LoadError>,
    ) -> Result<Arc<dyn Synthesizer>, LoadError> {
        let now = self.clock.as_ref()();
        let mut state = self.lock();
        state.loading.remove(&model);
        let loaded = match result {
            Ok(loaded) => loaded,
            Err(error) => {
                self.metrics.load_failed();
                warn!(model = %model, %error, "model load failed");
                return Err(error);
            }
        };
        self.metrics.loaded(loaded.bytes);
        state.uses += 1;
        let used_at = state.uses;
        state.bytes += loaded.bytes;
        let entry = Entry {
            model: Arc::clone(&loaded.model),
            bytes: loaded.bytes,
            last_used: now,
            used_at,
        };
        if let Some(old) = state.entries.insert(model, entry) {
            state.bytes -= old.bytes;
        }
        self.evict_over_capacity(&mut state, model);
        Ok(loaded.model)
    }

    /// Drops least recently used models until the budget holds, sparing `keep`.
    fn evict_over_capacity(&self, state: &mut State, keep: ModelId) {
        while state.bytes > self.config.cache_bytes {
            let oldest = state
                .entries
                .iter()
                .filter(|(id, _)| **id != keep)
                .min_by_key(|(_, entry)| entry.used_at)
                .map(|(id, _)| *id);
            let Some(victim) = oldest else {
                warn!(
                    model = %keep,
                    bytes = state.bytes,
                    capacity = self.config.cache_bytes,
                    "a model larger than serving.cache_bytes is kept alone; raise the budget"
                );
                return;
            };
            if let Some(entry) = state.entries.remove(&victim) {
                state.bytes -= entry.bytes;
                self.metrics.evicted_for_capacity();
                info!(model = %victim, bytes = entry.bytes, "warm model dropped for memory");
            }
        }
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
