use mirage_proto::v1::{JobKind, JobStatus, NodeRole};

use super::*;
use crate::fixtures::{self, FAILED, QUEUED, RUNNING};

fn app_with(snapshot: Snapshot) -> App {
    let mut app = App::new();
    app.apply(Update::Snapshot(Box::new(snapshot)));
    app
}

fn texts(app: &App) -> Vec<String> {
    app.log.iter().map(|e| e.text.clone()).collect()
}

#[test]
fn the_first_snapshot_logs_the_connection_only() {
    let app = app_with(fixtures::snapshot());
    assert_eq!(app.log.len(), 1);
    assert!(
        app.log[0].text.contains("connected to node 1"),
        "{:?}",
        app.log
    );
    assert!(app.connected);
}

#[test]
fn a_leader_change_and_a_dead_node_become_events() {
    let mut app = app_with(fixtures::snapshot());
    let mut next = fixtures::snapshot();
    next.taken_at_ms += 1000;
    if let Some(status) = next.status.as_mut() {
        status.leader_id = Some(2);
        status.term = 5;
        status.nodes[0].alive = false;
        status.nodes[0].role = NodeRole::Follower as i32;
        status.nodes[1].role = NodeRole::Leader as i32;
    }
    assert!(app.apply(Update::Snapshot(Box::new(next))));
    let log = texts(&app);
    assert!(
        log.contains(&"node 2 became leader (term 5)".to_owned()),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|t| t == "node 1 unreachable: no recent heartbeat"),
        "{log:?}"
    );
}

#[test]
fn a_job_that_resumes_on_another_node_is_logged_as_such() {
    let mut app = app_with(fixtures::snapshot());
    let mut next = fixtures::snapshot();
    next.taken_at_ms += 5000;
    let job = next.jobs.iter_mut().find(|j| j.id == RUNNING).expect("job");
    job.node_id = Some(3);
    job.attempts = 2;
    job.checkpoint = Some("file:///ckpt/epoch-3".into());
    app.apply(Update::Snapshot(Box::new(next)));
    let log = texts(&app);
    assert!(
        log.contains(&"train job_aaaa1111 resumed on node 3 (attempt 2)".to_owned()),
        "{log:?}"
    );
    assert!(
        log.contains(&"train job_aaaa1111 checkpoint written".to_owned()),
        "{log:?}"
    );
}

#[test]
fn state_changes_and_budget_spend_are_logged() {
    let mut app = app_with(fixtures::snapshot());
    let mut next = fixtures::snapshot();
    next.jobs
        .iter_mut()
        .find(|j| j.id == QUEUED)
        .map(|j| {
            j.status = JobStatus::Running as i32;
            j.node_id = Some(1);
        })
        .expect("queued job");
    if let Some(budget) = next.datasets[0].budget.as_mut() {
        budget.epsilon_spent = 1.5;
        budget.epsilon_reserved = 0.0;
    }
    app.apply(Update::Snapshot(Box::new(next)));
    let log = texts(&app);
    assert!(
        log.contains(&"train job_bbbb2222 running on node 1".to_owned()),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|t| t.starts_with("adult: ε spent 1.00 → 1.50")),
        "{log:?}"
    );
}

#[test]
fn an_unchanged_poll_asks_for_no_redraw() {
    let mut app = app_with(fixtures::snapshot());
    let mut same = fixtures::snapshot();
    same.taken_at_ms += 1000;
    assert!(!app.apply(Update::Snapshot(Box::new(same))));
}

#[test]
fn filters_narrow_each_view_separately() {
    let mut app = app_with(fixtures::snapshot());
    app.handle(Action::Show(View::Jobs));
    assert_eq!(app.visible_jobs().len(), 4);
    // Running first, then queued.
    assert_eq!(app.visible_jobs()[0].id, RUNNING);
    assert_eq!(app.visible_jobs()[1].id, QUEUED);
    app.handle(Action::StartFilter);
    assert_eq!(app.input_mode(), InputMode::Filter);
    for c in "FAIL".chars() {
        app.handle(Action::FilterInput(c));
    }
    app.handle(Action::FilterAccept);
    let jobs = app.visible_jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, FAILED);
    // The cluster view keeps its own (empty) filter.
    app.handle(Action::Show(View::Cluster));
    assert_eq!(app.visible_nodes().len(), 3);
    app.handle(Action::StartFilter);
    for c in "leader".chars() {
        app.handle(Action::FilterInput(c));
    }
    assert_eq!(app.visible_nodes().len(), 1);
    app.handle(Action::FilterClear);
    assert_eq!(app.visible_nodes().len(), 3);
    // Events filter on their text.
    app.handle(Action::Show(View::Events));
    app.filters[View::Events.index()] = "no such".into();
    assert!(app.visible_events().is_empty());
}

#[test]
fn cancelling_asks_first_and_sends_only_on_yes() {
    let mut app = app_with(fixtures::snapshot());
    app.handle(Action::Show(View::Jobs));
    // Row 0 is the running job.
    assert_eq!(app.handle(Action::CancelJob), None);
    assert_eq!(
        app.mode,
        Mode::Confirm(Dialog::Cancel {
            job_id: RUNNING.into()
        })
    );
    assert_eq!(app.input_mode(), InputMode::Dialog);
    assert_eq!(app.handle(Action::Dismiss), None);
    assert_eq!(app.mode, Mode::Normal);
    app.handle(Action::CancelJob);
    assert_eq!(
        app.handle(Action::Confirm),
        Some(Command::Cancel {
            job_id: RUNNING.into()
        })
    );
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn only_failed_training_jobs_can_be_retried_with_a_chosen_model() {
    let mut app = app_with(fixtures::snapshot());
    app.handle(Action::Show(View::Jobs));
    assert_eq!(app.handle(Action::RetryJob), None);
    assert_eq!(app.mode, Mode::Normal, "a running job is not retried");
    assert!(
        app.status_line.contains("only failed"),
        "{}",
        app.status_line
    );
    app.handle(Action::Down);
    app.handle(Action::Down);
    assert_eq!(app.selected_job().map(|j| j.id.as_str()), Some(FAILED));
    // A finished job cannot be cancelled.
    app.handle(Action::CancelJob);
    assert_eq!(app.mode, Mode::Normal);
    app.handle(Action::RetryJob);
    app.handle(Action::ChoiceRight);
    let command = app.handle(Action::Confirm).expect("command");
    assert_eq!(
        command,
        Command::Retry {
            job_id: FAILED.into(),
            dataset_id: fixtures::DATASET.into(),
            model_kind: crate::dialog::RETRY_KINDS[1],
        }
    );
}

#[test]
fn losses_accumulate_per_job_and_eta_follows_progress() {
    let mut app = app_with(fixtures::snapshot());
    let mut next = fixtures::snapshot();
    next.taken_at_ms += 10_000;
    next.progress = vec![
        fixtures::progress(RUNNING, 1, 2.0),
        fixtures::progress(RUNNING, 2, 1.5),
    ];
    next.jobs
        .iter_mut()
        .find(|j| j.id == RUNNING)
        .map(|j| j.progress = 0.75)
        .expect("running");
    app.apply(Update::Snapshot(Box::new(next)));
    let (name, values) = app.primary_loss(RUNNING).expect("losses");
    assert_eq!(name, "loss");
    assert_eq!(values, [2.0, 1.5]);
    let job = app.snapshot.job(RUNNING).expect("job").clone();
    // 0.25 done in 10 s, 0.25 left: 10 s.
    let eta = app.eta_seconds(&job).expect("eta");
    assert!((eta - 10.0).abs() < 1e-6, "{eta}");
    let queued = app.snapshot.job(QUEUED).expect("job").clone();
    assert_eq!(app.eta_seconds(&queued), None);
    assert_eq!(queued.kind, JobKind::Train as i32);
}

#[test]
fn connection_notices_reach_the_status_line_and_the_log() {
    let mut app = app_with(fixtures::snapshot());
    app.apply(Update::Connection(
        "node 2 unreachable, now connected to node 3".into(),
    ));
    assert_eq!(
        app.status_line,
        "node 2 unreachable, now connected to node 3"
    );
    assert_eq!(app.log.last().map(|e| e.kind), Some(EventKind::Connection));
    app.apply(Update::Disconnected("no node answers".into()));
    assert!(!app.connected);
}
