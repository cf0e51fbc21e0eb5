//! The node's HTTP side: Prometheus metrics (`/metrics`, text exposition format 0.0.4),
//! liveness (`/health`) and readiness (`/ready`: a leader is known and this node is
//! registered in the replicated state, so it can take requests).
//!
//! The figures come from this node's Raft metrics and its applied copy of the state, read
//! without a quorum round trip, so a scrape answers even during an election.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use mirage_actors::{ClusterState, JobState};
use mirage_core::ids::NodeId as ActorNodeId;

use crate::cluster::ClusterNode;
use crate::raft::{RaftNodeMetrics, RaftRole};

/// The Prometheus text format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A part of the exposition kept outside the state (RPC latencies, the model cache…).
pub type Section = Arc<dyn Fn(&mut String) + Send + Sync>;

/// What `/metrics` reads.
#[derive(Clone)]
pub struct MetricsSource {
    node: Arc<ClusterNode>,
    sections: Vec<Section>,
}

impl std::fmt::Debug for MetricsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSource")
            .field("sections", &self.sections.len())
            .finish_non_exhaustive()
    }
}

impl MetricsSource {
    /// The metrics of `node`.
    pub fn new(node: Arc<ClusterNode>) -> Self {
        Self {
            node,
            sections: Vec::new(),
        }
    }

    /// Adds a section that writes more families after the state's.
    #[allow(dead_code)] // the gateway's registries plug in here
    pub fn with_section(mut self, section: Section) -> Self {
        self.sections.push(section);
        self
    }
}

/// The HTTP routes.
pub fn router(source: MetricsSource) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .with_state(source)
}

/// Serves the routes on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    source: MetricsSource,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(source))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds the metrics address, naming it when that fails.
pub async fn bind(address: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    use anyhow::Context;
    tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on metrics_addr {address}"))
}

async fn metrics(State(source): State<MetricsSource>) -> impl IntoResponse {
    let raft = match source.node.metrics().await {
        Ok(metrics) => metrics,
        Err(error) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, TEXT_FORMAT)],
                format!("# the node is stopping: {error}\n"),
            );
        }
    };
    let mut text = source
        .node
        .read_local(|machine| render(&raft, machine.state()))
        .unwrap_or_else(|error| format!("# the state is not readable: {error}\n"));
    for section in &source.sections {
        section(&mut text);
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, TEXT_FORMAT)], text)
}

async fn ready(State(source): State<MetricsSource>) -> impl IntoResponse {
    let id = source.node.id();
    let Ok(raft) = source.node.metrics().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping\n".to_owned());
    };
    let registered = source
        .node
        .read_local(|machine| machine.state().node(ActorNodeId(id)).is_some())
        .unwrap_or(false);
    match (raft.leader, registered) {
        (Some(_), true) => (StatusCode::OK, "ready\n".to_owned()),
        (None, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no leader known\n".to_owned(),
        ),
        (Some(_), false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "this node is not registered yet\n".to_owned(),
        ),
    }
}

/// One metric family's header.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value, escaped as the text format wants.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition of one node's Raft view and applied state.
pub fn render(raft: &RaftNodeMetrics, state: &ClusterState) -> String {
    let mut out = String::new();
    family(&mut out, "mirage_raft_term", "gauge", "Current Raft term.");
    let _ = writeln!(out, "mirage_raft_term {}", raft.term);
    family(
        &mut out,
        "mirage_raft_is_leader",
        "gauge",
        "1 when this node leads.",
    );
    let _ = writeln!(
        out,
        "mirage_raft_is_leader {}",
        u8::from(raft.role == RaftRole::Leader)
    );
    for (name, help, value) in [
        (
            "mirage_raft_commit_index",
            "Last committed log index.",
            raft.commit_index,
        ),
        (
            "mirage_raft_applied_index",
            "Last log index applied here.",
            raft.applied_index,
        ),
        (
            "mirage_raft_snapshot_index",
            "Last log index in the latest snapshot.",
            raft.snapshot_index,
        ),
    ] {
        family(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {}", value.unwrap_or(0));
    }
    family(
        &mut out,
        "mirage_raft_voters",
        "gauge",
        "Voting members in the membership.",
    );
    let _ = writeln!(out, "mirage_raft_voters {}", raft.voters.len());

    let now = state.clock_ms();
    family(
        &mut out,
        "mirage_nodes",
        "gauge",
        "Registered nodes, by liveness.",
    );
    let alive = state
        .nodes()
        .keys()
        .filter(|id| state.is_alive(**id, now))
        .count();
    let _ = writeln!(out, "mirage_nodes{{alive=\"true\"}} {alive}");
    let _ = writeln!(
        out,
        "mirage_nodes{{alive=\"false\"}} {}",
        state.nodes().len() - alive
    );

    family(&mut out, "mirage_jobs", "gauge", "Jobs by state.");
    let mut counts = [0usize; 5];
    for job in state.jobs().values() {
        let slot = match job.state {
            JobState::Queued => 0,
            JobState::Running { .. } => 1,
            JobState::Succeeded { .. } => 2,
            JobState::Failed { .. } => 3,
            JobState::Cancelled => 4,
        };
        counts[slot] += 1;
    }
    for (name, count) in ["queued", "running", "succeeded", "failed", "cancelled"]
        .iter()
        .zip(counts)
    {
        let _ = writeln!(out, "mirage_jobs{{state=\"{name}\"}} {count}");
    }
    family(
        &mut out,
        "mirage_queue_depth",
        "gauge",
        "Jobs waiting for a node.",
    );
    let _ = writeln!(out, "mirage_queue_depth {}", counts[0]);

    family(
        &mut out,
        "mirage_generated_rows_stored",
        "gauge",
        "Rows stored by batch generations whose job succeeded.",
    );
    let stored: u64 = state
        .generations()
        .values()
        .filter(|g| {
            g.spec
                .job
                .and_then(|job| state.job(job))
                .is_some_and(|job| matches!(job.state, JobState::Succeeded { .. }))
        })
        .map(|g| g.spec.rows)
        .sum();
    let _ = writeln!(out, "mirage_generated_rows_stored {stored}");

    family(
        &mut out,
        "mirage_ledger_epsilon",
        "gauge",
        "Privacy budget per dataset: the limit, what is committed and what is reserved.",
    );
    for (dataset, ledger) in state.ledgers() {
        let dataset = label(&dataset.to_string());
        for (kind, value) in [
            ("limit", ledger.budget().epsilon),
            ("committed", ledger.committed().epsilon),
            ("reserved", ledger.reserved().epsilon),
        ] {
            let _ = writeln!(
                out,
                "mirage_ledger_epsilon{{dataset=\"{dataset}\",kind=\"{kind}\"}} {value}"
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mirage_actors::{Command, DatasetSpec, JobSpec, NodeSpec, Resources};
    use mirage_core::records::JobKind;
    use mirage_core::{DatasetId, JobId, TenantId};
    use mirage_privacy::Spend;

    fn raft(role: RaftRole) -> RaftNodeMetrics {
        RaftNodeMetrics {
            id: 1,
            role,
            term: 4,
            leader: Some(1),
            last_log_index: Some(12),
            commit_index: Some(12),
            applied_index: Some(11),
            snapshot_index: None,
            purged_index: None,
            voters: [(1, "a".to_owned()), (2, "b".to_owned())].into(),
            learners: Default::default(),
        }
    }

    #[test]
    fn the_exposition_holds_raft_jobs_nodes_and_ledgers() {
        let mut state = ClusterState::default();
        let apply = |state: &mut ClusterState, command: Command, now: u64| {
            state.apply(command, now).expect("applied");
        };
        apply(
            &mut state,
            Command::RegisterNode(NodeSpec {
                id: ActorNodeId(1),
                address: "a".into(),
                cpu_cores: 2,
                memory_bytes: 1 << 30,
                gpus: Vec::new(),
            }),
            10,
        );
        let dataset = DatasetId::new();
        apply(
            &mut state,
            Command::RegisterDataset(DatasetSpec {
                id: dataset,
                tenant: TenantId::new(),
                name: "a \"quoted\" name".into(),
                url: "file:///x.csv".into(),
            }),
            10,
        );
        apply(
            &mut state,
            Command::SetBudget {
                dataset,
                budget: Spend::new(3.0, 1e-5),
            },
            10,
        );
        apply(
            &mut state,
            Command::Reserve {
                dataset,
                request: "r".into(),
                spend: Spend::new(0.5, 0.0),
            },
            10,
        );
        apply(
            &mut state,
            Command::SubmitJob(JobSpec {
                id: JobId::new(),
                tenant: TenantId::new(),
                kind: JobKind::Train,
                priority: 0,
                resources: Resources::default(),
                payload: serde_json::Value::Null,
            }),
            10,
        );
        let text = render(&raft(RaftRole::Leader), &state);
        for line in [
            "mirage_raft_term 4",
            "mirage_raft_is_leader 1",
            "mirage_raft_commit_index 12",
            "mirage_raft_applied_index 11",
            "mirage_raft_snapshot_index 0",
            "mirage_raft_voters 2",
            "mirage_nodes{alive=\"true\"} 1",
            "mirage_jobs{state=\"queued\"} 1",
            "mirage_jobs{state=\"running\"} 0",
            "mirage_queue_depth 1",
            &format!("mirage_ledger_epsilon{{dataset=\"{dataset}\",kind=\"limit\"}} 3"),
            &format!("mirage_ledger_epsilon{{dataset=\"{dataset}\",kind=\"reserved\"}} 0.5"),
            &format!("mirage_ledger_epsilon{{dataset=\"{dataset}\",kind=\"committed\"}} 0"),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // Every sample belongs to a declared family.
        for sample in text.lines().filter(|l| !l.starts_with('#')) {
            let name = sample.split(['{', ' ']).next().unwrap_or_default();
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} has no TYPE line"
            );
        }
        let follower = render(&raft(RaftRole::Follower), &state);
        assert!(follower.lines().any(|l| l == "mirage_raft_is_leader 0"));
    }

    #[tokio::test]
    async fn a_metrics_address_in_use_is_named() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = taken.local_addr().expect("address");
        let error = bind(address).await.expect_err("in use");
        assert!(
            format!("{error:#}").contains(&format!("metrics_addr {address}")),
            "{error:#}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
