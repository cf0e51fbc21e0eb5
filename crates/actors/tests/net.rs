//! The actor network: sessions only between nodes that share the cluster secret, links
//! that come back after a drop, and actors reached through pg across a session.
//!
//! Its own test binary (process): two node servers in one process mirror their pg groups
//! into the same global registry, which must not leak into the runtime's other tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mirage_actors::runtime::{
    ActorGroups, ActorNet, ClusterMsg, ClusterSupervisor, EventPayload, EventSink, JobProgress,
    JobRunner, LinkConfig, NodeConfig, NodeMsg, NodeSupervisor, RunContext, RuntimeEvent,
    SchedulerConfig, node_group,
};
use mirage_actors::{Job, LocalState, NodeSpec, Settings};
use mirage_core::NodeId;
use ractor::{Actor, ActorRef, pg};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// ractor's process groups are one registry per process, which every node server in it
/// shares and syncs with its peers: the tests take turns so one test's servers never sync
/// another's groups.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn quick_links() -> LinkConfig {
    LinkConfig {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        handshake_timeout: Duration::from_secs(2),
        check_interval: Duration::from_millis(50),
    }
}

async fn start(node: u64, addr: SocketAddr, secret: &str) -> ActorNet {
    ActorNet::start_with(NodeId(node), addr, secret, quick_links())
        .await
        .expect("the node server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_with_the_same_secret_get_a_session() {
    let _turn = SERIAL.lock().await;
    let a = start(1, any_port(), "the secret").await;
    let b = start(2, any_port(), "the secret").await;
    assert_ne!(b.local_addr().port(), 0, "a concrete port");
    a.connect(b.local_addr().to_string());

    let at_a = a.wait_for_sessions(1, WAIT).await.expect("a answers");
    let at_b = b.wait_for_sessions(1, WAIT).await.expect("b answers");
    assert_eq!(at_a.len(), 1, "{at_a:?}");
    assert_eq!(at_a[0].name, "mirage-2@127.0.0.1");
    assert_eq!(at_a[0].listen_address, b.local_addr().to_string());
    assert!(!at_a[0].inbound);
    assert_eq!(at_b.len(), 1, "{at_b:?}");
    assert_eq!(at_b[0].name, "mirage-1@127.0.0.1");
    assert!(at_b[0].inbound);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_secret_gets_no_session() {
    let _turn = SERIAL.lock().await;
    let a = start(1, any_port(), "one secret").await;
    let b = start(2, any_port(), "another secret").await;
    a.connect_once(&b.local_addr().to_string())
        .await
        .expect("the TCP connection opens");
    a.connect(b.local_addr().to_string());
    b.connect(a.local_addr().to_string());

    // Several attempts each way fit in this window; none may authenticate.
    let at_a = a
        .wait_for_sessions(1, Duration::from_secs(3))
        .await
        .expect("a answers");
    let at_b = b.sessions().await.expect("b answers");
    assert!(at_a.is_empty(), "{at_a:?}");
    assert!(at_b.is_empty(), "{at_b:?}");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_comes_back_after_the_peer_restarts() {
    let _turn = SERIAL.lock().await;
    let a = start(1, any_port(), "the secret").await;
    let b = start(2, any_port(), "the secret").await;
    let b_addr = b.local_addr();
    a.connect(b_addr.to_string());
    assert_eq!(
        a.wait_for_sessions(1, WAIT).await.expect("a answers").len(),
        1
    );

    b.shutdown().await;
    drop(b);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !a.sessions().await.expect("a answers").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the session never dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The old listener's task may take a moment to let go of the port.
    let b = loop {
        match ActorNet::start_with(NodeId(2), b_addr, "the secret", quick_links()).await {
            Ok(net) => break net,
            Err(error) => {
                assert!(
                    tokio::time::Instant::now() < deadline + WAIT,
                    "the node server never restarted on {b_addr}: {error}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let at_a = a.wait_for_sessions(1, WAIT).await.expect("a answers");
    assert_eq!(at_a.len(), 1, "the link reconnected: {at_a:?}");
    assert_eq!(at_a[0].name, "mirage-2@127.0.0.1");
    a.shutdown().await;
    b.shutdown().await;
}

/// Never runs anything here (no job is placed).
#[derive(Debug)]
struct Idle;

impl JobRunner for Idle {
    fn run(&self, _job: &Job, _context: &RunContext<'_>) -> Result<Value, String> {
        Ok(Value::Null)
    }
}

/// A member of `group` that is a proxy for an actor across a session.
async fn remote_member<M: ractor::Message>(groups: &ActorGroups, group: &str) -> ActorRef<M> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let members = pg::get_scoped_members(&groups.scope().to_owned(), &group.to_owned());
        if let Some(remote) = members.into_iter().find(|cell| !cell.get_id().is_local()) {
            return ActorRef::from(remote);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no remote member of {group}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_actors_answer_across_a_session() {
    let _turn = SERIAL.lock().await;
    let groups = ActorGroups::new("net-test");
    let state = Arc::new(LocalState::new(Settings::default()));
    let (sink, mut events) = EventSink::channel();
    let node = NodeSupervisor {
        spec: NodeSpec {
            id: NodeId(5),
            address: "127.0.0.1:1".into(),
            cpu_cores: 1,
            memory_bytes: 1 << 30,
            gpus: Vec::new(),
        },
        client: state.clone(),
        runner: Arc::new(Idle),
        config: NodeConfig::default(),
        events: EventSink::none(),
        groups: groups.clone(),
    };
    let (node, _) = Actor::spawn(None, node, ()).await.expect("node starts");
    let scheduler = ClusterSupervisor {
        client: state.clone(),
        config: SchedulerConfig::default(),
        events: sink,
        groups: groups.clone(),
    };
    let (scheduler, _) = Actor::spawn(None, scheduler, ())
        .await
        .expect("scheduler starts");

    let a = start(1, any_port(), "the secret").await;
    let b = start(2, any_port(), "the secret").await;
    a.connect(b.local_addr().to_string());
    assert_eq!(
        a.wait_for_sessions(1, WAIT).await.expect("a answers").len(),
        1
    );

    // The node supervisor, reached through a proxy: the call and its answer cross TCP.
    let remote_node: ActorRef<NodeMsg> = remote_member(&groups, &node_group(NodeId(5))).await;
    let running = remote_node
        .call(|reply| NodeMsg::Running { reply }, Some(WAIT))
        .await
        .expect("sent")
        .success_or("no answer")
        .expect("answered");
    assert!(running.0.is_empty());

    // A relayed event reaches the scheduler's sink through a proxy too.
    let remote_scheduler: ActorRef<ClusterMsg> =
        remote_member(&groups, mirage_actors::runtime::SCHEDULER_GROUP).await;
    let event = RuntimeEvent::JobProgress {
        job: mirage_core::JobId::new(),
        node: NodeId(9),
        token: 3,
        progress: JobProgress {
            stage: "epoch".into(),
            step: 1,
            total: 4,
            ..JobProgress::default()
        },
    };
    remote_scheduler
        .send_message(ClusterMsg::Event {
            event: EventPayload(event.clone()),
        })
        .expect("sent");
    let got = tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("in time")
        .expect("an event");
    assert_eq!(got, event);

    node.stop(None);
    scheduler.stop(None);
    a.shutdown().await;
    b.shutdown().await;
}
