//! Fake runners: instant, panicking or failing on request, gated, and counting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::runtime::{CheckpointUrl, JobProgress, JobRunner, RunContext};
use crate::state::Job;

/// Finishes at once with `{"by": label}`; panics when the payload says `"panic": true`,
/// fails when it says `"fail": true`, reports one step of progress when it says
/// `"progress": true`.
#[derive(Debug)]
pub(super) struct Instant {
    pub label: &'static str,
}

impl JobRunner for Instant {
    fn run(&self, job: &Job, context: &RunContext<'_>) -> Result<Value, String> {
        if job.spec.payload["progress"] == json!(true) {
            context.progress(JobProgress {
                stage: "epoch".into(),
                step: 1,
                total: 2,
                epoch: Some(1),
                losses: vec![("loss".into(), 0.5)],
                message: String::new(),
            });
        }
        if job.spec.payload["panic"] == json!(true) {
            panic!("boom in {}", job.spec.id);
        }
        if job.spec.payload["fail"] == json!(true) {
            return Err("asked to fail".into());
        }
        Ok(json!({ "by": self.label }))
    }
}

/// A gate runners wait on until the test opens it (or ten seconds pass).
#[derive(Debug, Default)]
pub(super) struct Gate {
    open: Mutex<bool>,
    changed: Condvar,
}

impl Gate {
    pub(super) fn open(&self) {
        *self.open.lock().expect("gate lock") = true;
        self.changed.notify_all();
    }

    fn wait(&self) {
        let guard = self.open.lock().expect("gate lock");
        let _open = self
            .changed
            .wait_timeout_while(guard, Duration::from_secs(10), |open| !*open)
            .expect("gate lock");
    }
}

/// Records the checkpoint it resumes from, reports `checkpoint` (if any), waits for
/// `gate`, then finishes with `{"by": label}`.
#[derive(Debug)]
pub(super) struct Gated {
    pub label: &'static str,
    pub checkpoint: Option<&'static str>,
    pub gate: std::sync::Arc<Gate>,
    pub seen: Mutex<Vec<Option<String>>>,
}

impl JobRunner for Gated {
    fn run(&self, _job: &Job, context: &RunContext<'_>) -> Result<Value, String> {
        self.seen
            .lock()
            .expect("seen lock")
            .push(context.checkpoint().map(str::to_owned));
        if let Some(url) = self.checkpoint {
            context.record_checkpoint(CheckpointUrl::new(url));
        }
        self.gate.wait();
        Ok(json!({ "by": self.label }))
    }
}

/// Sleeps `work` and counts how many runs overlap.
#[derive(Debug, Default)]
pub(super) struct Counting {
    pub work: Duration,
    pub current: AtomicUsize,
    pub most: AtomicUsize,
    pub runs: AtomicUsize,
}

impl JobRunner for Counting {
    fn run(&self, _job: &Job, _context: &RunContext<'_>) -> Result<Value, String> {
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(self.work);
        self.current.fetch_sub(1, Ordering::SeqCst);
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(json!({ "slept_ms": self.work.as_millis() as u64 }))
    }
}
