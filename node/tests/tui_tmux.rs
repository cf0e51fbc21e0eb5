//! `mirage tui` end to end: real clusters (one node, three nodes), the console running
//! under tmux, keys sent with `tmux send-keys` and the screen read with
//! `tmux capture-pane -p` — up to the operator's scenario: a training job's node is killed
//! and the console shows the fail-over and the job resuming elsewhere.
//!
//! Needs `tmux` (Debian package `tmux`; `.ci/run` installs it).

mod cluster;

use std::process::Command;
use std::time::{Duration, Instant};

use cluster::{Layout, LocalCluster, SECRET, admin_channel, mirage};
use mirage_proto::v1::dataset_service_client::DatasetServiceClient;
use mirage_proto::v1::job_service_client::JobServiceClient;
use mirage_proto::v1::{
    CreateDatasetRequest, GetJobRequest, JobStatus, ModelKind, SubmitTrainingRequest,
    create_dataset_request::Source,
};

/// A tmux server of its own (a socket per test and process, so tests running in parallel
/// do not share one), killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(test: &str, command: &str) -> Self {
        let socket = format!("mirage-tui-{test}-{}", std::process::id());
        let tmux = Self { socket };
        let status = tmux
            .command()
            .args([
                "new-session",
                "-d",
                "-s",
                "console",
                "-x",
                "120",
                "-y",
                "40",
                command,
            ])
            .status()
            .expect("tmux runs (install it: apt-get install tmux)");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket]);
        command
    }

    fn keys(&self, keys: &str) {
        let status = self
            .command()
            .args(["send-keys", "-t", "console", keys])
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let output = self
            .command()
            .args(["capture-pane", "-p", "-t", "console"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits until the screen shows every one of `texts`; returns it.
    fn wait_for(&self, texts: &[&str], timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if texts.iter().all(|t| screen.contains(t)) {
                return screen;
            }
            assert!(
                start.elapsed() < timeout,
                "{texts:?} not on the console within {timeout:?}; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

#[test]
fn the_console_shows_the_leader_and_a_submitted_job() {
    let cluster = LocalCluster::start(&Layout::nodes(1));
    let runtime = cluster::runtime();
    let address = cluster.addr(1);
    runtime.block_on(cluster::wait_until_formed(
        &cluster,
        Duration::from_secs(30),
    ));

    // A small dataset, ingested, and a training job on it.
    let csv = cluster.dir.path().join("people.csv");
    let mut text = String::from("age,city\n");
    for row in 0..200 {
        text.push_str(&format!(
            "{},{}\n",
            20 + row % 50,
            ["Oslo", "Lima", "Pune"][row % 3]
        ));
    }
    std::fs::write(&csv, text).expect("write csv");
    let job_id = runtime.block_on(async {
        let created = DatasetServiceClient::new(admin_channel(&address))
            .create_dataset(CreateDatasetRequest {
                name: "people".into(),
                source: Some(Source::Uri(csv.display().to_string())),
            })
            .await
            .expect("create dataset")
            .into_inner();
        let mut jobs = JobServiceClient::new(admin_channel(&address));
        let ingest = created.job.expect("ingest job").id;
        let start = Instant::now();
        loop {
            let job = jobs
                .get_job(GetJobRequest {
                    job_id: ingest.clone(),
                })
                .await
                .expect("get job")
                .into_inner()
                .job
                .expect("job");
            if job.status == JobStatus::Succeeded as i32 {
                break;
            }
            assert!(
                job.status != JobStatus::Failed as i32,
                "ingest failed: {:?}",
                job.error
            );
            assert!(start.elapsed() < Duration::from_secs(60), "ingest too slow");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        jobs.submit_training(SubmitTrainingRequest {
            dataset_id: created.dataset_id,
            model_kind: ModelKind::GaussianCopula as i32,
            ..Default::default()
        })
        .await
        .expect("submit training")
        .into_inner()
        .job
        .expect("training job")
        .id
    });

    // The console, with the cluster secret as its credential.
    let binary = mirage().get_program().to_string_lossy().into_owned();
    let tmux = Tmux::start(
        "leader",
        &format!(
            "env MIRAGE_CLUSTER_SECRET={SECRET} MIRAGE_API_KEY= {binary} tui --addr {address}"
        ),
    );
    let screen = tmux.wait_for(
        &["1 Cluster", "node 1", "leader", "alive"],
        Duration::from_secs(30),
    );
    assert!(screen.contains("term "), "{screen}");
    println!("{screen}");

    tmux.keys("2");
    let short = &job_id[..12];
    let screen = tmux.wait_for(&["Jobs (", short, "train"], Duration::from_secs(30));
    assert!(screen.contains("Selected job"), "{screen}");
    println!("{screen}");

    tmux.keys("?");
    tmux.wait_for(&["Keys (Esc closes)"], Duration::from_secs(10));
    tmux.keys("q");
    let start = Instant::now();
    while tmux.screen().contains("1 Cluster") && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(cluster);
}

#[test]
fn the_console_moves_to_another_node_when_its_node_dies_and_says_so() {
    let mut cluster = LocalCluster::start(&Layout::nodes(3));
    let runtime = cluster::runtime();
    let leader = runtime.block_on(cluster::wait_until_formed(
        &cluster,
        Duration::from_secs(30),
    ));
    let binary = mirage().get_program().to_string_lossy().into_owned();
    let tmux = Tmux::start(
        "failover",
        &format!(
            "env MIRAGE_CLUSTER_SECRET={SECRET} MIRAGE_API_KEY= {binary} tui --addr {}",
            cluster.addr(leader)
        ),
    );
    tmux.wait_for(
        &[
            &format!("leader node {leader}"),
            "node 1",
            "node 2",
            "node 3",
        ],
        Duration::from_secs(30),
    );
    cluster.kill(leader);
    tmux.keys("5");
    let screen = tmux.wait_for(
        &[&format!("node {leader} unreachable, now connected to node")],
        Duration::from_secs(30),
    );
    println!("{screen}");
    // The survivors elect a new leader and the console shows it.
    tmux.keys("1");
    let screen = tmux.wait_for(&["down"], Duration::from_secs(30));
    assert!(
        !screen.contains(&format!("leader node {leader} ")),
        "{screen}"
    );
}

/// The job's current record as node `address` sees it.
async fn job_record(address: &str, id: &str) -> Option<mirage_proto::v1::Job> {
    JobServiceClient::new(admin_channel(address))
        .get_job(GetJobRequest {
            job_id: id.to_owned(),
        })
        .await
        .ok()?
        .into_inner()
        .job
}

/// The operator's scenario of issue 10: a training job runs on a three-node cluster, the
/// node running it is killed, and the console shows the fail-over and the job resuming on
/// another node.
#[test]
fn the_console_shows_a_training_job_resume_elsewhere_when_its_node_dies() {
    let mut cluster = LocalCluster::start(&Layout::nodes(3));
    let runtime = cluster::runtime();
    let leader = runtime.block_on(cluster::wait_until_formed(
        &cluster,
        Duration::from_secs(30),
    ));
    let entry = cluster.addr(leader);
    let sample = cluster::adult_sample(cluster.dir.path(), 2000);
    let job_id = runtime.block_on(async {
        let created = DatasetServiceClient::new(admin_channel(&entry))
            .create_dataset(CreateDatasetRequest {
                name: "adult".into(),
                source: Some(Source::Uri(sample.display().to_string())),
            })
            .await
            .expect("create dataset")
            .into_inner();
        let ingest = created.job.expect("ingest job").id;
        let start = Instant::now();
        while job_record(&entry, &ingest)
            .await
            .is_none_or(|job| job.status != JobStatus::Succeeded as i32)
        {
            assert!(start.elapsed() < Duration::from_secs(60), "ingest too slow");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        JobServiceClient::new(admin_channel(&entry))
            .submit_training(SubmitTrainingRequest {
                dataset_id: created.dataset_id,
                model_kind: ModelKind::TabularArgn as i32,
                hyperparameters_json:
                    r#"{"training": {"max_epochs": 40, "patience": 1000, "seed": 7}}"#.to_owned(),
                ..Default::default()
            })
            .await
            .expect("submit training")
            .into_inner()
            .job
            .expect("training job")
            .id
    });

    // The console knows every node, so it can move on when the one it talks to dies.
    let binary = mirage().get_program().to_string_lossy().into_owned();
    let addresses = cluster
        .ids()
        .into_iter()
        .map(|id| cluster.addr(id))
        .collect::<Vec<_>>()
        .join(",");
    let tmux = Tmux::start(
        "resume",
        &format!(
            "env MIRAGE_CLUSTER_SECRET={SECRET} MIRAGE_API_KEY= {binary} tui --addr {addresses}"
        ),
    );
    tmux.wait_for(&["1 Cluster", "leader node"], Duration::from_secs(30));

    // Running, with a checkpoint recorded: kill the node running it.
    let start = Instant::now();
    let victim = loop {
        let job = runtime.block_on(job_record(&entry, &job_id));
        if let Some(job) = job
            && job.status == JobStatus::Running as i32
            && job.checkpoint.is_some()
            && let Some(node) = job.node_id
        {
            break node;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the job never ran"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    tmux.keys("2");
    let short = &job_id[..12];
    let screen = tmux.wait_for(
        &[short, "running", &format!("n{victim}")],
        Duration::from_secs(30),
    );
    println!("{screen}");
    cluster.kill(victim);

    // The lease runs out and the job runs again elsewhere; the console says so.
    tmux.keys("5");
    let screen = tmux.wait_for(&["resumed on node"], Duration::from_secs(60));
    println!("{screen}");
    assert!(
        !screen.contains(&format!("resumed on node {victim} ")),
        "{screen}"
    );
    tmux.keys("1");
    let screen = tmux.wait_for(&["down"], Duration::from_secs(30));
    println!("{screen}");
}
