//! `mirage synth`: ingest → profile → fit → sample → score → write, on one machine.
//!
//! Generated rows stream to the output file batch by batch ([`mirage_data::TableWriter`]),
//! so memory does not grow with `--rows`: only the first [`assessment_rows`] rows are kept
//! for the assessment. Without `--model` the model is picked by [`crate::choose`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Condition, DatasetProfile, PiiKind, PiiPolicy, Schema, Table};
use mirage_data::{OutputFormat, ProfileOptions, ReadOptions, SchemaOverrides, TableWriter};
use mirage_models::{CancellationToken, FitContext, SampleRequest, Synthesizer};
use mirage_quality::{Assessment, AssessmentOptions};
use serde::Serialize;

use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::choose::{BudgetSettings, TableShape, choose_model, with_time_budget};
use crate::stages::StageReporter;

/// The end-to-end budget when `--time-budget` is not given.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(30);

/// Rows kept in memory for the assessment: as many as the training rows, and at least
/// 50,000, so the scores compare like with like while memory stays bounded whatever
/// `--rows` asks for.
pub fn assessment_rows(training_rows: usize) -> usize {
    training_rows.max(50_000)
}

/// Where the source rows come from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file the user named.
    File(PathBuf),
    /// The bundled Adult census dataset.
    Demo,
}

impl Input {
    /// The input as a user would name it.
    pub fn describe(&self) -> String {
        match self {
            Input::File(path) => path.display().to_string(),
            Input::Demo => crate::demo::DEMO_NAME.to_owned(),
        }
    }
}

/// Everything `mirage synth` can be told.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// The source.
    pub input: Input,
    /// The model family; `None` = choose by the table's shape and the time budget.
    pub model: Option<ModelKind>,
    /// The end-to-end time budget (`None` = [`DEFAULT_TIME_BUDGET`] for the choice, and no
    /// budget passed to a model named with `--model`).
    pub time_budget: Option<Duration>,
    /// Model hyperparameters (JSON; `null` for defaults).
    pub model_config: serde_json::Value,
    /// Rows to generate; `None` = as many as the source has.
    pub rows: Option<usize>,
    /// Sampling seed.
    pub seed: u64,
    /// Output file (`.csv` or `.parquet`).
    pub out: PathBuf,
    /// Where to write the assessment as JSON (default: beside the output, `.report.json`).
    pub report: Option<PathBuf>,
    /// Where to write the assessment as HTML (default: beside the output, `.report.html`).
    pub html: Option<PathBuf>,
    /// Share of source rows held out from training, for utility and privacy metrics.
    pub holdout: Option<f64>,
    /// The column utility metrics predict.
    pub target: Option<String>,
    /// A file of gate thresholds.
    pub gate: Option<PathBuf>,
    /// A schema-override file (TOML or JSON).
    pub schema: Option<PathBuf>,
    /// Constraints on the generated rows.
    pub conditions: Vec<Condition>,
    /// A policy for every PII column, overriding the schema file and the default (exclude).
    pub pii: Option<PiiPolicy>,
    /// Where to save the fitted model (a new directory).
    pub save_model: Option<PathBuf>,
    /// Rows per generated batch.
    pub batch_size: usize,
    /// Train with differential privacy against the dataset's budget.
    pub privacy: Option<crate::dp_run::PrivacyRequest>,
}

/// A column flagged as personal data and what was done with it.
#[derive(Debug, Clone, Serialize)]
pub struct PiiColumn {
    /// The column.
    pub column: String,
    /// What it holds.
    pub kind: PiiKind,
    /// How sure the detector was.
    pub confidence: f64,
    /// What was done.
    pub policy: PiiPolicy,
}

/// The columns a model learns: every column not left out as personal data.
pub fn modelled_columns(schema: &Schema) -> Vec<&str> {
    schema
        .columns
        .iter()
        .filter(|c| c.is_modelled())
        .map(|c| c.name.as_str())
        .collect()
}

/// What a run did, for the closing summary.
#[derive(Debug, Clone, Serialize)]
pub struct SynthSummary {
    /// The source's name.
    pub source: String,
    /// Rows read.
    pub rows_in: usize,
    /// Columns read.
    pub columns_in: usize,
    /// Rows written.
    pub rows_out: usize,
    /// Columns written.
    pub columns_out: usize,
    /// The output file.
    pub out: PathBuf,
    /// The model family.
    pub model: ModelKind,
    /// Why that model: named with `--model`, or the automatic choice's reason.
    pub model_reason: String,
    /// Generated rows the assessment scored (the first ones; all of them unless `--rows`
    /// exceeds [`assessment_rows`]).
    pub rows_assessed: usize,
    /// Seconds per stage, in order.
    pub stages: Vec<(String, f64)>,
    /// PII columns and their treatment.
    pub pii: Vec<PiiColumn>,
    /// Training rows (source rows less the holdout).
    pub rows_train: usize,
    /// Held-out rows.
    pub rows_holdout: usize,
    /// Where the JSON and HTML reports went.
    pub reports: (PathBuf, PathBuf),
    /// The assessment (synthetic against training rows, modelled columns).
    pub assessment: Assessment,
    /// The source's profile.
    pub profile: DatasetProfile,
    /// What a DP run spent (`None` without `--epsilon`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy: Option<crate::dp_run::PrivacySummary>,
}

impl SynthSummary {
    /// Total seconds.
    pub fn total_seconds(&self) -> f64 {
        self.stages.iter().map(|(_, s)| s).sum()
    }
}

fn timed<T>(
    reporter: &mut dyn StageReporter,
    stages: &mut Vec<(String, f64)>,
    stage: &str,
    total: Option<u64>,
    work: impl FnOnce(&mut dyn StageReporter) -> anyhow::Result<(T, String)>,
) -> anyhow::Result<T> {
    reporter.start(stage, total);
    let started = Instant::now();
    let (value, detail) = work(reporter)?;
    let elapsed: Duration = started.elapsed();
    reporter.finish(stage, elapsed, &detail);
    stages.push((stage.to_string(), elapsed.as_secs_f64()));
    Ok(value)
}

/// The table restricted to the named columns.
pub fn project(table: &Table, keep: &[&str]) -> anyhow::Result<Table> {
    let schema = table.schema().project(keep);
    let indices: Vec<usize> = schema
        .columns
        .iter()
        .filter_map(|c| table.schema().index_of(&c.name))
        .collect();
    let batches = table
        .batches()
        .iter()
        .map(|b| b.project(&indices))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Table::new(schema, batches)?)
}

/// Runs the whole pipeline.
pub fn run(
    options: &SynthOptions,
    reporter: &mut dyn StageReporter,
) -> anyhow::Result<SynthSummary> {
    let mut stages = Vec::new();
    let (path, source) = match &options.input {
        Input::File(path) => (path.clone(), path.display().to_string()),
        Input::Demo => (
            crate::demo::adult_path()?,
            crate::demo::DEMO_NAME.to_string(),
        ),
    };
    let mut read_options = ReadOptions::default();
    if let Some(schema) = &options.schema {
        read_options.overrides = Some(SchemaOverrides::from_path(schema)?);
    }
    if options.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let out_format = output_format(&options.out)?;

    let source_table = timed(reporter, &mut stages, "ingest", None, |_| {
        let table = mirage_data::read_table(&path, &read_options)?;
        let detail = format!(
            "{} rows × {} columns",
            table.num_rows(),
            table.schema().len()
        );
        Ok((table, detail))
    })?;
    let profile: DatasetProfile = timed(reporter, &mut stages, "profile", None, |_| {
        let profile = mirage_data::profile_table(&source_table, &ProfileOptions::default())?;
        let flagged = profile.columns.iter().filter(|c| !c.pii.is_empty()).count();
        Ok((profile, format!("{flagged} PII column(s)")))
    })?;

    // PII: decide per column, then split into modelled and faked columns.
    let mut schema = source_table.schema().clone();
    let mut pii = Vec::new();
    for column in &mut schema.columns {
        if let Some(finding) = column.pii {
            if let Some(policy) = options.pii {
                column.pii_policy = policy;
            }
            pii.push(PiiColumn {
                column: column.name.clone(),
                kind: finding.kind,
                confidence: finding.confidence,
                policy: column.pii_policy,
            });
        }
    }
    let modelled = modelled_columns(&schema);
    if modelled.is_empty() {
        bail!(
            "every column of {source} is flagged as personal data; keep some with --pii keep or a schema file"
        );
    }
    let (training, holdout) = match options.holdout {
        None => (project(&source_table, &modelled)?, None),
        Some(share) => {
            let (train, holdout) = split_rows(&source_table, share, options.seed)?;
            (
                project(&train, &modelled)?,
                Some(project(&holdout, &modelled)?),
            )
        }
    };

    let budget = options.time_budget.unwrap_or(DEFAULT_TIME_BUDGET);
    let shape = TableShape::of(training.schema(), &profile, training.num_rows() as u64);
    let (model_kind, model_reason) = match (&options.privacy, options.model) {
        (Some(request), named) => crate::dp_run::choose(named, request.epsilon)?,
        (None, Some(kind)) => (kind, "named with --model".to_string()),
        (None, None) => choose_model(shape, budget, mirage_models::available_models()),
    };
    // A budget goes to the model when it was chosen by budget or the user gave one (a DP
    // run trains its planned steps unless the user asks for a time budget).
    let by_budget = options.model.is_none() && options.privacy.is_none();
    let mut model_config = if by_budget || options.time_budget.is_some() {
        with_time_budget(
            model_kind,
            options.model_config.clone(),
            &BudgetSettings::new(shape, budget),
        )
    } else {
        options.model_config.clone()
    };
    let reservation = match &options.privacy {
        Some(request) => {
            let section = request.model_section()?;
            if !model_config.is_object() {
                model_config = serde_json::json!({});
            }
            model_config["privacy"] = section;
            let store = crate::budget::BudgetStore::from_environment()?;
            Some(request.reserve(store, &path)?)
        }
        None => None,
    };

    let cancel = CancellationToken::new();
    let model: anyhow::Result<Box<dyn Synthesizer>> = timed(
        reporter,
        &mut stages,
        "fit",
        Some(training.schema().len() as u64 + 1),
        |reporter| {
            let (sender, receiver) = std::sync::mpsc::channel::<u64>();
            let mut context = FitContext::new(
                move |event| {
                    let _ = sender.send(event.step);
                },
                cancel.clone(),
            );
            let training = &training;
            let model_config = &model_config;
            let model = std::thread::scope(|scope| {
                // The context (and with it the sender) moves into the worker and is dropped
                // when fitting ends, which closes the channel and ends the loop below.
                let worker = scope.spawn(move || {
                    mirage_models::fit(model_kind, training, model_config, &mut context)
                });
                for step in receiver {
                    reporter.progress(step);
                }
                worker.join()
            });
            let model = model.map_err(|_| anyhow::anyhow!("the model crashed while fitting"))??;
            Ok((
                model,
                format!("{model_kind} on {} columns", training.schema().len()),
            ))
        },
    );
    let (model, privacy) = match (model, reservation) {
        (Ok(model), None) => (model, None),
        (Ok(model), Some(held)) => match model.privacy_report() {
            Some(report) if report.differentially_private => {
                let summary = held.commit(&report)?;
                (model, Some(summary))
            }
            _ => {
                held.release()?;
                bail!(
                    "{model_kind} did not produce a differentially private model; nothing was spent"
                );
            }
        },
        (Err(e), None) => return Err(e),
        (Err(e), Some(held)) => {
            held.release()
                .context("releasing the privacy reservation after the fit failed")?;
            return Err(e);
        }
    };
    if let Some(dir) = &options.save_model {
        mirage_models::save_model(model.as_ref(), dir)
            .with_context(|| format!("cannot save the model to {}", dir.display()))?;
    }

    let rows = options.rows.unwrap_or(training.num_rows());
    let request = SampleRequest {
        rows,
        seed: options.seed,
        batch_size: options.batch_size,
        conditions: options.conditions.clone(),
        max_draws: None,
        first_row: 0,
    };
    let fakes = FakeColumns::new(&schema, model.schema(), options.seed)?;
    let keep = rows.min(assessment_rows(training.num_rows()));
    let mut writer = TableWriter::create(&options.out, fakes.output_schema())?;
    let sampled = timed(
        reporter,
        &mut stages,
        "sample",
        Some(rows as u64),
        |reporter| {
            let mut kept = Vec::new();
            let mut kept_rows = 0;
            let mut done = 0u64;
            for (index, batch) in mirage_models::sample(model.as_ref(), &request)?.enumerate() {
                let batch = batch?;
                if kept_rows < keep {
                    let take = batch.num_rows().min(keep - kept_rows);
                    kept.push(batch.slice(0, take));
                    kept_rows += take;
                }
                writer.write_batch(&fakes.apply(&batch, index)?)?;
                done += batch.num_rows() as u64;
                reporter.progress(done);
            }
            let table = Table::new(model.schema().clone(), kept)?;
            Ok((
                table,
                format!("{rows} rows streamed to {}", options.out.display()),
            ))
        },
    );
    let synthetic = match sampled {
        Ok(table) => table,
        Err(e) => {
            // Leave no partial output behind.
            drop(writer);
            let _ = std::fs::remove_file(&options.out);
            return Err(e);
        }
    };

    let assessment = timed(reporter, &mut stages, "assess", None, |_| {
        let assessment_options = AssessmentOptions {
            target: options.target.clone(),
            gate: crate::gate_file::load(options.gate.as_deref())?,
            ..AssessmentOptions::default()
        };
        // Rows generated under conditions are compared with the real rows meeting them
        // (training and holdout alike).
        let reference = mirage_models::reference_rows(&training, &options.conditions, None, 0)?;
        let holdout = holdout
            .as_ref()
            .map(|h| mirage_models::reference_rows(h, &options.conditions, None, 0))
            .transpose()?
            .map(|r| r.table);
        let mut assessment = mirage_quality::assess(
            &reference.table,
            holdout.as_ref(),
            &synthetic,
            &assessment_options,
        )?;
        if let Some(note) = reference.note {
            assessment.note_first(format!("The synthetic rows were {note}."));
        }
        let detail = format!(
            "overall {:.3}, gate {}{}",
            assessment.fidelity.overall,
            if assessment.gate.passed {
                "passed"
            } else {
                "failed"
            },
            if synthetic.num_rows() < rows {
                format!(" (on the first {} rows)", synthetic.num_rows())
            } else {
                String::new()
            }
        );
        Ok((assessment, detail))
    })?;

    let rows_out = timed(reporter, &mut stages, "write", None, |_| {
        let written = writer.finish()?;
        Ok((
            written as usize,
            format!("{} ({})", options.out.display(), out_format.name()),
        ))
    })?;
    let report_json = options
        .report
        .clone()
        .unwrap_or_else(|| sibling(&options.out, "report.json"));
    let report_html = options
        .html
        .clone()
        .unwrap_or_else(|| sibling(&options.out, "report.html"));
    std::fs::write(&report_json, assessment.to_json_pretty())
        .with_context(|| format!("cannot write the report to {}", report_json.display()))?;
    let title = format!("Mirage quality report: {source}");
    std::fs::write(&report_html, assessment.to_html(&title))
        .with_context(|| format!("cannot write the report to {}", report_html.display()))?;

    Ok(SynthSummary {
        source,
        rows_in: source_table.num_rows(),
        columns_in: source_table.schema().len(),
        rows_out,
        columns_out: fakes.output_schema().len(),
        out: options.out.clone(),
        model: model_kind,
        model_reason,
        rows_assessed: synthetic.num_rows(),
        stages,
        pii,
        rows_train: training.num_rows(),
        rows_holdout: holdout.as_ref().map_or(0, Table::num_rows),
        reports: (report_json, report_html),
        assessment,
        profile,
        privacy,
    })
}

/// `dir/name.csv` → `dir/name.<suffix>`.
fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "synthetic".into());
    out.with_file_name(format!("{stem}.{suffix}"))
}

/// Splits the rows at random (seeded) into a training part and a holdout of `share`.
pub fn split_rows(table: &Table, share: f64, seed: u64) -> anyhow::Result<(Table, Table)> {
    if !(share > 0.0 && share < 1.0) {
        bail!("--holdout {share}: give the share of rows to hold out, between 0 and 1 (e.g. 0.2)");
    }
    let rows = table.num_rows();
    let held = ((rows as f64) * share).round() as usize;
    if held == 0 || held == rows {
        bail!(
            "--holdout {share} leaves {} training and {held} holdout rows of {rows}; both need rows",
            rows - held
        );
    }
    let mut order: Vec<u32> = (0..rows as u32).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x0068_6f6c_646f_7574);
    order.shuffle(&mut rng);
    let (holdout, train) = order.split_at(held);
    let (mut train, mut holdout) = (train.to_vec(), holdout.to_vec());
    train.sort_unstable();
    holdout.sort_unstable();
    Ok((table.take_rows(&train)?, table.take_rows(&holdout)?))
}

/// Adds fake values for the columns whose policy is `fake`, at their source positions, to
/// each generated batch.
#[derive(Debug)]
struct FakeColumns {
    /// The output's schema: the generated columns and the faked ones, in source order.
    schema: Schema,
    /// Per output column: the generated column's index, or the faked column's source
    /// position and what it holds.
    plan: Vec<Result<usize, (usize, PiiKind)>>,
    seed: u64,
}

impl FakeColumns {
    fn new(source: &Schema, generated: &Schema, seed: u64) -> anyhow::Result<Self> {
        let mut columns: Vec<ColumnSchema> = Vec::new();
        let mut plan = Vec::new();
        for (position, column) in source.columns.iter().enumerate() {
            if let Some(index) = generated.index_of(&column.name) {
                columns.push(generated.columns[index].clone());
                plan.push(Ok(index));
            } else if column.pii_policy == PiiPolicy::Fake
                && let Some(finding) = column.pii
            {
                let mut fake =
                    ColumnSchema::new(&column.name, ColumnKind::Text, PhysicalType::Utf8);
                fake.pii = column.pii;
                fake.pii_policy = PiiPolicy::Fake;
                fake.nullable = false;
                columns.push(fake);
                plan.push(Err((position, finding.kind)));
            }
        }
        Ok(Self {
            schema: Schema::new(columns)?,
            plan,
            seed,
        })
    }

    fn output_schema(&self) -> &Schema {
        &self.schema
    }

    /// Generated batch number `index` with the fake columns added (seeded per column and
    /// batch, so the output is reproducible).
    fn apply(&self, batch: &RecordBatch, index: usize) -> anyhow::Result<RecordBatch> {
        if self.plan.iter().all(Result::is_ok) {
            return Ok(batch.clone());
        }
        let rows = batch.num_rows();
        let arrays: Vec<ArrayRef> = self
            .plan
            .iter()
            .map(|step| match step {
                Ok(generated) => Arc::clone(batch.column(*generated)),
                Err((position, kind)) => {
                    let column_seed = self.seed ^ ((*position as u64) << 32) ^ index as u64;
                    let values = mirage_data::fake_values(*kind, rows, column_seed);
                    Arc::new(StringArray::from(values)) as ArrayRef
                }
            })
            .collect();
        Ok(RecordBatch::try_new(self.schema.arrow_schema(), arrays)?)
    }
}

/// The output format `--out` names, refusing anything but `.csv` and `.parquet` before
/// any work is done.
fn output_format(path: &Path) -> anyhow::Result<OutputFormat> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv" | "parquet") => Ok(OutputFormat::of(path)?),
        _ => bail!(
            "--out {}: the output must end in .csv or .parquet",
            path.display()
        ),
    }
}
