//! Assess jobs: score stored synthetic rows against the real table and store the report.

use anyhow::Context;
use mirage_quality::AssessmentOptions;
use serde::{Deserialize, Serialize};
use tracing::info;

use super::{JobEnv, inputs, payload};

/// An assess job's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessPayload {
    /// The real table: an object key (e.g. `datasets/<id>/data.parquet`) or a file.
    pub real: String,
    /// The synthetic table: an object key (e.g. `generations/<id>/data.csv`) or a file.
    pub synthetic: String,
    /// The report's id: it goes to `reports/<report_id>/report.json` (and `report.html`).
    pub report_id: String,
    /// The generation it scores, when it is one (the report is then recorded for it).
    #[serde(default)]
    pub generation_id: Option<String>,
    /// The generation's conditions: only the real rows meeting them are compared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<mirage_core::Condition>,
    /// The generation's rebalance: the real rows are redrawn in its class proportions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebalance: Option<mirage_core::Rebalance>,
    /// The seed of that redrawing (the generation's).
    #[serde(default)]
    pub seed: u64,
}

/// What an assess job stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessResult {
    /// The object key of the report (JSON).
    pub report: String,
    /// The overall fidelity score, in [0, 1].
    pub overall: f64,
    /// Whether the quality gate passed.
    pub gate_passed: bool,
}

/// Runs an assess job.
pub fn run(env: &JobEnv<'_>, payload: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
    let kind = env.kind_name();
    let request: AssessPayload = payload::parse(kind, payload)?;
    payload::check_id(kind, "report_id", &request.report_id)?;
    env.progress("read", 0, 2, format!("reading {}", request.real));
    let real_path = inputs::fetch(env, "real", &request.real)?;
    let real = inputs::read(&real_path, "real")?;
    // The synthetic rows hold the modelled columns only (personal data is left out of
    // training), so the real rows are compared on those.
    let modelled = crate::synth::modelled_columns(real.schema());
    let real = crate::synth::project(&real, &modelled)?;
    // A generation under conditions or a rebalance imitates only part of the real table,
    // in its own proportions: compare it with that.
    let reference = mirage_models::reference_rows(
        &real,
        &request.conditions,
        request.rebalance.as_ref(),
        request.seed,
    )
    .context("choosing the real rows to compare with")?;
    let real = reference.table;
    let synthetic_path = inputs::fetch(env, "synthetic", &request.synthetic)?;
    let synthetic = crate::evaluate_cmd::read_like(&synthetic_path, &real, "`synthetic`")?;
    env.check_cancelled()?;
    env.progress("assess", 1, 2, "scoring");
    let mut assessment =
        mirage_quality::assess(&real, None, &synthetic, &AssessmentOptions::default())
            .with_context(|| format!("assessing {} against {}", request.synthetic, request.real))?;
    if let Some(note) = reference.note {
        assessment.note_first(format!("This generation was {note}."));
    }
    env.check_cancelled()?;
    let report = format!("reports/{}/report.json", request.report_id);
    env.storage
        .put_bytes(&report, assessment.to_json_pretty().into_bytes())?;
    let title = format!("Quality report {}", request.report_id);
    env.storage.put_bytes(
        &format!("reports/{}/report.html", request.report_id),
        assessment.to_html(&title).into_bytes(),
    )?;
    let overall = assessment.fidelity.overall;
    info!(report = %report, overall, gate_passed = assessment.gate.passed, "assessment stored");
    payload::result_json(
        kind,
        &AssessResult {
            report,
            overall,
            gate_passed: assessment.gate.passed,
        },
    )
}
