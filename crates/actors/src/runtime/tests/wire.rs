//! The cluster messages survive the encoding `ractor_cluster` puts them through between
//! nodes.

use std::time::Duration;

use ractor::message::SerializedMessage;
use ractor::{Message, RpcReplyPort, concurrency};
use serde_json::json;

use crate::runtime::{
    ClusterMsg, EventPayload, JobPayload, JobProgress, LeaseClaims, NodeMsg, RuntimeEvent,
};
use crate::state::{Checkpoint, ClusterState, Command, Job, LeaseClaim, Settings};
use crate::testing::{cpu_job, job};

/// A job as the state holds it after a submission (with a checkpoint, to carry more).
fn a_job() -> Job {
    let mut state = ClusterState::new(Settings::default());
    let mut spec = cpu_job(7, 1, 3, 2);
    spec.payload = json!({ "epochs": 3, "nested": { "rate": 0.001 } });
    state
        .apply(Command::SubmitJob(spec), 1_000)
        .expect("job accepted");
    let mut job = state.job(job(7)).cloned().expect("the job");
    job.checkpoint = Some(Checkpoint {
        token: 4,
        url: "mem://jobs/7/step-2".into(),
        at_ms: 1_500,
    });
    job
}

fn round_trip<M: Message>(message: M) -> M {
    let wire = message.serialize().expect("serializes");
    M::deserialize(wire).expect("deserializes")
}

#[test]
fn start_job_carries_the_whole_job() {
    let job = a_job();
    let back = round_trip(NodeMsg::StartJob {
        job: JobPayload::new(job.clone()),
        token: 42,
    });
    let NodeMsg::StartJob { job: back, token } = back else {
        panic!("not a StartJob: {back:?}");
    };
    assert_eq!(token, 42);
    assert_eq!(back.into_job(), job);
}

#[test]
fn heartbeat_and_tick_round_trip() {
    assert!(matches!(round_trip(NodeMsg::Heartbeat), NodeMsg::Heartbeat));
    assert!(matches!(round_trip(ClusterMsg::Tick), ClusterMsg::Tick));
}

#[test]
fn every_relayed_event_round_trips() {
    let events = vec![
        RuntimeEvent::WorkerStarted {
            job: job(1),
            node: mirage_core::NodeId(2),
            token: 3,
            resumed_from: Some("mem://a".into()),
        },
        RuntimeEvent::CheckpointRecorded {
            job: job(1),
            node: mirage_core::NodeId(2),
            token: 3,
            url: "mem://b".into(),
        },
        RuntimeEvent::JobProgress {
            job: job(1),
            node: mirage_core::NodeId(2),
            token: 3,
            progress: JobProgress {
                stage: "epoch".into(),
                step: 5,
                total: 10,
                epoch: Some(5),
                losses: vec![("generator".into(), 0.1 + 0.2), ("critic".into(), -1e-300)],
                message: "ok".into(),
            },
        },
        RuntimeEvent::JobCompleted {
            job: job(1),
            node: mirage_core::NodeId(2),
            token: 3,
        },
        RuntimeEvent::JobFailed {
            job: job(1),
            node: mirage_core::NodeId(2),
            token: 3,
            error: "out of memory".into(),
        },
        RuntimeEvent::OutcomeDiscarded {
            job: job(1),
            node: mirage_core::NodeId(2),
            token: 3,
            reason: "stale".into(),
        },
        RuntimeEvent::LeaseLost {
            job: job(1),
            node: mirage_core::NodeId(2),
            token: 3,
        },
    ];
    for event in events {
        let back = round_trip(ClusterMsg::Event {
            event: EventPayload(event.clone()),
        });
        let ClusterMsg::Event {
            event: EventPayload(back),
        } = back
        else {
            panic!("not an event: {back:?}");
        };
        assert_eq!(back, event);
    }
}

#[test]
fn a_diverged_loss_is_not_lost_on_the_way() {
    let progress = JobProgress {
        stage: "epoch".into(),
        losses: vec![
            ("nan".into(), f64::NAN),
            ("up".into(), f64::INFINITY),
            ("down".into(), f64::NEG_INFINITY),
            ("fine".into(), 0.25),
        ],
        ..JobProgress::default()
    };
    let event = RuntimeEvent::JobProgress {
        job: job(1),
        node: mirage_core::NodeId(2),
        token: 3,
        progress,
    };
    let ClusterMsg::Event {
        event: EventPayload(RuntimeEvent::JobProgress { progress, .. }),
    } = round_trip(ClusterMsg::Event {
        event: EventPayload(event),
    })
    else {
        panic!("not a progress event");
    };
    let losses = progress.losses;
    assert_eq!(losses.len(), 4);
    assert!(losses[0].1.is_nan(), "{losses:?}");
    assert_eq!(losses[1].1, f64::INFINITY);
    assert_eq!(losses[2].1, f64::NEG_INFINITY);
    assert_eq!(losses[3], ("fine".to_owned(), 0.25));
}

#[test]
fn an_unreadable_payload_is_refused_not_a_panic_in_the_actor() {
    let wire = NodeMsg::StartJob {
        job: JobPayload::new(a_job()),
        token: 1,
    }
    .serialize()
    .expect("serializes");
    let SerializedMessage::Cast {
        variant,
        mut args,
        metadata,
    } = wire
    else {
        panic!("StartJob is a cast");
    };
    // Corrupt the job's JSON, keeping the framing.
    args[8] = b'!';
    let corrupted = SerializedMessage::Cast {
        variant,
        args,
        metadata,
    };
    assert!(NodeMsg::deserialize(corrupted).is_err());
}

#[tokio::test]
async fn running_is_an_rpc_whose_answer_comes_back_through_the_wire() {
    let (tx, rx) = concurrency::oneshot::<LeaseClaims>();
    let asked = NodeMsg::Running {
        reply: RpcReplyPort::from((tx, Duration::from_secs(5))),
    };
    let wire = asked.serialize().expect("serializes");
    assert!(matches!(wire, SerializedMessage::Call { .. }));
    let NodeMsg::Running { reply } = NodeMsg::deserialize(wire).expect("deserializes") else {
        panic!("not Running");
    };
    let claims = LeaseClaims(vec![
        LeaseClaim {
            job: job(1),
            token: 7,
        },
        LeaseClaim {
            job: job(2),
            token: 9,
        },
    ]);
    reply.send(claims.clone()).expect("the reply port is open");
    let answer = tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .expect("answered in time")
        .expect("answered");
    assert_eq!(answer, claims);
}
