//! What one poll of the cluster returned, and the messages between the client task and
//! the [`App`](crate::App).

use mirage_proto::v1;

/// The cluster as one poll saw it: everything the views draw from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// When the poll finished, in milliseconds since the Unix epoch.
    pub taken_at_ms: i64,
    /// The address of the node that answered.
    pub address: String,
    /// Raft state and members; unset in an empty snapshot.
    pub status: Option<v1::ClusterStatus>,
    /// Jobs, newest first.
    pub jobs: Vec<v1::Job>,
    /// Progress events received since the previous snapshot, oldest first.
    pub progress: Vec<v1::ProgressEvent>,
    /// Datasets with their budgets and ledgers.
    pub datasets: Vec<DatasetView>,
    /// Generations (from the generate jobs) with their reports.
    pub generations: Vec<GenerationView>,
    /// Calls of this poll that failed, for the status line.
    pub problems: Vec<String>,
}

impl Snapshot {
    /// The Raft id of the node that answered; 0 when unknown.
    pub fn answered_by(&self) -> u64 {
        self.status.as_ref().map_or(0, |s| s.answered_by)
    }

    /// The job with id `id`.
    pub fn job(&self, id: &str) -> Option<&v1::Job> {
        self.jobs.iter().find(|job| job.id == id)
    }

    /// Whether `other` shows the same cluster (ignoring when it was taken): nothing to
    /// redraw.
    pub fn same_content(&self, other: &Self) -> bool {
        self.address == other.address
            && self.status == other.status
            && self.jobs == other.jobs
            && self.progress.is_empty()
            && other.progress.is_empty()
            && self.datasets == other.datasets
            && self.generations == other.generations
            && self.problems == other.problems
    }
}

/// A dataset and its privacy accounting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatasetView {
    /// The dataset.
    pub dataset: v1::Dataset,
    /// Its budget; unset when it has none.
    pub budget: Option<v1::PrivacyBudget>,
    /// Its latest ledger events, oldest first.
    pub ledger: Vec<v1::LedgerEvent>,
}

/// A generation, from its generate job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationView {
    /// The generate job.
    pub job: v1::Job,
    /// The generation's id (`gen_…`); empty until the job says.
    pub generation_id: String,
    /// The generation record; unset until read.
    pub generation: Option<v1::Generation>,
    /// Its quality report; unset until assessed.
    pub report: Option<Report>,
}

/// A quality report's headline numbers, column scores and gate verdict.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Overall, column shapes, pair trends and the gate.
    pub summary: v1::QualitySummary,
    /// Per-column scores.
    pub column_scores: Vec<v1::ColumnScore>,
    /// Why the gate failed (`gate.reasons` of the report JSON); empty when it passed.
    pub gate_reasons: Vec<String>,
}

impl Report {
    /// The report of a `GetReport` answer; `None` without a summary.
    pub fn from_response(response: v1::GetReportResponse) -> Option<Self> {
        let summary = response.summary?;
        let gate_reasons = serde_json::from_str::<serde_json::Value>(&response.report_json)
            .ok()
            .and_then(|json| {
                json.get("gate")?.get("reasons")?.as_array().map(|reasons| {
                    reasons
                        .iter()
                        .filter_map(|r| r.as_str().map(str::to_owned))
                        .collect()
                })
            })
            .unwrap_or_default();
        Some(Self {
            summary,
            column_scores: response.column_scores,
            gate_reasons,
        })
    }
}

/// The generation a generate job makes: its `result_json` names the stored rows
/// (`generations/<gen_id>/data.parquet`) or the id itself.
pub fn generation_id_of(job: &v1::Job) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(job.result_json.as_deref()?).ok()?;
    if let Some(id) = json.get("generation_id").and_then(|v| v.as_str()) {
        return Some(id.to_owned());
    }
    let output = json.get("output")?.as_str()?;
    output
        .split('/')
        .find(|part| part.starts_with("gen_"))
        .map(str::to_owned)
}

/// What the client task tells the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// A fresh poll.
    Snapshot(Box<Snapshot>),
    /// The connection moved (failover, following the leader) or came back.
    Connection(String),
    /// No node answers.
    Disconnected(String),
    /// How an operator command ended: what happened, or why it failed.
    CommandDone(Result<String, String>),
}

/// What the app asks the client task to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Cancel a queued or running job.
    Cancel {
        /// The job.
        job_id: String,
    },
    /// Train again on the dataset of a failed training job.
    Retry {
        /// The failed job (for the message).
        job_id: String,
        /// Its dataset.
        dataset_id: String,
        /// The model family to train.
        model_kind: v1::ModelKind,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generate_job_names_its_generation() {
        let job = v1::Job {
            result_json: Some(
                r#"{"output":"generations/gen_0123abcd/data.parquet","rows":100}"#.into(),
            ),
            ..v1::Job::default()
        };
        assert_eq!(generation_id_of(&job).as_deref(), Some("gen_0123abcd"));
        assert_eq!(generation_id_of(&v1::Job::default()), None);
    }

    #[test]
    fn gate_reasons_come_from_the_report_json() {
        let report = Report::from_response(v1::GetReportResponse {
            summary: Some(v1::QualitySummary::default()),
            column_scores: vec![],
            report_json: r#"{"gate":{"passed":false,"reasons":["overall 0.61 < 0.8"]}}"#.into(),
        })
        .expect("report");
        assert_eq!(report.gate_reasons, ["overall 0.61 < 0.8"]);
    }
}
