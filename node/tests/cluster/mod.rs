//! A local cluster of `mirage node` processes on loopback, started and killed by the tests.
//!
//! Every node gets free ports for gRPC, Flight and actors, its own data directory, and (for
//! the runtime tests) one object store directory shared by all, so a job re-run on another
//! node finds the checkpoints of the first. Timings are short so failover happens in a
//! test's time: elections in 0.3–0.6 s, leases of 3 s renewed every 0.5 s.
//!
//! With [`Layout::tls`] every node serves TLS with the fixtures in `tests/fixtures/auth`
//! and requires client certificates; [`LocalCluster::addr`] then says `https://…`, and
//! the helpers that take an address ([`channel`], [`status`], …) dial it with TLS.

#![allow(dead_code)] // each test file uses its own subset

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mirage_actors::Response;
use mirage_proto::v1::cluster_service_client::ClusterServiceClient;
use mirage_proto::v1::raft_internal_client::RaftInternalClient;
use mirage_proto::v1::{ClusterStatus, GetClusterStatusRequest, RaftMessage};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// The secret the test clusters share.
pub const SECRET: &str = "test-cluster-secret";

/// The header carrying it.
pub const SECRET_HEADER: &str = "x-mirage-cluster-secret";

/// The `mirage` binary with no node settings inherited from the environment.
pub fn mirage() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mirage"));
    command.env_remove("MIRAGE_CLUSTER_SECRET");
    for variable in [
        "MIRAGE_NODE_ID",
        "MIRAGE_DATA_DIR",
        "MIRAGE_GRPC_ADDR",
        "MIRAGE_FLIGHT_ADDR",
        "MIRAGE_OBJECT_STORE",
        "MIRAGE_FAULTS_FILE",
        "MIRAGE_TLS_CA",
        "MIRAGE_TLS_CERT",
        "MIRAGE_TLS_KEY",
        "MIRAGE_TLS_SERVER_NAME",
    ] {
        command.env_remove(variable);
    }
    command
}

/// A free loopback port (bound, read and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind port 0")
        .local_addr()
        .expect("local address")
        .port()
}

/// One node's ports.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub grpc: u16,
    pub flight: u16,
    pub actor: u16,
    pub metrics: u16,
}

impl Ports {
    pub fn free() -> Self {
        Self {
            grpc: free_port(),
            flight: free_port(),
            actor: free_port(),
            metrics: free_port(),
        }
    }
}

/// How the nodes are configured.
#[derive(Debug, Clone)]
pub struct Layout {
    /// CPU cores each node offers (index = id - 1).
    pub cores: Vec<u32>,
    /// Raft snapshot after this many entries.
    pub snapshot_after_logs: u64,
    /// Whether the nodes share one object store directory.
    pub shared_objects: bool,
    /// Whether node N reads `MIRAGE_FAULTS_FILE=<dir>/faults-N`, so the test can cut it off
    /// from other nodes ([`LocalCluster::partition`], [`LocalCluster::heal`]).
    pub faults: bool,
    /// Whether the nodes serve TLS (and require client certificates signed by the test
    /// CA): a `[tls]` section with the fixtures, `server_name = "localhost"`.
    pub tls: bool,
}

impl Layout {
    pub fn nodes(count: usize) -> Self {
        Self {
            cores: vec![2; count],
            snapshot_after_logs: 5000,
            shared_objects: true,
            faults: false,
            tls: false,
        }
    }
}

/// The node processes of one test, killed when the test ends however it ends.
pub struct LocalCluster {
    pub dir: tempfile::TempDir,
    pub ports: Vec<Ports>,
    pub configs: Vec<PathBuf>,
    children: Vec<Option<Child>>,
    /// Whether the nodes were started with faults files ([`Layout::faults`]).
    faults: bool,
    /// Whether the nodes serve TLS ([`Layout::tls`]).
    pub tls: bool,
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl LocalCluster {
    /// Writes the configs and starts every node.
    pub fn start(layout: &Layout) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ports: Vec<Ports> = layout.cores.iter().map(|_| Ports::free()).collect();
        let configs = (0..ports.len())
            .map(|index| write_config(dir.path(), index, &ports, layout))
            .collect();
        let mut cluster = Self {
            dir,
            ports,
            configs,
            children: Vec::new(),
            faults: layout.faults,
            tls: layout.tls,
        };
        for id in cluster.ids() {
            let child = cluster.spawn(id);
            cluster.children.push(Some(child));
        }
        cluster
    }

    /// The node ids, from 1.
    pub fn ids(&self) -> Vec<u64> {
        (1..=u64::try_from(self.ports.len()).expect("count")).collect()
    }

    fn index(id: u64) -> usize {
        usize::try_from(id).expect("id") - 1
    }

    /// Node `id`'s gRPC address (`https://…` when the cluster serves TLS).
    pub fn addr(&self, id: u64) -> String {
        self.url(self.ports[Self::index(id)].grpc)
    }

    /// Node `id`'s Flight address (`https://…` when the cluster serves TLS).
    pub fn flight_addr(&self, id: u64) -> String {
        self.url(self.ports[Self::index(id)].flight)
    }

    fn url(&self, port: u16) -> String {
        if self.tls {
            format!("https://127.0.0.1:{port}")
        } else {
            format!("127.0.0.1:{port}")
        }
    }

    /// The shared object store directory.
    pub fn objects(&self) -> PathBuf {
        self.dir.path().join("objects")
    }

    fn spawn(&self, id: u64) -> Child {
        let log = std::fs::File::create(self.dir.path().join(format!("node-{id}.log")))
            .expect("log file");
        let mut command = mirage();
        command
            .args(["node", "--config"])
            .arg(&self.configs[Self::index(id)])
            .env("MIRAGE_CLUSTER_SECRET", SECRET)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        if self.faults {
            command.env("MIRAGE_FAULTS_FILE", self.faults_file(id));
        }
        command.spawn().expect("spawn mirage node")
    }

    /// Kills node `id` (SIGKILL: no goodbye) and waits for it to be gone.
    pub fn kill(&mut self, id: u64) {
        if let Some(mut child) = self.children[Self::index(id)].take() {
            child.kill().expect("kill node");
            let _ = child.wait();
        }
    }

    /// Starts node `id` again on its data directory.
    pub fn restart(&mut self, id: u64) {
        self.kill(id);
        let child = self.spawn(id);
        self.children[Self::index(id)] = Some(child);
    }

    /// Whether node `id` runs.
    pub fn is_running(&self, id: u64) -> bool {
        self.children[Self::index(id)].is_some()
    }

    /// A node's log so far (for failure messages).
    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node-{id}.log"))).unwrap_or_default()
    }

    /// The tails of every node's log.
    pub fn logs(&self) -> String {
        self.ids()
            .into_iter()
            .map(|id| {
                let log = self.log(id);
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("--- node {id} ---\n{}\n", tail.join("\n"))
            })
            .collect()
    }
}

impl LocalCluster {
    /// Node `id`'s faults file: the peers its outbound calls cannot reach, one id a line
    /// (read only when the cluster started with [`Layout::faults`]).
    pub fn faults_file(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("faults-{id}"))
    }

    /// Cuts the nodes into `sides` that cannot reach each other, both ways: every node of a
    /// side lists the ids of all other sides (nodes in no side block nobody). Takes effect
    /// within the transports' re-read interval (~50 ms); calls already sent still finish.
    pub fn partition(&self, sides: &[&[u64]]) {
        assert!(
            self.faults,
            "start the cluster with Layout {{ faults: true, .. }} to partition it"
        );
        for id in self.ids() {
            let blocked: Vec<u64> = match sides.iter().position(|side| side.contains(&id)) {
                Some(own) => sides
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| *index != own)
                    .flat_map(|(_, side)| side.iter().copied())
                    .collect(),
                None => Vec::new(),
            };
            self.write_faults(id, &blocked);
        }
    }

    /// Lets every node reach every other again.
    pub fn heal(&self) {
        assert!(self.faults, "the cluster runs without faults files");
        for id in self.ids() {
            self.write_faults(id, &[]);
        }
    }

    /// Replaces node `id`'s faults file at once (write a sibling, rename), so the node never
    /// reads it half-written.
    fn write_faults(&self, id: u64, blocked: &[u64]) {
        let mut text = format!("# node {id} cannot reach:\n");
        for peer in blocked {
            text.push_str(&format!("{peer}\n"));
        }
        let path = self.faults_file(id);
        let staged = path.with_extension("new");
        std::fs::write(&staged, text).expect("write faults file");
        std::fs::rename(&staged, &path).expect("replace faults file");
    }
}

fn write_config(dir: &Path, index: usize, ports: &[Ports], layout: &Layout) -> PathBuf {
    let id = index + 1;
    let own = ports[index];
    let cores = layout.cores[index];
    let mut text = format!(
        "node_id = {id}\ndata_dir = {:?}\ngrpc_addr = \"127.0.0.1:{}\"\nflight_addr = \"127.0.0.1:{}\"\nactor_addr = \"127.0.0.1:{}\"\nmetrics_addr = \"127.0.0.1:{}\"\n",
        dir.join(format!("node-{id}")).display().to_string(),
        own.grpc,
        own.flight,
        own.actor,
        own.metrics,
    );
    if layout.shared_objects {
        text.push_str(&format!(
            "object_store = {:?}\n",
            format!("file://{}", dir.join("objects").display())
        ));
    }
    for (peer_index, peer) in ports.iter().enumerate() {
        if peer_index != index {
            text.push_str(&format!(
                "\n[[peers]]\nnode_id = {}\ngrpc_addr = \"127.0.0.1:{}\"\nactor_addr = \"127.0.0.1:{}\"\nflight_addr = \"127.0.0.1:{}\"\n",
                peer_index + 1,
                peer.grpc,
                peer.actor,
                peer.flight
            ));
        }
    }
    text.push_str(&format!(
        "\n[resources]\ncpu_cores = {cores}\nmemory_mib = 4096\n\n[cluster]\nraft_heartbeat_ms = 100\nelection_timeout_min_ms = 300\nelection_timeout_max_ms = 600\nsnapshot_after_logs = {}\nlease_ms = 3000\nnode_heartbeat_ms = 500\nschedule_ms = 200\n",
        layout.snapshot_after_logs
    ));
    if layout.tls {
        text.push_str(&format!(
            "\n[tls]\ncert_file = {:?}\nkey_file = {:?}\nca_file = {:?}\nserver_name = \"localhost\"\n",
            tls_fixture("node.pem").display().to_string(),
            tls_fixture("node.key.pem").display().to_string(),
            tls_fixture("ca.pem").display().to_string(),
        ));
    }
    let path = dir.join(format!("node-{id}.toml"));
    std::fs::write(&path, text).expect("write config");
    path
}

/// The runtime the async cluster tests block on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A state-machine command as the JSON `ClientWrite` carries.
pub fn json(command: &mirage_actors::Command) -> serde_json::Value {
    serde_json::to_value(command).expect("encode command")
}

/// The state machine's answer decoded from its JSON.
pub fn response(answer: serde_json::Value) -> Response {
    serde_json::from_value(answer).expect("a state machine answer")
}

/// A TLS fixture: `ca.pem`, `node.pem` (a leaf for `localhost` and `127.0.0.1`, server and
/// client certificate) or `node.key.pem`.
pub fn tls_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/auth")
        .join(name)
}

/// What the tests' clients use with a TLS cluster: trust the test CA, present the node
/// certificate (the nodes require a client certificate), expect `localhost`.
pub fn client_tls() -> ClientTlsConfig {
    // Several rustls providers are enabled in this build: pick one, as the node does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let read = |name: &str| std::fs::read(tls_fixture(name)).expect("a TLS fixture");
    ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("ca.pem")))
        .identity(Identity::from_pem(read("node.pem"), read("node.key.pem")))
        .domain_name("localhost")
}

/// An endpoint for `addr`: `HOST:PORT` in plaintext, `https://HOST:PORT` with
/// [`client_tls`].
pub fn endpoint(addr: &str) -> Endpoint {
    if addr.starts_with("https://") {
        Endpoint::from_shared(addr.to_owned())
            .expect("endpoint")
            .tls_config(client_tls())
            .expect("tls config")
    } else {
        Endpoint::from_shared(format!("http://{addr}")).expect("endpoint")
    }
}

/// A gRPC channel to `addr` (lazy; short timeouts; TLS for `https://` addresses).
pub fn channel(addr: &str) -> Channel {
    endpoint(addr)
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(5))
        .connect_lazy()
}

/// Adds the cluster secret to a public call: it authenticates as the cluster's own
/// tenant with the admin role (what operators' tools use).
#[allow(clippy::result_large_err)]
pub fn with_secret(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    request
        .metadata_mut()
        .insert(SECRET_HEADER, SECRET.parse().expect("ascii secret"));
    Ok(request)
}

/// A channel to `addr` whose calls carry the cluster secret.
pub type SecretChannel = tonic::service::interceptor::InterceptedService<
    Channel,
    fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>,
>;

/// A channel to `addr` with the cluster secret on every call.
pub fn admin_channel(addr: &str) -> SecretChannel {
    tonic::service::interceptor::InterceptedService::new(channel(addr), with_secret as fn(_) -> _)
}

/// The status as node `addr` sees it, or None when it does not answer.
pub async fn status(addr: &str) -> Option<ClusterStatus> {
    ClusterServiceClient::new(admin_channel(addr))
        .get_cluster_status(GetClusterStatusRequest {})
        .await
        .ok()?
        .into_inner()
        .status
}

/// Polls `addr`'s status until `check` holds or `timeout` passes.
pub async fn wait_for(
    addr: &str,
    timeout: Duration,
    what: &str,
    check: impl Fn(&ClusterStatus) -> bool,
) -> ClusterStatus {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < timeout {
        if let Some(status) = status(addr).await {
            if check(&status) {
                return status;
            }
            last = Some(status);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} not seen at {addr} within {timeout:?}; last status: {last:?}");
}

/// Waits until every running node agrees on one leader and sees all nodes registered and
/// alive; returns the leader. Nodes may disagree for a moment after an election (one still
/// names the old leader), so this polls until they agree.
pub async fn wait_until_formed(cluster: &LocalCluster, timeout: Duration) -> u64 {
    let start = Instant::now();
    let expected = cluster.ids();
    let mut last = Vec::new();
    while start.elapsed() < timeout {
        last.clear();
        for id in cluster.ids() {
            if cluster.is_running(id) {
                last.push(status(&cluster.addr(id)).await);
            }
        }
        let formed = last.iter().all(|seen| {
            seen.as_ref().is_some_and(|s| {
                s.leader_id.is_some()
                    && expected
                        .iter()
                        .all(|want| s.nodes.iter().any(|n| n.id == *want && n.alive))
            })
        });
        let leaders: std::collections::BTreeSet<Option<u64>> = last
            .iter()
            .map(|seen| seen.as_ref().and_then(|s| s.leader_id))
            .collect();
        if formed
            && leaders.len() == 1
            && let Some(Some(leader)) = leaders.into_iter().next()
        {
            return leader;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the cluster did not form within {timeout:?}; last statuses: {last:?}\n{}",
        cluster.logs()
    );
}

/// Waits until every running node has applied what the leader had committed when this
/// started; returns the leader.
pub async fn wait_until_caught_up(cluster: &LocalCluster, timeout: Duration) -> u64 {
    let leader = wait_until_formed(cluster, timeout).await;
    let target = status(&cluster.addr(leader))
        .await
        .map_or(0, |s| s.commit_index);
    for id in cluster.ids() {
        if cluster.is_running(id) {
            wait_for(
                &cluster.addr(id),
                timeout,
                "caught up with the leader",
                |s| s.last_applied >= target,
            )
            .await;
        }
    }
    leader
}

/// A client of the internal service of node `addr`, with the cluster secret.
pub fn internal(addr: &str) -> RaftInternalClient<Channel> {
    RaftInternalClient::new(channel(addr))
}

/// Sends one state-machine command (JSON) to `addr` over the internal `ClientWrite` and
/// returns the state machine's answer (JSON), or the gRPC status.
pub async fn client_write(
    addr: &str,
    command: &serde_json::Value,
) -> Result<serde_json::Value, tonic::Status> {
    let mut request = tonic::Request::new(RaftMessage {
        payload: serde_json::to_vec(command).expect("encode"),
    });
    request
        .metadata_mut()
        .insert(SECRET_HEADER, SECRET.parse().expect("ascii"));
    let answer = internal(addr).client_write(request).await?.into_inner();
    Ok(serde_json::from_slice(&answer.payload).expect("a JSON answer"))
}

/// Writes `command` through whichever node leads (following refusals), until `timeout`.
pub async fn write_to_leader(
    cluster: &LocalCluster,
    command: &serde_json::Value,
    timeout: Duration,
) -> serde_json::Value {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < timeout {
        for id in cluster.ids() {
            if !cluster.is_running(id) {
                continue;
            }
            match client_write(&cluster.addr(id), command).await {
                Ok(answer) => return answer,
                Err(status) => last = format!("node {id}: {}", status.message()),
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no node accepted {command} within {timeout:?}; last: {last}");
}

/// Writes `command` starting at node `first` and moving on to the next running node on any
/// refusal other than the state machine's own answer (not the leader, unreachable), until
/// `timeout`: a client that knows all three addresses.
pub async fn write_via(
    cluster: &LocalCluster,
    first: u64,
    command: &serde_json::Value,
    timeout: Duration,
) -> serde_json::Value {
    let start = Instant::now();
    let ids = cluster.ids();
    let mut index = ids.iter().position(|id| *id == first).unwrap_or(0);
    let mut last = String::new();
    let mut backoff = Duration::from_millis(5);
    while start.elapsed() < timeout {
        let id = ids[index];
        if cluster.is_running(id) {
            match client_write(&cluster.addr(id), command).await {
                Ok(answer) => return answer,
                Err(status) => {
                    // Go straight to the leader a refusal names.
                    let hinted = status
                        .metadata()
                        .get("x-mirage-leader-id")
                        .and_then(|value| value.to_str().ok())
                        .and_then(|text| text.parse::<u64>().ok())
                        .and_then(|leader| ids.iter().position(|id| *id == leader));
                    last = format!("node {id}: {}", status.message());
                    if let Some(leader) = hinted
                        && leader != index
                    {
                        index = leader;
                        continue;
                    }
                }
            }
        }
        index = (index + 1) % ids.len();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(200));
    }
    panic!("no node accepted {command} within {timeout:?}; last: {last}");
}

/// The Adult demo's first `rows` rows as a CSV file in `dir`.
pub fn adult_sample(dir: &Path, rows: usize) -> PathBuf {
    use std::io::{BufRead, Write};
    let gz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/adult.csv.gz");
    let file = std::fs::File::open(&gz).expect("the committed demo data");
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
    let path = dir.join(format!("adult-{rows}.csv"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create sample"));
    for line in reader.lines().take(rows + 1) {
        writeln!(out, "{}", line.expect("a line")).expect("write sample");
    }
    path
}

/// `GET path` on node `id`'s metrics port: the status code and the body.
pub fn http_get(cluster: &LocalCluster, id: u64, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let port = cluster.ports[usize::try_from(id).expect("id") - 1].metrics;
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics port");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (code, body)
}

/// The API key node 1 wrote for the default tenant when it bootstrapped the cluster
/// (`<dir>/node-1/bootstrap-key`), waiting up to 30 s for it.
pub async fn bootstrap_key(cluster: &LocalCluster) -> String {
    let file = cluster.dir.path().join("node-1").join("bootstrap-key");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && !text.trim().is_empty()
        {
            return text.trim().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no bootstrap key at {}",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Uploads `batches` as dataset `name` through `client`'s Flight `DoPut`; returns the
/// answer's metadata (`dataset_id`, `job_id`, `rows`, …).
pub async fn upload(
    client: &mut arrow_flight::FlightClient,
    name: &str,
    batches: Vec<arrow::array::RecordBatch>,
) -> serde_json::Value {
    use futures::TryStreamExt as _;
    let descriptor = arrow_flight::FlightDescriptor::new_path(vec!["datasets".into(), name.into()]);
    let stream = arrow_flight::encode::FlightDataEncoderBuilder::new()
        .with_flight_descriptor(Some(descriptor))
        .build(futures::stream::iter(batches.into_iter().map(Ok)));
    let answers: Vec<_> = client
        .do_put(stream)
        .await
        .expect("do_put")
        .try_collect()
        .await
        .expect("put results");
    serde_json::from_slice(&answers[0].app_metadata).expect("upload metadata")
}
