//! The rows each view lists: the snapshot's objects through the view's filter, in display
//! order. Shared by the views (what to draw) and the app (what a selection points at).

use mirage_proto::v1::{self, JobStatus};

use crate::app::App;
use crate::changes::LogEvent;
use crate::format::{job_kind, job_status, matches, node_role};
use crate::snapshot::{DatasetView, GenerationView};
use crate::view::View;

impl App {
    /// The members shown in the cluster view (filtered).
    pub fn visible_nodes(&self) -> Vec<&v1::NodeInfo> {
        let filter = &self.filters[View::Cluster.index()];
        self.snapshot
            .status
            .iter()
            .flat_map(|s| s.nodes.iter())
            .filter(|n| {
                matches(
                    filter,
                    &[
                        &format!("node {}", n.id),
                        &n.address,
                        node_role(n.role),
                        if n.alive { "alive" } else { "down" },
                    ],
                )
            })
            .collect()
    }

    /// The jobs shown in the jobs view: running, then queued, then the rest, newest first
    /// within each (filtered).
    pub fn visible_jobs(&self) -> Vec<&v1::Job> {
        let filter = &self.filters[View::Jobs.index()];
        let rank = |job: &v1::Job| match JobStatus::try_from(job.status) {
            Ok(JobStatus::Running) => 0,
            Ok(JobStatus::Queued) => 1,
            Ok(JobStatus::Failed) => 2,
            _ => 3,
        };
        let mut jobs: Vec<&v1::Job> = self
            .snapshot
            .jobs
            .iter()
            .filter(|job| {
                let node = job.node_id.map(|n| format!("node {n}")).unwrap_or_default();
                matches(
                    filter,
                    &[
                        &job.id,
                        job_kind(job.kind),
                        job_status(job.status),
                        &job.dataset_id,
                        &job.model_id,
                        &node,
                    ],
                )
            })
            .collect();
        jobs.sort_by_key(|job| rank(job));
        jobs
    }

    /// The datasets shown in the datasets view (filtered).
    pub fn visible_datasets(&self) -> Vec<&DatasetView> {
        let filter = &self.filters[View::Datasets.index()];
        self.snapshot
            .datasets
            .iter()
            .filter(|d| matches(filter, &[&d.dataset.id, &d.dataset.name]))
            .collect()
    }

    /// The generations shown in the generations view (filtered; `passed`/`failed` match
    /// the gate).
    pub fn visible_generations(&self) -> Vec<&GenerationView> {
        let filter = &self.filters[View::Generations.index()];
        self.snapshot
            .generations
            .iter()
            .filter(|g| {
                let gate = match &g.report {
                    Some(r) if r.summary.gate_passed => "gate passed",
                    Some(_) => "gate failed",
                    None => "",
                };
                matches(
                    filter,
                    &[
                        &g.generation_id,
                        &g.job.id,
                        &g.job.model_id,
                        job_status(g.job.status),
                        gate,
                    ],
                )
            })
            .collect()
    }

    /// The log lines shown in the events view (filtered), oldest first.
    pub fn visible_events(&self) -> Vec<&LogEvent> {
        let filter = &self.filters[View::Events.index()];
        self.log.iter().filter(|e| e.matches(filter)).collect()
    }

    pub(crate) fn visible_len(&self, view: View) -> usize {
        match view {
            View::Cluster => self.visible_nodes().len(),
            View::Jobs => self.visible_jobs().len(),
            View::Datasets => self.visible_datasets().len(),
            View::Generations => self.visible_generations().len(),
            View::Events => self.visible_events().len(),
        }
    }

    /// The job selected in the jobs view.
    pub fn selected_job(&self) -> Option<&v1::Job> {
        self.visible_jobs().get(self.selected(View::Jobs)).copied()
    }
}
