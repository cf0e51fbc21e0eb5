//! `mirage node` and `mirage cluster status` as separate processes on loopback.

mod cluster;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cluster::{Ports, SECRET, free_port, mirage};
use serde_json::Value;

/// Node processes, killed when the test ends however it ends.
struct Nodes(Vec<(u64, Child)>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Writes node `id`'s config into `dir`: `ports[i]` are node i+1's ports (each one free,
/// so no default port beside another can collide with something else on the machine).
fn write_config(dir: &Path, id: u64, ports: &[Ports], cores: u32) -> std::path::PathBuf {
    let own = ports[usize::try_from(id).expect("id") - 1];
    let mut text = format!(
        "node_id = {id}\ndata_dir = {:?}\ngrpc_addr = \"127.0.0.1:{}\"\nflight_addr = \"127.0.0.1:{}\"\nactor_addr = \"127.0.0.1:{}\"\nmetrics_addr = \"127.0.0.1:{}\"\n",
        dir.join(format!("node-{id}")).display().to_string(),
        own.grpc,
        own.flight,
        own.actor,
        own.metrics,
    );
    for (index, peer_ports) in ports.iter().enumerate() {
        let peer = u64::try_from(index).expect("index") + 1;
        if peer != id {
            text.push_str(&format!(
                "\n[[peers]]\nnode_id = {peer}\ngrpc_addr = \"127.0.0.1:{}\"\nactor_addr = \"127.0.0.1:{}\"\n",
                peer_ports.grpc, peer_ports.actor
            ));
        }
    }
    text.push_str(&format!(
        "\n[resources]\ncpu_cores = {cores}\nmemory_mib = {}\n",
        1024 * u64::from(cores)
    ));
    let path = dir.join(format!("node-{id}.toml"));
    std::fs::write(&path, text).expect("write config");
    path
}

fn start(config: &Path, secret: Option<&str>) -> Child {
    let mut command = mirage();
    command
        .args(["node", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(secret) = secret {
        command.env("MIRAGE_CLUSTER_SECRET", secret);
    }
    command.spawn().expect("spawn mirage node")
}

/// `mirage cluster status --json` against `port`, authenticated by the API `key` when
/// given (else the test clusters' secret).
fn status_as(port: u16, key: Option<&str>) -> Option<Value> {
    let mut command = mirage();
    match key {
        Some(key) => command.env("MIRAGE_API_KEY", key),
        None => command.env("MIRAGE_CLUSTER_SECRET", SECRET),
    };
    let output = command
        .args(["cluster", "status", "--json", "--addr"])
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .expect("run mirage cluster status");
    if !output.status.success() {
        return None;
    }
    serde_json::from_slice(&output.stdout).ok()
}

/// Polls `check` on the status of `port` until it holds or `timeout` passes.
fn wait_for(port: u16, timeout: Duration, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    wait_for_as(port, None, timeout, what, check)
}

/// [`wait_for`] authenticated by the API `key` when given.
fn wait_for_as(
    port: u16,
    key: Option<&str>,
    timeout: Duration,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < timeout {
        if let Some(status) = status_as(port, key) {
            if check(&status) {
                return status;
            }
            last = Some(status);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{what} not seen on port {port} within {timeout:?}; last status: {last:?}");
}

/// The bootstrap admin key a node that created its cluster wrote into `data_dir`.
fn bootstrap_key(data_dir: &Path) -> String {
    let file = data_dir.join("bootstrap-key");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(text) = std::fs::read_to_string(&file)
            && !text.trim().is_empty()
        {
            return text.trim().to_owned();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no bootstrap key at {}", file.display());
}

fn node_entry(status: &Value, id: u64) -> Option<&Value> {
    status["nodes"]
        .as_array()?
        .iter()
        .find(|node| node["id"] == id)
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn a_single_node_leads_and_reports_its_resources_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = [Ports::free()];
    let port = ports[0].grpc;
    let config = write_config(dir.path(), 1, &ports, 3);
    let mut nodes = Nodes(vec![(1, start(&config, None))]);
    // A lone node makes its own secret; its bootstrap admin key authenticates the status.
    let key = bootstrap_key(&dir.path().join("node-1"));
    let key = Some(key.as_str());
    let status = wait_for_as(port, key, Duration::from_secs(20), "node 1 leading", |s| {
        s["leader_id"] == 1 && node_entry(s, 1).is_some_and(|n| n["last_heartbeat_at_ms"] != 0)
    });
    let node = node_entry(&status, 1).expect("node 1");
    assert_eq!(node["role"], "leader", "{status}");
    assert_eq!(node["cpu_cores"], 3, "{status}");
    assert_eq!(node["memory_bytes"], 3u64 * 1024 * 1024 * 1024, "{status}");
    assert!(status["term"].as_u64().is_some_and(|t| t >= 1), "{status}");
    assert!(
        status["commit_index"].as_u64().is_some_and(|c| c >= 1),
        "{status}"
    );

    #[cfg(unix)]
    {
        let (_, child) = &mut nodes.0[0];
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success());
        let exit = wait_exit(child, Duration::from_secs(10)).expect("node exits on SIGTERM");
        assert!(exit.success(), "{exit:?}");
        // The store is released: the node starts again on the same data and leads again.
        nodes.0[0] = (1, start(&config, None));
        wait_for_as(
            port,
            key,
            Duration::from_secs(20),
            "node 1 leading again",
            |s| s["leader_id"] == 1,
        );
    }
}

#[test]
fn three_nodes_elect_a_leader_and_elect_another_when_it_dies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let all = [Ports::free(), Ports::free(), Ports::free()];
    let ports = all.map(|p| p.grpc);
    let mut nodes = Nodes(
        (1..=3u64)
            .map(|id| {
                let config = write_config(dir.path(), id, &all, u32::try_from(id).expect("id") + 1);
                (id, start(&config, Some(SECRET)))
            })
            .collect(),
    );
    // Every node knows the leader and all three are registered with their resources.
    let mut leader = None;
    for port in ports {
        let status = wait_for(
            port,
            Duration::from_secs(25),
            "a leader and 3 members",
            |s| {
                s["leader_id"].is_u64()
                    && (1..=3u64).all(|id| {
                        node_entry(s, id).is_some_and(|n| {
                            n["cpu_cores"] == id + 1 && n["last_heartbeat_at_ms"] != 0
                        })
                    })
            },
        );
        let seen = status["leader_id"].as_u64();
        if let Some(known) = leader {
            assert_eq!(seen, Some(known), "{status}");
        }
        leader = seen;
    }
    let leader = leader.expect("a leader");

    let index = nodes
        .0
        .iter()
        .position(|(id, _)| *id == leader)
        .expect("leader process");
    let (_, mut child) = nodes.0.remove(index);
    child.kill().expect("kill the leader");
    let _ = child.wait();
    let killed_at = Instant::now();

    let survivor = ports[usize::try_from(if leader == 1 { 2 } else { 1 }).expect("id") - 1];
    let status = wait_for(survivor, Duration::from_secs(10), "a new leader", |s| {
        s["leader_id"]
            .as_u64()
            .is_some_and(|id| id != leader && (1..=3).contains(&id))
    });
    let new_leader = status["leader_id"].as_u64().expect("new leader");
    assert!(
        killed_at.elapsed() < Duration::from_secs(10),
        "new leader {new_leader} after {:?}",
        killed_at.elapsed()
    );
    assert_eq!(
        node_entry(&status, new_leader).map(|n| n["role"].clone()),
        Some(Value::from("leader")),
        "{status}"
    );
}

#[test]
fn a_multi_node_config_without_a_secret_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = [Ports::free(), Ports::free()];
    let config = write_config(dir.path(), 1, &ports, 1);
    let mut child = mirage()
        .args(["node", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let exit = wait_exit(&mut child, Duration::from_secs(10));
    if exit.is_none() {
        let _ = child.kill();
    }
    let Output { status, stderr, .. } = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(exit.is_some(), "the node started without a secret");
    assert!(!status.success());
    assert!(
        stderr.contains("MIRAGE_CLUSTER_SECRET") && stderr.contains("no cluster secret"),
        "{stderr}"
    );
}

#[test]
fn status_against_a_dead_address_fails_naming_it() {
    let port = free_port();
    let output = mirage()
        .args(["cluster", "status", "--addr"])
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("cannot connect"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}
