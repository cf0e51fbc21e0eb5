//! Three `mirage node` processes on loopback whose transports read a faults file
//! (`MIRAGE_FAULTS_FILE`): the leader cut off in a minority commits nothing, the majority
//! elects a new leader and keeps committing, and once the partition heals all three agree
//! on one log, one leader and one state, without the minority's write.

mod cluster;

use std::time::{Duration, Instant};

use cluster::{
    Layout, LocalCluster, client_write, json, response, runtime, status, wait_for,
    wait_until_formed, write_via,
};
use mirage_actors::{Command, DatasetSpec, Outcome, Response};
use mirage_core::{DatasetId, TenantId};
use mirage_privacy::Spend;
use mirage_proto::v1::ClusterStatus;

/// Writes `command` through `first` (following refusals to the leader) and decodes the answer.
async fn write(cluster: &LocalCluster, first: u64, command: &Command) -> Response {
    response(write_via(cluster, first, &json(command), Duration::from_secs(15)).await)
}

fn register(id: DatasetId) -> Command {
    Command::RegisterDataset(DatasetSpec {
        id,
        tenant: TenantId::from_uuid(uuid::Uuid::nil()),
        name: "census".to_owned(),
        url: "file:///data/census.csv".to_owned(),
    })
}

fn budget(dataset: DatasetId) -> Command {
    Command::SetBudget {
        dataset,
        budget: Spend::new(10.0, 1e-3),
    }
}

fn reserve(dataset: DatasetId, request: &str) -> Command {
    Command::Reserve {
        dataset,
        request: request.to_owned(),
        spend: Spend::new(0.5, 0.0),
    }
}

/// Every node's own status, in id order; `None` until all answer.
async fn statuses(cluster: &LocalCluster) -> Option<Vec<ClusterStatus>> {
    let mut all = Vec::new();
    for id in cluster.ids() {
        all.push(status(&cluster.addr(id)).await?);
    }
    Some(all)
}

/// Polls until all nodes report the same leader, term, commit index and last applied index,
/// with everything committed applied and at least `target` committed; answers what they report.
async fn wait_until_converged(cluster: &LocalCluster, target: u64) -> Vec<ClusterStatus> {
    let timeout = Duration::from_secs(20);
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < timeout {
        if let Some(all) = statuses(cluster).await {
            let first = &all[0];
            let agreed = first.leader_id.is_some()
                && first.commit_index >= target
                && all.iter().all(|s| {
                    s.leader_id == first.leader_id
                        && s.term == first.term
                        && s.commit_index == first.commit_index
                        && s.last_applied == s.commit_index
                });
            if agreed {
                return all;
            }
            last = Some(all);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "the nodes did not converge on index {target} within {timeout:?}; last: {last:#?}\n{}",
        cluster.logs()
    );
}

#[test]
fn an_isolated_leader_commits_nothing_and_the_majority_carries_on() {
    runtime().block_on(async {
        let started = Instant::now();
        let layout = Layout {
            faults: true,
            ..Layout::nodes(3)
        };
        let cluster = LocalCluster::start(&layout);
        let old_leader = wait_until_formed(&cluster, Duration::from_secs(40)).await;
        let majority: Vec<u64> = cluster
            .ids()
            .into_iter()
            .filter(|id| *id != old_leader)
            .collect();

        // Before the partition: a dataset with a budget and a few reservations, and a second
        // dataset without one, for the minority to try to give a ledger.
        let budgeted = DatasetId::new();
        let unbudgeted = DatasetId::new();
        for command in [register(budgeted), budget(budgeted), register(unbudgeted)] {
            assert_eq!(
                write(&cluster, old_leader, &command).await,
                Ok(Outcome::Applied)
            );
        }
        for i in 0..3 {
            let command = reserve(budgeted, &format!("before-{i}"));
            assert_eq!(
                write(&cluster, old_leader, &command).await,
                Ok(Outcome::Applied)
            );
        }

        cluster.partition(&[&[old_leader], &majority]);

        // The majority stops hearing from the old leader and elects one of its own.
        let elected = wait_for(
            &cluster.addr(majority[0]),
            Duration::from_secs(15),
            "a new leader in the majority",
            |s| s.leader_id.is_some_and(|leader| majority.contains(&leader)),
        )
        .await;
        let new_leader = elected.leader_id.expect("a leader");
        // Cut off, the old leader can commit nothing from here on.
        let frozen = status(&cluster.addr(old_leader))
            .await
            .expect("the old leader answers its own status");

        // The minority's writes and the majority's run side by side: the first fail within
        // the client's 5 s timeout (or are refused), the others commit.
        let minority_reserve = reserve(budgeted, &format!("minority-{}", uuid::Uuid::new_v4()));
        let minority_budget = budget(unbudgeted);
        let fresh = DatasetId::new();
        let old_leader_addr = cluster.addr(old_leader);
        let (reserve_json, budget_json) = (json(&minority_reserve), json(&minority_budget));
        let minority = async {
            let sent = Instant::now();
            let answers = tokio::join!(
                client_write(&old_leader_addr, &reserve_json),
                client_write(&old_leader_addr, &budget_json),
            );
            (answers, sent.elapsed())
        };
        let majority_writes = async {
            let mut answers = Vec::new();
            for command in [register(fresh), budget(fresh)] {
                answers.push(write(&cluster, majority[1], &command).await);
            }
            for i in 0..5 {
                let command = reserve(budgeted, &format!("majority-{i}"));
                answers.push(write(&cluster, majority[i % 2], &command).await);
            }
            answers
        };
        let (((reserved, budgeted_minority), waited), answers) =
            tokio::join!(minority, majority_writes);
        assert!(
            reserved.is_err() && budgeted_minority.is_err(),
            "the isolated leader answered {reserved:?} and {budgeted_minority:?}"
        );
        assert!(
            waited < Duration::from_secs(10),
            "the isolated leader's writes failed only after {waited:?}"
        );
        assert!(
            answers.iter().all(|answer| *answer == Ok(Outcome::Applied)),
            "{answers:?}"
        );

        let cut_off = status(&cluster.addr(old_leader))
            .await
            .expect("the old leader answers its own status");
        assert!(
            cut_off.commit_index == frozen.commit_index
                && cut_off.last_applied <= frozen.commit_index
                && cut_off.ledgers == 1,
            "the isolated leader committed something: {frozen:?} then {cut_off:?}"
        );
        // The majority's writes are applied on the leader that acknowledged them; poll in
        // case the majority changed leaders under load.
        let progressed = wait_for(
            &cluster.addr(new_leader),
            Duration::from_secs(10),
            "the majority's writes",
            |s| s.term > frozen.term && s.commit_index > frozen.commit_index && s.ledgers == 2,
        )
        .await;

        cluster.heal();
        let all = wait_until_converged(&cluster, progressed.commit_index).await;
        let leader = all[0].leader_id.expect("a leader");
        assert!(majority.contains(&leader), "{all:?}");
        for status in &all {
            // The minority's budget never landed: two ledgers, not three, on every node.
            assert_eq!(
                (status.ledgers, status.ledgers_verified),
                (2, true),
                "{status:?}"
            );
        }

        // The minority's reservation is new to the cluster; the others are known.
        assert_eq!(
            write(&cluster, old_leader, &minority_reserve).await,
            Ok(Outcome::Applied)
        );
        for request in ["before-0", "majority-4"] {
            let command = reserve(budgeted, request);
            assert_eq!(
                write(&cluster, old_leader, &command).await,
                Ok(Outcome::Unchanged),
                "{request}"
            );
        }
        let last = status(&cluster.addr(leader)).await.expect("leader status");
        wait_until_converged(&cluster, last.commit_index).await;
        eprintln!("partition scenario took {:?}", started.elapsed());
    });
}
