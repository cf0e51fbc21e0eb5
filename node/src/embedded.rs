//! The embedded single-node cluster: the one-shot commands (`mirage synth`) run through the
//! same Raft state machine, scheduler, node supervisor and worker as a cluster node, with a
//! one-member Raft group on sled in a temporary (or given) directory and no network.
//!
//! [`EmbeddedCluster::run`] submits one job and waits for its end; the work itself is a
//! [`JobRunner`] the caller hands in (the synth pipeline, for `mirage synth`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use mirage_actors::runtime::{ActorGroups, RunContext};
use mirage_actors::{Command, Job, JobRunner, JobSpec, JobState, NodeSpec, Resources, StateClient};
use mirage_core::JobId;
use mirage_core::config::ClusterTimingConfig;
use mirage_core::ids::NodeId as ActorNodeId;
use mirage_core::records::JobKind;

use crate::api::default_tenant;
use crate::cluster::{ClusterMachine, ClusterNode, Members, RaftStateClient, RetryPolicy};
use crate::node_runtime::{NodeRuntime, RuntimeParts};
use crate::raft::{InProcessNetwork, RaftNode, RaftNodeConfig};

/// The embedded member's Raft id.
const EMBEDDED_ID: u64 = 1;

/// How often the caller looks at its job.
const POLL: Duration = Duration::from_millis(25);

/// Timings for one process: no peers to wait for, so the scheduler ticks often.
fn timing() -> ClusterTimingConfig {
    ClusterTimingConfig {
        lease_ms: 60_000,
        node_heartbeat_ms: 5_000,
        schedule_ms: 20,
        ..ClusterTimingConfig::default()
    }
}

/// Where the embedded cluster keeps its sled store.
enum StateDir {
    Temporary(tempfile::TempDir),
    Given(PathBuf),
}

impl StateDir {
    fn path(&self) -> &Path {
        match self {
            StateDir::Temporary(dir) => dir.path(),
            StateDir::Given(path) => path,
        }
    }
}

/// A one-member cluster in this process.
pub struct EmbeddedCluster {
    node: Arc<ClusterNode>,
    client: Arc<RaftStateClient>,
    runtime: NodeRuntime,
    _dir: StateDir,
}

impl std::fmt::Debug for EmbeddedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedCluster")
            .field("dir", &self._dir.path())
            .finish_non_exhaustive()
    }
}

impl EmbeddedCluster {
    /// Starts the member (state in `dir`, or a temporary directory removed on drop), elects
    /// it and starts its actors, which run their jobs with `runner`.
    pub async fn start(dir: Option<&Path>, runner: Arc<dyn JobRunner>) -> anyhow::Result<Self> {
        let dir = match dir {
            Some(path) => {
                std::fs::create_dir_all(path).with_context(|| {
                    format!("cannot create the state directory {}", path.display())
                })?;
                StateDir::Given(path.to_path_buf())
            }
            None => StateDir::Temporary(
                tempfile::Builder::new()
                    .prefix("mirage-state-")
                    .tempdir()
                    .context("cannot create a temporary state directory")?,
            ),
        };
        let network = InProcessNetwork::new();
        let node = Arc::new(
            RaftNode::start(
                EMBEDDED_ID,
                &dir.path().join("raft"),
                &RaftNodeConfig::default(),
                ClusterMachine::default(),
                network.transport(EMBEDDED_ID),
            )
            .await
            .with_context(|| format!("cannot open the state in {}", dir.path().display()))?,
        );
        network.serve(EMBEDDED_ID, node.raft().clone());
        let metrics = node.metrics().await?;
        if metrics.voters.is_empty() {
            node.bootstrap(BTreeMap::from([(EMBEDDED_ID, "embedded".to_owned())]))
                .await?;
        }
        node.wait_for_leader(Duration::from_secs(10)).await?;
        let members = Members::new();
        members.insert(Arc::clone(&node));
        let client = Arc::new(RaftStateClient::new(
            EMBEDDED_ID,
            members,
            RetryPolicy::default(),
        ));
        let spec = NodeSpec {
            id: ActorNodeId(EMBEDDED_ID),
            address: "embedded".to_owned(),
            cpu_cores: u32::try_from(
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            )
            .unwrap_or(u32::MAX),
            memory_bytes: 0,
            gpus: Vec::new(),
        };
        let runtime = NodeRuntime::start(RuntimeParts {
            spec,
            raft: Arc::clone(&node),
            client: Arc::clone(&client) as Arc<dyn StateClient>,
            runner,
            timing: timing(),
            // A scope of its own: several embedded clusters may share a process (tests).
            groups: ActorGroups::new(format!("mirage-embedded-{}", uuid::Uuid::new_v4().simple())),
        });
        Ok(Self {
            node,
            client,
            runtime,
            _dir: dir,
        })
    }

    /// Submits a job of `kind` with `payload` and waits until it ends; returns the job as
    /// it ended.
    pub async fn run(&self, kind: JobKind, payload: serde_json::Value) -> anyhow::Result<Job> {
        let id = JobId::new();
        let spec = JobSpec {
            id,
            tenant: default_tenant(),
            kind,
            priority: 0,
            resources: Resources::default(),
            payload,
        };
        self.client
            .apply(Command::SubmitJob(spec))
            .await?
            .map_err(|refusal| {
                anyhow::anyhow!("the embedded cluster refused the job: {refusal}")
            })?;
        loop {
            let state = self.client.read().await?;
            let job = state
                .job(id)
                .ok_or_else(|| anyhow::anyhow!("job {id} vanished from the embedded state"))?;
            if job.state.is_terminal() {
                return Ok(job.clone());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// A gateway over this cluster, storing objects in `storage` (the store its runner
    /// uses).
    #[allow(dead_code)] // the gateway's in-process tests use it
    pub fn gateway(&self, storage: crate::jobs::ObjectStorage) -> crate::gateway::Gateway {
        crate::gateway::Gateway::new(
            Arc::clone(&self.node),
            Arc::clone(&self.client) as Arc<dyn StateClient>,
            storage,
            self.runtime.hub().clone(),
        )
    }

    /// The state client (writes go through Raft).
    #[allow(dead_code)] // the gateway's in-process tests use it
    pub fn state_client(&self) -> Arc<dyn StateClient> {
        Arc::clone(&self.client) as Arc<dyn StateClient>
    }

    /// Stops the actors and the member.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.runtime.shutdown().await;
        self.node.shutdown().await?;
        Ok(())
    }
}

/// A task run once by a [`TaskRunner`].
type Task<T> = Box<dyn FnOnce(&RunContext<'_>) -> anyhow::Result<T> + Send>;

/// Runs one in-process task as a job: the caller keeps the typed result (and its error with
/// all its context) while the job records a JSON summary.
pub struct TaskRunner<T> {
    task: Mutex<Option<Task<T>>>,
    result: Mutex<Option<anyhow::Result<T>>>,
    summarize: fn(&T) -> serde_json::Value,
}

impl<T: Send + 'static> TaskRunner<T> {
    /// A runner that runs `task` once; `summarize` gives the job's recorded result.
    pub fn new(
        task: impl FnOnce(&RunContext<'_>) -> anyhow::Result<T> + Send + 'static,
        summarize: fn(&T) -> serde_json::Value,
    ) -> Self {
        Self {
            task: Mutex::new(Some(Box::new(task))),
            result: Mutex::new(None),
            summarize,
        }
    }

    /// The task's result, once it ran.
    pub fn take(&self) -> Option<anyhow::Result<T>> {
        self.result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl<T: Send + 'static> JobRunner for TaskRunner<T> {
    fn run(&self, _job: &Job, context: &RunContext<'_>) -> Result<serde_json::Value, String> {
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| "the task already ran".to_owned())?;
        // A one-shot task cannot run twice, so a panic is its outcome (reported, not a
        // crash to retry).
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task(context)))
            .unwrap_or_else(|payload| {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_owned());
                Err(anyhow::anyhow!("the task panicked: {message}"))
            });
        let recorded = match &outcome {
            Ok(value) => Ok((self.summarize)(value)),
            Err(error) => Err(format!("{error:#}")),
        };
        *self.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        recorded
    }
}

/// Runs `task` as one job of `kind` through an embedded cluster (state in `dir` or a
/// temporary directory) and returns its result.
pub fn run_task<T: Send + 'static>(
    dir: Option<&Path>,
    kind: JobKind,
    payload: serde_json::Value,
    task: impl FnOnce(&RunContext<'_>) -> anyhow::Result<T> + Send + 'static,
    summarize: fn(&T) -> serde_json::Value,
) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let runner = Arc::new(TaskRunner::new(task, summarize));
    let job = runtime.block_on(async {
        let cluster =
            EmbeddedCluster::start(dir, Arc::clone(&runner) as Arc<dyn JobRunner>).await?;
        let job = cluster.run(kind, payload).await;
        cluster.shutdown().await?;
        job
    })?;
    match runner.take() {
        Some(result) => result,
        None => match job.state {
            JobState::Failed { error, .. } => Err(anyhow::anyhow!("{error}")),
            other => Err(anyhow::anyhow!(
                "the job ended {} without running its task",
                other.name()
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summarize(value: &u32) -> serde_json::Value {
        serde_json::json!({ "value": value })
    }

    #[test]
    fn a_task_runs_once_through_the_replicated_state() {
        let dir = tempfile::tempdir().expect("dir");
        let value = run_task(
            Some(dir.path()),
            JobKind::Train,
            serde_json::json!({ "task": "test" }),
            |_| Ok(7u32),
            summarize,
        )
        .expect("ran");
        assert_eq!(value, 7);
        // The state persisted: a second run on the same directory finds the first job
        // succeeded in the replicated state.
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let runner: Arc<dyn JobRunner> = Arc::new(TaskRunner::new(|_| Ok(1u32), summarize));
            let cluster = EmbeddedCluster::start(Some(dir.path()), runner)
                .await
                .expect("restart");
            let state = cluster.client.read().await.expect("read");
            let succeeded: Vec<_> = state
                .jobs()
                .values()
                .filter(|job| matches!(job.state, JobState::Succeeded { .. }))
                .collect();
            assert_eq!(succeeded.len(), 1);
            match &succeeded[0].state {
                JobState::Succeeded { node, result, .. } => {
                    assert_eq!(*node, ActorNodeId(EMBEDDED_ID));
                    assert_eq!(*result, serde_json::json!({ "value": 7 }));
                }
                other => panic!("unexpected state {other:?}"),
            }
            cluster.shutdown().await.expect("shutdown");
        });
    }

    #[test]
    fn a_failing_task_keeps_its_error() {
        let error = run_task(
            None,
            JobKind::Train,
            serde_json::json!({}),
            |_| -> anyhow::Result<u32> {
                Err(anyhow::anyhow!("inner cause")).context("reading data.csv row 3")
            },
            summarize,
        )
        .expect_err("fails");
        assert_eq!(format!("{error:#}"), "reading data.csv row 3: inner cause");
    }

    #[test]
    fn a_panicking_task_is_reported_as_failed() {
        let error = run_task(
            None,
            JobKind::Train,
            serde_json::json!({}),
            |_| -> anyhow::Result<u32> { panic!("kaboom") },
            summarize,
        )
        .expect_err("fails");
        assert!(error.to_string().contains("kaboom"), "{error:#}");
    }
}
