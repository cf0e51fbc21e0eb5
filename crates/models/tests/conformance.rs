//! The conformance suite every model passes.
//!
//! Each check runs for every model in [`mirage_models::available_models`], so a model is
//! covered as soon as it is registered there. To tune a new model for speed, add a line to
//! [`fast_config`]; for models that train in epochs, fill in [`checkpoint_resume_hook`].
//!
//! The fixture is a mixed-type table with nulls: an identifier, an integer, a float with
//! two decimals, a categorical, a boolean and a datetime at day granularity, 5–10 % nulls
//! in every column but the key. Each model is fitted on it once per test binary.
//!
//! A failure names the model it failed for.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Condition, ConditionOp, Schema, Table, Value};
use mirage_models::columns::value_at;
use mirage_models::{
    FitContext, ModelError, SampleRequest, Synthesizer, available_models, fit, load_model,
    sample_all, save_model,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde_json::json;

const DAY: i64 = 86_400_000;
const ROWS: usize = 3_000;
/// 2020-01-01 in epoch milliseconds.
const START: i64 = 18_262 * DAY;
const SEGMENTS: [&str; 4] = ["basic", "plus", "premium", "enterprise"];

/// A quick configuration per model: enough training to check the contract (null shares
/// included: TabularARGN after 3 epochs of 3 large batches still misses them), not to reach
/// quality. Models not listed get their defaults.
fn fast_config(kind: ModelKind) -> serde_json::Value {
    match kind {
        ModelKind::GaussianCopula => json!({}),
        ModelKind::TabularArgn => json!({"training": {"max_epochs": 20, "batch_size": 128}}),
        ModelKind::Tvae => json!({"training": {"max_epochs": 60}}),
        // Constant learning rate: the checkpoint check stops a run by giving it fewer
        // epochs, which would change a linearly annealed rate.
        ModelKind::TabDdpm => json!({
            "hidden": [128, 128], "timesteps": 50, "steps": null,
            "learning_rate_schedule": "constant",
            "training": {"max_epochs": 40, "batch_size": 256, "learning_rate": 1e-3}
        }),
        // 1,200 steps of 100 rows; the calibration keeps the null shares within 0.03.
        ModelKind::Ctgan | ModelKind::CopulaGan => {
            json!({"training": {"max_epochs": 40, "batch_size": 100}})
        }
        // A large ε so the contract checks are not about noise; the granularities and the
        // category set the contract checks are declared public, as a DP user would.
        ModelKind::Mst => json!({"privacy": {"epsilon": 50, "delta": 1e-5, "public": {"columns": {
            "age": {"bounds": [0, 120]},
            "income": {"quantum": 0.01, "bounds": [0, 10_000_000]},
            "joined": {"quantum": 86_400_000, "bounds": [START - 2000 * DAY, START + 2000 * DAY]},
            "segment": {"categories": SEGMENTS},
        }}}}),
        _ => serde_json::Value::Null,
    }
}

/// A model fitted without interruption and the same model stopped at a checkpoint and
/// resumed from it: `(uninterrupted, resumed)`.
type ResumedPair = (Box<dyn Synthesizer>, Box<dyn Synthesizer>);

/// How a model's training is checked to survive an interruption.
enum CheckpointSupport {
    /// The model fits in one pass, so there is nothing to checkpoint (the reason says why).
    OnePass(&'static str),
    /// The model trains in epochs: the function fits it on the table once without
    /// interruption and once stopped at a checkpoint (written under the directory) and
    /// resumed from it, and returns `(uninterrupted, resumed)`. Both must then generate
    /// the same rows for the same seed.
    Epochs(fn(&Table, &Path) -> ResumedPair),
    /// The model trains in epochs and its check is still to be written: the suite fails.
    NotWritten,
}

/// The checkpoint → resume hook, one arm per model. A new model that trains in epochs
/// returns `CheckpointSupport::Epochs(f)`, where `f` fits once uninterrupted, once stopped
/// after a checkpoint, and once resumed from that checkpoint (see [`argn_resumed`]).
fn checkpoint_resume_hook(kind: ModelKind) -> CheckpointSupport {
    match kind {
        ModelKind::TabularArgn => CheckpointSupport::Epochs(argn_resumed),
        ModelKind::Tvae => CheckpointSupport::Epochs(tvae_resumed),
        ModelKind::Ctgan => CheckpointSupport::Epochs(ctgan_resumed),
        ModelKind::CopulaGan => CheckpointSupport::Epochs(copulagan_resumed),
        ModelKind::TabDdpm => CheckpointSupport::Epochs(tabddpm_resumed),
        ModelKind::GaussianCopula => CheckpointSupport::OnePass(
            "the GaussianCopula fits in one pass (marginals, then one correlation matrix) \
             with no epochs and no optimizer state, so there is no point to checkpoint or \
             resume from",
        ),
        ModelKind::Mst | ModelKind::Aim => CheckpointSupport::OnePass(
            "marginal-based models measure and fit in one pass without epochs",
        ),
        _ => CheckpointSupport::NotWritten,
    }
}

fn argn_resumed(table: &Table, dir: &Path) -> ResumedPair {
    resumed(ModelKind::TabularArgn, table, dir)
}

fn tvae_resumed(table: &Table, dir: &Path) -> ResumedPair {
    resumed(ModelKind::Tvae, table, dir)
}

fn ctgan_resumed(table: &Table, dir: &Path) -> ResumedPair {
    resumed(ModelKind::Ctgan, table, dir)
}

fn copulagan_resumed(table: &Table, dir: &Path) -> ResumedPair {
    resumed(ModelKind::CopulaGan, table, dir)
}

fn tabddpm_resumed(table: &Table, dir: &Path) -> ResumedPair {
    resumed(ModelKind::TabDdpm, table, dir)
}

/// Four epochs straight, against two epochs with a checkpoint at the second and a resumed
/// run from it to the fourth (the model's fast config otherwise).
fn resumed(kind: ModelKind, table: &Table, dir: &Path) -> ResumedPair {
    let fit_with = |training: serde_json::Value| {
        let mut config = match fast_config(kind) {
            serde_json::Value::Object(map) => serde_json::Value::Object(map),
            _ => json!({}),
        };
        let merged = config
            .get("training")
            .and_then(|t| t.as_object())
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|(key, _)| key != "max_epochs")
            .chain(training.as_object().cloned().unwrap_or_default())
            .collect::<serde_json::Map<_, _>>();
        config["training"] = serde_json::Value::Object(merged);
        fit(kind, table, &config, &mut FitContext::default())
            .unwrap_or_else(|e| panic!("{kind}: {e}"))
    };
    let straight = fit_with(json!({"max_epochs": 4}));
    fit_with(json!({
        "max_epochs": 2,
        "checkpoint_every": 2,
        "checkpoint_dir": dir,
    }));
    let checkpoint = dir.join("epoch-00002");
    assert!(
        checkpoint.is_dir(),
        "{kind}: no checkpoint at {}",
        checkpoint.display()
    );
    let resumed = fit_with(json!({"max_epochs": 4, "resume_from": checkpoint}));
    (straight, resumed)
}

/// The fixture: 3,000 rows with correlated columns and 5–10 % nulls.
fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(2024);
        let (mut id, mut age, mut income, mut segment, mut active, mut joined) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for i in 0..ROWS {
            let z: f64 = rng.sample(StandardNormal);
            let noise: f64 = rng.sample(StandardNormal);
            let mut null = |share: f64| rng.random::<f64>() < share;
            let a = (45.0 + 14.0 * z).round().clamp(18.0, 90.0) as i64;
            let amount = (10.5 + 0.3 * z + 0.4 * noise).exp();
            let tier = ((z + noise * 0.5 + 2.0) / 1.2).floor().clamp(0.0, 3.0) as usize;
            id.push(10_000 + i as i64);
            age.push((!null(0.06)).then_some(a));
            income.push((!null(0.08)).then_some((amount * 100.0).round() / 100.0));
            segment.push((!null(0.065)).then_some(SEGMENTS[tier]));
            active.push((!null(0.07)).then_some(z + noise > 0.0));
            joined.push((!null(0.06)).then_some(START + ((z + 3.0) * 120.0) as i64 * DAY));
        }
        let schema = Schema::new(vec![
            ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Int64),
            ColumnSchema::new("age", ColumnKind::Integer, PhysicalType::Int64),
            ColumnSchema::new("income", ColumnKind::Float, PhysicalType::Float64),
            ColumnSchema::new("segment", ColumnKind::Categorical, PhysicalType::Utf8),
            ColumnSchema::new("active", ColumnKind::Boolean, PhysicalType::Boolean),
            ColumnSchema::new(
                "joined",
                ColumnKind::Datetime {
                    format: "%Y-%m-%d".into(),
                },
                PhysicalType::TimestampMillis,
            ),
        ])
        .expect("schema");
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(id)),
            Arc::new(Int64Array::from(age)),
            Arc::new(Float64Array::from(income)),
            Arc::new(StringArray::from(segment)),
            Arc::new(BooleanArray::from(active)),
            Arc::new(TimestampMillisecondArray::from(joined)),
        ];
        let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
        Table::new(schema, vec![batch]).expect("table")
    })
}

/// `kind` fitted on the fixture with its fast config, once per test binary.
fn fitted(kind: ModelKind) -> Arc<dyn Synthesizer> {
    static FITTED: OnceLock<Mutex<HashMap<ModelKind, Arc<dyn Synthesizer>>>> = OnceLock::new();
    let mut models = FITTED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let model = models.entry(kind).or_insert_with(|| {
        let model = fit(
            kind,
            table(),
            &fast_config(kind),
            &mut FitContext::default(),
        )
        .unwrap_or_else(|e| panic!("{kind}: fitting the fixture failed: {e}"));
        Arc::from(model)
    });
    Arc::clone(model)
}

/// Runs `check` for every available model.
/// `table` without its last column.
fn without_last_column(table: &Table) -> Table {
    let keep: Vec<usize> = (0..table.schema().len() - 1).collect();
    let schema = Schema::new(
        keep.iter()
            .map(|&i| table.schema().columns[i].clone())
            .collect(),
    )
    .expect("schema");
    let batches = table
        .batches()
        .iter()
        .map(|b| b.project(&keep).expect("projection"))
        .collect();
    Table::new(schema, batches).expect("table")
}

fn for_every_model(check: impl Fn(ModelKind, &dyn Synthesizer)) {
    let models = available_models();
    assert!(
        models.contains(&ModelKind::GaussianCopula),
        "the suite runs for every registered model, the GaussianCopula at least"
    );
    for &kind in models {
        let model = fitted(kind);
        check(kind, model.as_ref());
    }
}

fn one_batch(kind: ModelKind, model: &dyn Synthesizer, request: &SampleRequest) -> RecordBatch {
    let batches = sample_all(model, request).unwrap_or_else(|e| panic!("{kind}: sampling: {e}"));
    arrow::compute::concat_batches(&model.schema().arrow_schema(), &batches)
        .unwrap_or_else(|e| panic!("{kind}: {e}"))
}

/// A column's values; `who` names the rows' origin in the message if it is missing.
fn values(who: impl std::fmt::Display, batch: &RecordBatch, column: &str) -> Vec<Value> {
    let array = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("{who}: no column {column:?}"));
    (0..array.len())
        .map(|row| value_at(column, array.as_ref(), row).expect("a value"))
        .collect()
}

fn is_null(value: &Value) -> bool {
    matches!(value, Value::Null)
}

fn source_values(column: &str) -> Vec<Value> {
    let batch = table().to_single_batch().expect("one batch");
    values("the fixture", &batch, column)
}

#[test]
fn fit_and_sample_keep_the_schema() {
    for_every_model(|kind, model| {
        let source = table().schema();
        assert_eq!(model.kind(), kind);
        let names = |s: &Schema| -> Vec<(String, ColumnKind, PhysicalType)> {
            s.columns
                .iter()
                .map(|c| (c.name.clone(), c.kind.clone(), c.physical))
                .collect()
        };
        assert_eq!(names(model.schema()), names(source), "{kind}: model schema");
        let batch = one_batch(kind, model, &SampleRequest::new(1_234, 1));
        assert_eq!(batch.num_rows(), 1_234, "{kind}: rows");
        assert_eq!(
            batch.schema(),
            source.arrow_schema(),
            "{kind}: arrow schema"
        );
    });
}

#[test]
fn the_same_seed_gives_the_same_rows_in_bounded_batches() {
    for_every_model(|kind, model| {
        let request = SampleRequest {
            batch_size: 700,
            ..SampleRequest::new(2_000, 7)
        };
        let first = sample_all(model, &request).expect("samples");
        let second = sample_all(model, &request).expect("samples");
        assert_eq!(first, second, "{kind}: same seed, different rows");
        assert!(
            first.iter().all(|b| b.num_rows() <= 700),
            "{kind}: a batch over batch_size"
        );
    });
}

#[test]
fn a_different_seed_gives_different_rows() {
    for_every_model(|kind, model| {
        let first = one_batch(kind, model, &SampleRequest::new(500, 7));
        let other = one_batch(kind, model, &SampleRequest::new(500, 8));
        for column in ["age", "income", "joined"] {
            assert_ne!(
                values(kind, &first, column),
                values(kind, &other, column),
                "{kind}: column {column} did not change with the seed"
            );
        }
    });
}

#[test]
fn save_then_load_gives_the_same_rows() {
    for_every_model(|kind, model| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(kind.name());
        save_model(model, &path).unwrap_or_else(|e| panic!("{kind}: save: {e}"));
        let loaded = load_model(&path).unwrap_or_else(|e| panic!("{kind}: load: {e}"));
        assert_eq!(loaded.kind(), kind);
        assert_eq!(loaded.schema(), model.schema(), "{kind}: loaded schema");
        let request = SampleRequest {
            batch_size: 600,
            ..SampleRequest::new(1_500, 11)
        };
        assert_eq!(
            sample_all(loaded.as_ref(), &request).expect("samples"),
            sample_all(model, &request).expect("samples"),
            "{kind}: the loaded model generates other rows"
        );
    });
}

#[test]
fn conditions_are_honoured() {
    let joined_from = START + 100 * DAY;
    let joined_text = chrono::DateTime::from_timestamp_millis(joined_from)
        .expect("date")
        .format("%Y-%m-%d")
        .to_string();
    // (condition as a user writes it, the same with operands in the column's units)
    let cases: Vec<(Vec<String>, Vec<Condition>)> = vec![
        (
            vec!["segment=premium".into()],
            vec![Condition::new(
                "segment",
                ConditionOp::Eq(Value::Str("premium".into())),
            )],
        ),
        (
            vec!["age between 30 and 50".into()],
            vec![Condition::new(
                "age",
                ConditionOp::Between(Value::Int(30), Value::Int(50)),
            )],
        ),
        (
            vec!["segment in (basic, enterprise)".into()],
            vec![Condition::new(
                "segment",
                ConditionOp::In(vec![
                    Value::Str("basic".into()),
                    Value::Str("enterprise".into()),
                ]),
            )],
        ),
        (
            vec![
                "income>40000".into(),
                "active=true".into(),
                format!("joined>={joined_text}"),
            ],
            vec![
                Condition::new("income", ConditionOp::Gt(Value::Float(40_000.0))),
                Condition::new("active", ConditionOp::Eq(Value::Bool(true))),
                Condition::new("joined", ConditionOp::Ge(Value::Int(joined_from))),
            ],
        ),
    ];
    for_every_model(|kind, model| {
        for (texts, checks) in &cases {
            let conditions = texts
                .iter()
                .map(|t| Condition::parse(t).expect("parses"))
                .collect();
            let request = SampleRequest {
                conditions,
                batch_size: 250,
                ..SampleRequest::new(600, 3)
            };
            let batch = one_batch(kind, model, &request);
            assert_eq!(batch.num_rows(), 600, "{kind}: {texts:?}: rows");
            for check in checks {
                let column = values(kind, &batch, &check.column);
                let misses = column.iter().filter(|v| !check.matches(v)).count();
                assert_eq!(misses, 0, "{kind}: {texts:?}: {misses} rows miss {check}");
            }
        }
    });
}

#[test]
fn values_stay_within_the_source_bounds_and_category_sets() {
    for_every_model(|kind, model| {
        let batch = one_batch(kind, model, &SampleRequest::new(5_000, 21));
        for column in ["age", "income", "joined"] {
            let source: Vec<f64> = source_values(column)
                .iter()
                .filter_map(Value::as_f64)
                .collect();
            // A DP model never reads the source's extremes: it keeps to the bounds its
            // config declares public.
            let declared = fast_config(kind)["privacy"]["public"]["columns"][column]["bounds"]
                .as_array()
                .and_then(|b| Some((b.first()?.as_f64()?, b.get(1)?.as_f64()?)));
            let (min, max) = declared.unwrap_or_else(|| {
                source
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                        (lo.min(*v), hi.max(*v))
                    })
            });
            for value in values(kind, &batch, column)
                .iter()
                .filter_map(Value::as_f64)
            {
                assert!(
                    (min..=max).contains(&value),
                    "{kind}: {column} = {value} outside the source's [{min}, {max}]"
                );
            }
        }
        for column in ["segment", "active"] {
            let source: HashSet<String> = source_values(column)
                .iter()
                .filter(|v| !is_null(v))
                .map(Value::to_string)
                .collect();
            for value in values(kind, &batch, column).iter().filter(|v| !is_null(v)) {
                assert!(
                    source.contains(&value.to_string()),
                    "{kind}: {column} = {value} is not a source category"
                );
            }
        }
        // Floats keep the source's two decimals; datetimes stay on whole days.
        for value in values(kind, &batch, "income") {
            if let Some(v) = value.as_f64() {
                let cents = v * 100.0;
                assert!(
                    (cents - cents.round()).abs() < 1e-6 * cents.abs().max(1.0),
                    "{kind}: income {v} has more than two decimals"
                );
            }
        }
        for value in values(kind, &batch, "joined") {
            if let Value::Int(ms) = value {
                assert_eq!(ms % DAY, 0, "{kind}: joined {ms} is not a whole day");
            }
        }
        // Generated keys are unique and never null.
        let ids = values(kind, &batch, "id");
        assert!(ids.iter().all(|v| !is_null(v)), "{kind}: null key");
        let distinct: HashSet<String> = ids.iter().map(Value::to_string).collect();
        assert_eq!(distinct.len(), ids.len(), "{kind}: repeated keys");
    });
}

#[test]
fn nulls_come_back_in_the_source_proportions() {
    for_every_model(|kind, model| {
        let batch = one_batch(kind, model, &SampleRequest::new(10_000, 5));
        for column in ["age", "income", "segment", "active", "joined"] {
            let share = |values: &[Value]| {
                values.iter().filter(|v| is_null(v)).count() as f64 / values.len() as f64
            };
            let source = share(&source_values(column));
            let generated = share(&values(kind, &batch, column));
            assert!(
                (0.05..=0.10).contains(&source),
                "fixture: {column} has {source:.3} nulls"
            );
            assert!(
                (generated - source).abs() < 0.03,
                "{kind}: {column}: {generated:.3} nulls generated, {source:.3} in the source"
            );
        }
    });
}

#[test]
fn checkpoint_then_resume_equals_an_uninterrupted_run() {
    for &kind in available_models() {
        match checkpoint_resume_hook(kind) {
            CheckpointSupport::OnePass(reason) => {
                eprintln!("{kind}: checkpoint → resume does not apply: {reason}");
            }
            CheckpointSupport::NotWritten => panic!(
                "{kind} is registered but its checkpoint → resume check is not written: \
                 fill in checkpoint_resume_hook in crates/models/tests/conformance.rs"
            ),
            CheckpointSupport::Epochs(interrupted_and_resumed) => {
                let dir = tempfile::tempdir().expect("tempdir");
                let (uninterrupted, resumed) = interrupted_and_resumed(table(), dir.path());
                let request = SampleRequest::new(1_000, 13);
                assert_eq!(
                    sample_all(resumed.as_ref(), &request).expect("samples"),
                    sample_all(uninterrupted.as_ref(), &request).expect("samples"),
                    "{kind}: the resumed model generates other rows than the uninterrupted one"
                );
                // Resuming with another table is refused, naming the setting.
                let narrower = without_last_column(table());
                let config = json!({"training": {
                    "max_epochs": 4,
                    "resume_from": dir.path().join("epoch-00002"),
                }});
                match fit(kind, &narrower, &config, &mut FitContext::default()) {
                    Err(ModelError::InvalidConfig { field, .. }) => {
                        assert_eq!(field, "training.resume_from", "{kind}")
                    }
                    other => panic!("{kind}: resumed on another table: {other:?}"),
                }
            }
        }
    }
}
