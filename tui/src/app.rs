//! The console's state: the latest snapshot, the event log derived from successive
//! snapshots, loss histories, selection, filters and dialogs. Pure: no I/O, no clock (time
//! comes from the snapshots), so every rule is unit-tested.

use std::collections::BTreeMap;

use mirage_proto::v1::{self, JobKind, JobStatus};

use crate::changes::{EventKind, LogEvent, changes};
use crate::dialog::Dialog;
use crate::event::{Action, InputMode};
use crate::format::{job_kind, job_status, short_id};
use crate::snapshot::{Command, Snapshot, Update};
use crate::view::View;

/// Events kept in the log.
const LOG_LIMIT: usize = 2000;
/// Loss values kept per job and loss name.
const LOSS_LIMIT: usize = 240;

/// What the keyboard currently drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Views and selection.
    Normal,
    /// Typing the current view's filter.
    Filter,
    /// The help overlay.
    Help,
    /// A confirmation dialog.
    Confirm(Dialog),
}

/// Where a running job's progress was first seen, for its ETA.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ProgressMark {
    at_ms: i64,
    progress: f64,
    node: Option<u64>,
}

/// The console's state.
#[derive(Debug, Clone)]
pub struct App {
    /// The tab shown.
    pub view: View,
    /// What the keyboard drives.
    pub mode: Mode,
    /// The latest poll.
    pub snapshot: Snapshot,
    /// Whether any poll arrived yet.
    pub has_data: bool,
    /// Whether the last poll reached a node.
    pub connected: bool,
    /// The status line: the last connection change, command outcome or problem.
    pub status_line: String,
    /// The event log, oldest first.
    pub log: Vec<LogEvent>,
    /// Per job, per loss name, the values seen, oldest first.
    pub losses: BTreeMap<String, BTreeMap<String, Vec<f64>>>,
    /// One filter per view.
    pub filters: [String; 5],
    /// One selected row per view (an index into the view's filtered list).
    pub selected: [usize; 5],
    /// Whether `q` was pressed.
    pub quit: bool,
    /// Whether the events view keeps the newest event selected (until the operator moves up).
    pub follow_log: bool,
    marks: BTreeMap<String, ProgressMark>,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// An app with no data yet, on the cluster view.
    pub fn new() -> Self {
        Self {
            view: View::Cluster,
            mode: Mode::Normal,
            snapshot: Snapshot::default(),
            has_data: false,
            connected: false,
            status_line: "connecting…".into(),
            log: Vec::new(),
            losses: BTreeMap::new(),
            filters: Default::default(),
            selected: [0; 5],
            quit: false,
            follow_log: true,
            marks: BTreeMap::new(),
        }
    }

    /// The input mode [`crate::event::action`] maps keys in.
    pub fn input_mode(&self) -> InputMode {
        match self.mode {
            Mode::Normal => InputMode::Normal,
            Mode::Filter => InputMode::Filter,
            Mode::Help => InputMode::Help,
            Mode::Confirm(_) => InputMode::Dialog,
        }
    }

    /// The filter of the current view.
    pub fn filter(&self) -> &str {
        &self.filters[self.view.index()]
    }

    /// The selected row of `view`.
    pub fn selected(&self, view: View) -> usize {
        self.selected[view.index()]
    }

    /// Takes in what the client task reports; returns whether anything visible changed.
    pub fn apply(&mut self, update: Update) -> bool {
        match update {
            Update::Snapshot(snapshot) => self.apply_snapshot(*snapshot),
            Update::Connection(text) => {
                self.connected = true;
                self.note(EventKind::Connection, text);
                true
            }
            Update::Disconnected(text) => {
                self.connected = false;
                self.note(EventKind::Problem, text);
                true
            }
            Update::CommandDone(Ok(text)) => {
                self.note(EventKind::Command, text);
                true
            }
            Update::CommandDone(Err(text)) => {
                self.note(EventKind::Problem, text);
                true
            }
        }
    }

    fn note(&mut self, kind: EventKind, text: String) {
        self.status_line.clone_from(&text);
        self.push_events(vec![LogEvent {
            at_ms: self.snapshot.taken_at_ms,
            kind,
            text,
        }]);
        self.clamp_selection();
    }

    fn push_events(&mut self, events: Vec<LogEvent>) {
        self.log.extend(events);
        if self.log.len() > LOG_LIMIT {
            let excess = self.log.len() - LOG_LIMIT;
            self.log.drain(..excess);
        }
    }

    fn apply_snapshot(&mut self, snapshot: Snapshot) -> bool {
        let events = if self.has_data {
            changes(&self.snapshot, &snapshot)
        } else {
            let nodes = snapshot.status.as_ref().map_or(0, |s| s.nodes.len());
            vec![LogEvent {
                at_ms: snapshot.taken_at_ms,
                kind: EventKind::Connection,
                text: format!(
                    "connected to node {} at {}: {nodes} nodes, {} jobs",
                    snapshot.answered_by(),
                    snapshot.address,
                    snapshot.jobs.len()
                ),
            }]
        };
        let changed =
            !self.has_data || !events.is_empty() || !self.snapshot.same_content(&snapshot);
        if !self.connected || !self.has_data {
            self.status_line = format!(
                "connected to node {} at {}",
                snapshot.answered_by(),
                snapshot.address
            );
        }
        if let Some(problem) = snapshot.problems.first() {
            self.status_line.clone_from(problem);
        }
        for event in &snapshot.progress {
            let series = self.losses.entry(event.job_id.clone()).or_default();
            for (name, value) in &event.losses {
                let values = series.entry(name.clone()).or_default();
                values.push(*value);
                if values.len() > LOSS_LIMIT {
                    values.remove(0);
                }
            }
        }
        self.update_marks(&snapshot);
        self.push_events(events);
        self.snapshot = snapshot;
        self.has_data = true;
        self.connected = true;
        self.clamp_selection();
        changed
    }

    fn update_marks(&mut self, snapshot: &Snapshot) {
        let mut marks = BTreeMap::new();
        for job in &snapshot.jobs {
            if job.status != JobStatus::Running as i32 {
                continue;
            }
            let mark = match self.marks.get(&job.id) {
                // A job that moved starts over from its checkpoint: measure afresh.
                Some(mark) if mark.node == job.node_id && mark.progress <= job.progress => *mark,
                _ => ProgressMark {
                    at_ms: snapshot.taken_at_ms,
                    progress: job.progress,
                    node: job.node_id,
                },
            };
            marks.insert(job.id.clone(), mark);
        }
        self.marks = marks;
    }

    /// The estimated seconds left of a running job, from its progress since the console
    /// first saw it on its current node (or the server's estimate when it sends one).
    pub fn eta_seconds(&self, job: &v1::Job) -> Option<f64> {
        if let Some(eta) = self
            .snapshot
            .progress
            .iter()
            .rev()
            .find(|e| e.job_id == job.id)
            .and_then(|e| e.eta_seconds)
        {
            return Some(eta);
        }
        let mark = self.marks.get(&job.id)?;
        let done = job.progress - mark.progress;
        let elapsed = (self.snapshot.taken_at_ms - mark.at_ms) as f64 / 1000.0;
        (done > 1e-9 && elapsed > 0.0).then(|| elapsed * (1.0 - job.progress).max(0.0) / done)
    }

    /// The loss to plot for a job: `loss` if reported, else the first by name.
    pub fn primary_loss(&self, job_id: &str) -> Option<(&str, &[f64])> {
        let series = self.losses.get(job_id)?;
        series
            .get_key_value("loss")
            .or_else(|| series.iter().next())
            .map(|(name, values)| (name.as_str(), values.as_slice()))
    }

    fn clamp_selection(&mut self) {
        for view in View::ALL {
            let len = self.visible_len(view);
            let selected = &mut self.selected[view.index()];
            *selected = (*selected).min(len.saturating_sub(1));
        }
        if self.follow_log {
            self.selected[View::Events.index()] = self.visible_len(View::Events).saturating_sub(1);
        }
    }

    /// Acts on a key's action; returns the command to send to the cluster, if any.
    pub fn handle(&mut self, action: Action) -> Option<Command> {
        match action {
            Action::Quit => self.quit = true,
            Action::NextView => self.view = self.view.next(),
            Action::PreviousView => self.view = self.view.previous(),
            Action::Show(view) => self.view = view,
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::PageUp => self.move_selection(-10),
            Action::PageDown => self.move_selection(10),
            Action::Top => {
                self.selected[self.view.index()] = 0;
                if self.view == View::Events {
                    self.follow_log = false;
                }
            }
            Action::Bottom => {
                self.selected[self.view.index()] = self.visible_len(self.view).saturating_sub(1);
                if self.view == View::Events {
                    self.follow_log = true;
                }
            }
            Action::Help => self.mode = Mode::Help,
            Action::StartFilter => self.mode = Mode::Filter,
            Action::FilterInput(c) => {
                self.filters[self.view.index()].push(c);
                self.selected[self.view.index()] = 0;
            }
            Action::FilterBackspace => {
                self.filters[self.view.index()].pop();
            }
            Action::FilterAccept => self.mode = Mode::Normal,
            Action::FilterClear => {
                self.filters[self.view.index()].clear();
                self.mode = Mode::Normal;
            }
            Action::CancelJob => self.ask_cancel(),
            Action::RetryJob => self.ask_retry(),
            Action::ChoiceLeft | Action::ChoiceRight => {
                if let Mode::Confirm(dialog) = &mut self.mode {
                    dialog.choose(if action == Action::ChoiceLeft { -1 } else { 1 });
                }
            }
            Action::Confirm => {
                if let Mode::Confirm(dialog) = &self.mode {
                    let command = dialog.command();
                    self.status_line = format!("sent: {}", dialog.question().trim_end_matches('?'));
                    self.mode = Mode::Normal;
                    return Some(command);
                }
            }
            Action::Dismiss => self.mode = Mode::Normal,
        }
        self.clamp_selection();
        None
    }

    fn move_selection(&mut self, step: isize) {
        let len = self.visible_len(self.view);
        let selected = &mut self.selected[self.view.index()];
        let moved = (*selected as isize + step).clamp(0, len.saturating_sub(1) as isize);
        *selected = moved as usize;
        if self.view == View::Events {
            self.follow_log = *selected + 1 >= len;
        }
    }

    fn ask_cancel(&mut self) {
        if self.view != View::Jobs {
            self.status_line = "cancel works on the jobs view: press 2 and select a job".into();
            return;
        }
        let Some(job) = self.selected_job() else {
            self.status_line = "no job selected".into();
            return;
        };
        let active =
            job.status == JobStatus::Queued as i32 || job.status == JobStatus::Running as i32;
        if !active {
            self.status_line = format!(
                "job {} is {}: only queued or running jobs can be cancelled",
                short_id(&job.id),
                job_status(job.status)
            );
            return;
        }
        self.mode = Mode::Confirm(Dialog::Cancel {
            job_id: job.id.clone(),
        });
    }

    fn ask_retry(&mut self) {
        if self.view != View::Jobs {
            self.status_line =
                "retry works on the jobs view: press 2 and select a failed job".into();
            return;
        }
        let Some(job) = self.selected_job() else {
            self.status_line = "no job selected".into();
            return;
        };
        let retryable = job.kind == JobKind::Train as i32
            && (job.status == JobStatus::Failed as i32
                || job.status == JobStatus::Cancelled as i32)
            && !job.dataset_id.is_empty();
        if !retryable {
            self.status_line = format!(
                "job {} is a {} {} job: only failed or cancelled training jobs can be retried",
                short_id(&job.id),
                job_status(job.status),
                job_kind(job.kind)
            );
            return;
        }
        self.mode = Mode::Confirm(Dialog::Retry {
            job_id: job.id.clone(),
            dataset_id: job.dataset_id.clone(),
            kind: 0,
        });
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
