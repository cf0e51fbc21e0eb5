//! The privacy ledger through Raft: concurrent reservations from every node never
//! overspend, not even across a leader's death, and retried writes never charge twice.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use mirage_actors::{ClusterState, Command, Outcome, Response, Settings, StateClient, StateError};
use mirage_privacy::{LedgerEvent, Spend};

use super::{RaftCluster, TestCluster, dataset_id, fast_config, register_dataset};
use crate::cluster::{RaftStateClient, RetryPolicy};
use crate::raft::NodeId;

const BUDGET: f64 = 20.0;
const REQUESTS: usize = 200;

/// Registers dataset `n` with a budget of exactly [`BUDGET`] reservations of ε = 1.
pub async fn budgeted_dataset(client: &RaftStateClient, n: u128) {
    for command in [
        register_dataset(n),
        Command::SetBudget {
            dataset: dataset_id(n),
            budget: Spend::new(BUDGET, 0.0),
        },
    ] {
        let outcome = client.apply(command).await.expect("the cluster answers");
        assert_eq!(outcome, Ok(Outcome::Applied));
    }
}

fn reserve(n: u128, request: &str) -> Command {
    Command::Reserve {
        dataset: dataset_id(n),
        request: request.to_owned(),
        spend: Spend::new(1.0, 0.0),
    }
}

/// Whether a reservation's answer is a success; panics on anything but success or a
/// budget refusal.
fn reserved(request: &str, answer: Response) -> bool {
    match answer {
        Ok(Outcome::Applied | Outcome::Unchanged) => true,
        Err(StateError::BudgetExceeded { .. }) => false,
        other => panic!("{request}: unexpected answer {other:?}"),
    }
}

/// `REQUESTS` reservations on dataset `n`, spread over `clients`, the i-th sent after
/// `i × stagger`; returns the requests that succeeded.
pub async fn burst(
    clients: &[Arc<RaftStateClient>],
    n: u128,
    prefix: &str,
    stagger: Duration,
) -> BTreeSet<String> {
    let mut tasks = Vec::new();
    for i in 0..REQUESTS {
        let client = clients[i % clients.len()].clone();
        let request = format!("{prefix}-{i}");
        let delay = stagger * u32::try_from(i).expect("small");
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let answer = client
                .apply(reserve(n, &request))
                .await
                .unwrap_or_else(|error| panic!("{request}: the cluster did not answer: {error}"));
            reserved(&request, answer).then_some(request)
        }));
    }
    let mut succeeded = BTreeSet::new();
    for task in tasks {
        if let Some(request) = task.await.expect("a reservation task") {
            succeeded.insert(request);
        }
    }
    succeeded
}

/// The failover burst on dataset `n` through `clients`: [`burst`] with the i-th request
/// sent after i ms, the current leader killed about a dozen requests in.
/// Checks that every reservation of the budget succeeded, that some request was retried
/// because the leader `went` (the failure message's verb), and that another node leads
/// now; returns the old leader and the requests that succeeded.
pub async fn burst_killing_the_leader(
    cluster: &impl TestCluster,
    clients: &[Arc<RaftStateClient>],
    n: u128,
    went: &str,
) -> anyhow::Result<(NodeId, BTreeSet<String>)> {
    let old = cluster.leader(Duration::from_secs(5)).await?;
    // The i-th request leaves after i ms: the leader goes after about a dozen.
    let burst = burst(clients, n, "failover", Duration::from_millis(1));
    let kill = async {
        tokio::time::sleep(Duration::from_millis(12)).await;
        cluster.kill(old).await
    };
    let (succeeded, killed) = tokio::join!(burst, kill);
    killed?;
    assert_eq!(succeeded.len(), 20, "{succeeded:?}");
    let retried: u64 = clients.iter().map(|c| c.stats().retried).sum();
    assert!(retried > 0, "no request saw the leader {went}");
    let new_leader = cluster.leader(Duration::from_secs(5)).await?;
    assert_ne!(new_leader, old);
    Ok((old, succeeded))
}

/// Checks every node's ledger of dataset `n`: the same on all, the hash chain verifies,
/// and it holds exactly `succeeded`, each once.
pub fn check_ledgers(
    states: &std::collections::BTreeMap<NodeId, ClusterState>,
    n: u128,
    succeeded: &BTreeSet<String>,
) {
    for (id, state) in states {
        let ledger = state
            .ledger(dataset_id(n))
            .unwrap_or_else(|| panic!("node {id} has no ledger"));
        assert_eq!(ledger.verify(), Ok(()), "node {id}: the hash chain breaks");
        assert_eq!(ledger.reserved(), Spend::new(BUDGET, 0.0), "node {id}");
        let logged: Vec<&str> = ledger
            .log()
            .iter()
            .filter_map(|entry| match &entry.event {
                LedgerEvent::Reserved { request, .. } => Some(request.as_str()),
                _ => None,
            })
            .collect();
        let unique: BTreeSet<String> = logged.iter().map(|&r| r.to_owned()).collect();
        assert_eq!(
            logged.len(),
            unique.len(),
            "node {id}: a request logged twice"
        );
        assert_eq!(
            &unique, succeeded,
            "node {id}: the ledger and the answers differ"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reservations_through_every_node_fill_the_budget_exactly() -> anyhow::Result<()>
{
    let cluster = RaftCluster::start(&[1, 2, 3], fast_config(), Settings::default()).await?;
    let clients: Vec<_> = [1, 2, 3]
        .iter()
        .map(|&id| cluster.client(id, RetryPolicy::default()))
        .collect();
    budgeted_dataset(&clients[0], 1).await;

    let succeeded = burst(&clients, 1, "burst", Duration::ZERO).await;
    assert_eq!(succeeded.len(), 20, "{succeeded:?}");
    let forwarded: u64 = clients.iter().map(|c| c.stats().forwarded).sum();
    assert!(forwarded > 0, "no write went through a follower");
    assert!(clients.iter().all(|c| c.stats().gave_up == 0));

    // Every answer is final: sending the winners again changes nothing, the losers stay out.
    let again = burst(&clients, 1, "burst", Duration::ZERO).await;
    assert_eq!(again, succeeded);

    let states = cluster.converge(Duration::from_secs(5)).await?;
    check_ledgers(&states, 1, &succeeded);
    let current = clients[1].read().await.expect("a current read");
    assert_eq!(Some(&current), states.values().next());
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_mid_burst_neither_overspends_nor_charges_twice() -> anyhow::Result<()> {
    let cluster = RaftCluster::start(&[1, 2, 3], fast_config(), Settings::default()).await?;
    let clients: Vec<_> = [1, 2, 3]
        .iter()
        .map(|&id| cluster.client(id, RetryPolicy::default()))
        .collect();
    budgeted_dataset(&clients[0], 1).await;

    let (leader, succeeded) = burst_killing_the_leader(&cluster, &clients, 1, "die").await?;

    // The dead leader comes back and catches up: every node holds the same ledger.
    cluster.start_node(leader).await?;
    let states = cluster.converge(Duration::from_secs(10)).await?;
    assert_eq!(states.len(), 3);
    check_ledgers(&states, 1, &succeeded);
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_retried_after_a_timeout_are_applied_once() -> anyhow::Result<()> {
    let cluster = RaftCluster::start(&[1, 2, 3], fast_config(), Settings::default()).await?;
    let steady = cluster.client(1, RetryPolicy::default());
    budgeted_dataset(&steady, 1).await;

    // An attempt timeout far below a commit's latency: the first attempts give up while
    // their entries are still being replicated, and the retries land on applied commands.
    let impatient = cluster.client(
        2,
        RetryPolicy {
            attempt_timeout: Duration::from_micros(1),
            backoff_min: Duration::from_millis(1),
            backoff_max: Duration::from_millis(5),
            ..RetryPolicy::default()
        },
    );
    let mut succeeded = BTreeSet::new();
    for i in 0..30 {
        let request = format!("impatient-{i}");
        let answer = impatient.apply(reserve(1, &request)).await;
        let answer = answer.unwrap_or_else(|error| panic!("{request}: {error}"));
        if reserved(&request, answer) {
            succeeded.insert(request);
        }
    }
    let stats = impatient.stats();
    println!("impatient client: {stats:?}");
    assert!(stats.retried > 0, "no attempt timed out: {stats:?}");
    assert_eq!(succeeded.len(), 20);

    // The same for commit and release: a retry of either changes nothing.
    let commit = Command::Commit {
        dataset: dataset_id(1),
        request: "impatient-0".to_owned(),
        spend: Spend::new(0.5, 0.0),
        mechanisms: Vec::new(),
    };
    let release = Command::Release {
        dataset: dataset_id(1),
        request: "impatient-1".to_owned(),
    };
    for command in [commit, release] {
        let first = impatient.apply(command.clone()).await.expect("answered");
        let second = steady.apply(command).await.expect("answered");
        assert!(
            matches!(first, Ok(Outcome::Applied | Outcome::Unchanged)),
            "{first:?}"
        );
        assert_eq!(second, Ok(Outcome::Unchanged));
    }

    let states = cluster.converge(Duration::from_secs(5)).await?;
    for (id, state) in &states {
        let ledger = state.ledger(dataset_id(1)).expect("a ledger");
        assert_eq!(ledger.verify(), Ok(()), "node {id}");
        assert_eq!(ledger.committed(), Spend::new(0.5, 0.0), "node {id}");
        assert_eq!(ledger.reserved(), Spend::new(18.0, 0.0), "node {id}");
        // Budget, 20 reservations, one commit, one release.
        assert_eq!(ledger.log().len(), 23, "node {id}");
    }
    cluster.shutdown().await
}
