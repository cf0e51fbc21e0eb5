//! The cluster supervisor's settings and changing state.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::placement::PlacementConfig;

/// How the scheduler behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Placement rules (liveness window, concurrency limit).
    pub placement: PlacementConfig,
    /// How long a lease lasts unless its node's heartbeat renews it.
    pub lease: Duration,
    /// How often a scheduling round runs.
    pub tick_interval: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            placement: PlacementConfig::default(),
            lease: Duration::from_secs(10),
            tick_interval: Duration::from_millis(500),
        }
    }
}

impl SchedulerConfig {
    /// The lease duration in whole milliseconds (at least 1).
    pub fn lease_ms(&self) -> u64 {
        u64::try_from(self.lease.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

/// The cluster supervisor's state.
#[derive(Debug, Default)]
pub struct ClusterSupervisorState {
    /// The scheduling timer.
    pub ticker: Option<JoinHandle<()>>,
}
