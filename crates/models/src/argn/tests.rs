//! TabularARGN: encoders, masking, training machinery, sampling, conditions, imputation.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Condition, ConditionOp, Schema, Table, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::encoding::{EncodingOptions, Token, TokenEncoder};
use super::network::{Layout, Network};
use super::*;
use crate::columns::value_at;
use crate::progress::CancellationToken;
use crate::sampling::{SampleRequest, sample_all, sample_rebalanced};
use crate::store::{load_model, save_model};
use crate::training::{StopReason, TrainingConfig};

const DAY: i64 = 86_400_000;

fn options() -> EncodingOptions {
    ArgnConfig::default().encoding()
}

/// `rows` rows: x uniform on [0, 100) with 2 decimals, y the band of x (low/mid/high),
/// z an integer 0..9 with 10 % nulls, a boolean, an id, a datetime by day, and a
/// category `r` with three rare values.
fn table(rows: usize) -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut x, mut y, mut z, mut b, mut id, mut t, mut r) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..rows {
        let xv: f64 = (rng.random_range(0.0..100.0f64) * 100.0).round() / 100.0;
        x.push(xv);
        y.push(band(xv));
        z.push((rng.random::<f64>() >= 0.1).then(|| rng.random_range(0..10i64)));
        b.push(rng.random::<bool>());
        id.push(500 + i as i64);
        t.push(19_000 * DAY + rng.random_range(0..30i64) * DAY);
        r.push(match i {
            0 => "q1".to_string(),
            1 => "q2".to_string(),
            2 => "q3".to_string(),
            _ if rng.random::<bool>() => "a".to_string(),
            _ => "b".to_string(),
        });
    }
    let schema = Schema::new(vec![
        ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Int64),
        ColumnSchema::new("x", ColumnKind::Float, PhysicalType::Float64),
        ColumnSchema::new("y", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("z", ColumnKind::Integer, PhysicalType::Int64),
        ColumnSchema::new("b", ColumnKind::Boolean, PhysicalType::Boolean),
        ColumnSchema::new(
            "t",
            ColumnKind::Datetime {
                format: "%Y-%m-%d".into(),
            },
            PhysicalType::TimestampMillis,
        ),
        ColumnSchema::new("r", ColumnKind::Categorical, PhysicalType::Utf8),
    ])
    .expect("schema");
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(id)),
        Arc::new(Float64Array::from(x)),
        Arc::new(StringArray::from(y)),
        Arc::new(Int64Array::from(z)),
        Arc::new(BooleanArray::from(b)),
        Arc::new(TimestampMillisecondArray::from(t)),
        Arc::new(StringArray::from(r)),
    ];
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

fn band(x: f64) -> &'static str {
    if x < 33.0 {
        "low"
    } else if x < 66.0 {
        "mid"
    } else {
        "high"
    }
}

fn quick_config() -> ArgnConfig {
    ArgnConfig {
        hidden: 32,
        training: TrainingConfig {
            max_epochs: 12,
            batch_size: 256,
            learning_rate: 1e-2,
            patience: 100,
            seed: 3,
            ..TrainingConfig::default()
        },
        ..ArgnConfig::default()
    }
}

fn fit_quick(rows: usize, config: ArgnConfig) -> TabularArgn {
    TabularArgn::fit(&table(rows), config, &mut FitContext::default()).expect("fit")
}

fn column(batch: &RecordBatch, name: &str) -> Vec<Value> {
    let index = batch.schema().index_of(name).expect("column");
    let array = batch.column(index);
    (0..array.len())
        .map(|r| value_at(name, array.as_ref(), r).expect("value"))
        .collect()
}

#[test]
fn categorical_encoder_round_trips_and_pools_rare_values() {
    let mut values: Vec<Value> = (0..100).map(|i| Value::from(["a", "b"][i % 2])).collect();
    values.extend([Value::from("q1"), Value::from("q2"), Value::Null]);
    let encoder = TokenEncoder::fit_discrete(&values, &options());
    assert_eq!(encoder.tokens[0], Token::Null);
    assert!(encoder.tokens.contains(&Token::Rare));
    assert_eq!(encoder.rare.len(), 2);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for value in [Value::from("a"), Value::from("b"), Value::Null] {
        let token = encoder.encode(&value).expect("token");
        assert_eq!(encoder.decode(token, &[], &mut rng), value);
    }
    let rare = encoder.encode(&Value::from("q2")).expect("rare");
    assert_eq!(encoder.tokens[rare as usize], Token::Rare);
    let decoded = encoder.decode(rare, &[], &mut rng);
    assert!(decoded == Value::from("q1") || decoded == Value::from("q2"));
    assert_eq!(encoder.encode(&Value::from("never")), None);
}

#[test]
fn few_distinct_numbers_round_trip_exactly() {
    let values: Vec<Option<f64>> = (0..500).map(|i| Some(f64::from(i % 37) * 2.5)).collect();
    let encoder = TokenEncoder::fit_numeric(&values, false, false, &options());
    assert_eq!(encoder.cardinality(), 37);
    assert_eq!(encoder.null_token(), None);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for v in values.iter().flatten() {
        let token = encoder.encode(&Value::Float(*v)).expect("token");
        assert_eq!(encoder.decode(token, &[], &mut rng), Value::Float(*v));
    }
}

#[test]
fn binned_numbers_keep_bounds_precision_point_masses_and_nulls() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut values: Vec<Option<f64>> = (0..5_000)
        .map(|_| Some((rng.random_range(-50.0..150.0f64) * 10.0).round() / 10.0))
        .collect();
    // A point mass at 0 (a third of the rows) and some nulls.
    values.extend(std::iter::repeat_n(Some(0.0), 2_500));
    values.extend(std::iter::repeat_n(None, 100));
    let encoder = TokenEncoder::fit_numeric(&values, false, false, &options());
    assert!(encoder.cardinality() <= 101, "{}", encoder.cardinality());
    let shape = encoder.numeric.expect("numeric");
    assert_eq!(shape.quantum, Some(0.1));
    let zero = encoder.encode(&Value::Float(0.0)).expect("zero");
    assert_eq!(encoder.tokens[zero as usize], Token::Number { value: 0.0 });
    assert_eq!(
        encoder.decode(encoder.null_token().expect("null"), &[], &mut rng),
        Value::Null
    );
    for v in values.iter().flatten().take(2_000) {
        let token = encoder.encode(&Value::Float(*v)).expect("token");
        let back = encoder
            .decode(token, &[], &mut rng)
            .as_f64()
            .expect("number");
        assert!(back >= shape.min && back <= shape.max);
        assert!(
            ((back * 10.0) - (back * 10.0).round()).abs() < 1e-6,
            "{back}"
        );
        if let Token::Bin { low, high } = encoder.tokens[token as usize] {
            assert!(back >= low - 1e-9 && back <= high + 1e-9 && *v >= low && *v <= high);
        }
    }
}

#[test]
fn integers_stay_integers() {
    let values: Vec<Option<f64>> = (0..3_000).map(|i| Some(f64::from(i * 7 % 1_000))).collect();
    let encoder = TokenEncoder::fit_numeric(&values, true, false, &options());
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for token in 0..encoder.cardinality() as u32 {
        let v = encoder
            .decode(token, &[], &mut rng)
            .as_f64()
            .expect("number");
        assert_eq!(v, v.round());
    }
}

#[test]
fn a_head_never_sees_the_columns_after_it() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let network = Network::new(Layout::new(vec![3, 4, 5], 16, 8), &mut rng).expect("network");
    let tokens = vec![vec![0, 1], vec![2, 3], vec![4, 0]];
    // Fixed order 0, 1, 2.
    let positions = vec![vec![0, 1, 2]; 2];
    let before = network
        .logits(&tokens, &positions)
        .expect("logits")
        .to_vec3::<f32>()
        .expect("vec");
    let width = network.layout.widths[2];
    let changed = Tensor::ones((5, width), candle_core::DType::F32, &Device::Cpu).expect("ones");
    network.set_embedding(2, &changed).expect("set");
    let after_last = network
        .logits(&tokens, &positions)
        .expect("logits")
        .to_vec3::<f32>()
        .expect("vec");
    assert_eq!(before[0], after_last[0]);
    assert_eq!(before[1], after_last[1]);
    assert_eq!(before[2], after_last[2], "no head sees column 2, the last");
    let changed = Tensor::ones(
        (4, network.layout.widths[1]),
        candle_core::DType::F32,
        &Device::Cpu,
    )
    .expect("ones");
    network.set_embedding(1, &changed).expect("set");
    let after_middle = network
        .logits(&tokens, &positions)
        .expect("logits")
        .to_vec3::<f32>()
        .expect("vec");
    assert_eq!(before[0], after_middle[0], "head 0 sees nothing");
    assert_eq!(before[1], after_middle[1], "head 1 sees only column 0");
    assert_ne!(before[2], after_middle[2], "head 2 sees column 1");
}

#[test]
fn training_and_sampling_are_deterministic_per_seed() {
    let a = fit_quick(
        600,
        ArgnConfig {
            training: TrainingConfig {
                max_epochs: 3,
                ..quick_config().training
            },
            ..quick_config()
        },
    );
    let b = fit_quick(
        600,
        ArgnConfig {
            training: TrainingConfig {
                max_epochs: 3,
                ..quick_config().training
            },
            ..quick_config()
        },
    );
    assert_eq!(a.network().tensors().len(), b.network().tensors().len());
    for (name, tensor) in a.network().tensors() {
        let other = &b.network().tensors()[&name];
        let x = tensor
            .flatten_all()
            .expect("flat")
            .to_vec1::<f32>()
            .expect("vec");
        let y = other
            .flatten_all()
            .expect("flat")
            .to_vec1::<f32>()
            .expect("vec");
        assert_eq!(x, y, "{name}");
    }
    let rows_a = sample_all(&a, &SampleRequest::new(300, 9)).expect("sample");
    let rows_b = sample_all(&b, &SampleRequest::new(300, 9)).expect("sample");
    assert_eq!(rows_a, rows_b);
    let rows_c = sample_all(&a, &SampleRequest::new(300, 10)).expect("sample");
    assert_ne!(rows_a, rows_c);
}

#[test]
fn the_model_learns_a_dependency_and_keeps_marginals() {
    let model = fit_quick(
        3_000,
        ArgnConfig {
            training: TrainingConfig {
                max_epochs: 25,
                ..quick_config().training
            },
            ..quick_config()
        },
    );
    let batches = sample_all(&model, &SampleRequest::new(2_000, 1)).expect("sample");
    let (mut agree, mut total, mut nulls, mut trues) = (0, 0, 0, 0);
    for batch in &batches {
        let x = column(batch, "x");
        let y = column(batch, "y");
        let z = column(batch, "z");
        let b = column(batch, "b");
        for row in 0..batch.num_rows() {
            let xv = x[row].as_f64().expect("x");
            assert!((0.0..100.0).contains(&xv));
            if y[row] == Value::from(band(xv)) {
                agree += 1;
            }
            total += 1;
            nulls += usize::from(z[row] == Value::Null);
            trues += usize::from(b[row] == Value::Bool(true));
        }
    }
    // A model that ignored x would agree a third of the time.
    let share = f64::from(agree) / f64::from(total);
    assert!(
        share > 0.85,
        "y agrees with the band of x in {share:.3} of rows"
    );
    let null_share = nulls as f64 / total as f64;
    assert!((0.06..0.14).contains(&null_share), "{null_share}");
    let true_share = trues as f64 / total as f64;
    assert!((0.44..0.56).contains(&true_share), "{true_share}");
}

#[test]
fn early_stopping_restores_the_best_epoch() {
    let config = ArgnConfig {
        hidden: 64,
        training: TrainingConfig {
            max_epochs: 60,
            batch_size: 64,
            learning_rate: 0.05,
            patience: 2,
            validation_share: 0.3,
            seed: 1,
            ..TrainingConfig::default()
        },
        ..ArgnConfig::default()
    };
    let model = fit_quick(300, config);
    let outcome = model.training_outcome().expect("trained");
    assert_eq!(outcome.stop, StopReason::EarlyStopping, "{outcome:?}");
    let best = outcome
        .history
        .iter()
        .filter_map(|e| e.validation_loss)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(outcome.best_loss, best);
    assert!(outcome.best_epoch < outcome.epochs);
    // The weights held are the best epoch's: their validation loss is the best one.
    let last = outcome
        .history
        .last()
        .and_then(|e| e.validation_loss)
        .expect("loss");
    assert!(last > best);
}

#[test]
fn the_time_budget_stops_training() {
    let config = ArgnConfig {
        training: TrainingConfig {
            max_epochs: 100_000,
            batch_size: 32,
            time_budget: Some(0.5),
            patience: 100_000,
            ..quick_config().training
        },
        ..quick_config()
    };
    let started = std::time::Instant::now();
    let model = fit_quick(600, config);
    assert!(started.elapsed().as_secs_f64() < 10.0);
    assert_eq!(
        model.training_outcome().expect("trained").stop,
        StopReason::TimeBudget
    );
}

#[test]
fn cancellation_stops_training_with_an_error() {
    let token = CancellationToken::new();
    let cancel = token.clone();
    let mut events = 0;
    let mut context = FitContext::new(
        move |event| {
            if event.stage == "epoch" {
                events += 1;
                if events == 2 {
                    cancel.cancel();
                }
            }
        },
        token,
    );
    let err = TabularArgn::fit(&table(400), quick_config(), &mut context).expect_err("cancelled");
    assert!(matches!(err, ModelError::Cancelled), "{err}");
}

#[test]
fn progress_reports_epochs_losses_throughput_and_eta() {
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let mut context = FitContext::new(
        move |e| sink.lock().expect("lock").push(e.clone()),
        CancellationToken::new(),
    );
    let config = ArgnConfig {
        training: TrainingConfig {
            max_epochs: 3,
            ..quick_config().training
        },
        ..quick_config()
    };
    TabularArgn::fit(&table(400), config, &mut context).expect("fit");
    let events = events.lock().expect("lock");
    let epochs: Vec<_> = events.iter().filter(|e| e.stage == "epoch").collect();
    assert_eq!(epochs.len(), 3);
    for (i, e) in epochs.iter().enumerate() {
        assert_eq!(e.epoch, Some(i as u64 + 1));
        assert_eq!(e.total, 3);
        assert!(e.rows_per_second.expect("rate") > 0.0);
        assert!(e.eta_seconds.is_some());
        assert!(e.losses.iter().any(|(n, _)| n == "validation"));
    }
}

#[test]
fn resuming_a_checkpoint_equals_an_uninterrupted_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = ArgnConfig {
        training: TrainingConfig {
            max_epochs: 4,
            ..quick_config().training
        },
        ..quick_config()
    };
    let straight = fit_quick(500, base.clone());
    let mut first = base.clone();
    first.training.max_epochs = 2;
    first.training.checkpoint_every = Some(2);
    first.training.checkpoint_dir = Some(dir.path().to_path_buf());
    fit_quick(500, first);
    let checkpoint = crate::training::checkpoint::directory(dir.path(), 2);
    for file in ["weights.safetensors", "optimizer.safetensors", "state.json"] {
        assert!(checkpoint.join(file).exists(), "{file}");
    }
    let mut resumed = base;
    resumed.training.resume_from = Some(checkpoint);
    let resumed = fit_quick(500, resumed);
    for (name, tensor) in straight.network().tensors() {
        let x = tensor
            .flatten_all()
            .expect("flat")
            .to_vec1::<f32>()
            .expect("vec");
        let y = resumed.network().tensors()[&name]
            .flatten_all()
            .expect("flat")
            .to_vec1::<f32>()
            .expect("vec");
        assert_eq!(x, y, "{name}");
    }
    let a = sample_all(&straight, &SampleRequest::new(200, 4)).expect("sample");
    let b = sample_all(&resumed, &SampleRequest::new(200, 4)).expect("sample");
    assert_eq!(a, b);
}

#[test]
fn save_then_load_gives_the_same_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = fit_quick(
        400,
        ArgnConfig {
            training: TrainingConfig {
                max_epochs: 2,
                ..quick_config().training
            },
            ..quick_config()
        },
    );
    let path = dir.path().join("argn-v1");
    let manifest = save_model(&model, &path).expect("save");
    assert!(manifest.weights_sha256.is_some());
    assert!(path.join("weights.safetensors").exists());
    let loaded = load_model(&path).expect("load");
    let request = SampleRequest::new(300, 11);
    assert_eq!(
        sample_all(&model, &request).expect("sample"),
        sample_all(loaded.as_ref(), &request).expect("sample")
    );
}

fn drawn_without_rejection(
    model: &TabularArgn,
    conditions: Vec<Condition>,
    rows: usize,
) -> Vec<RecordBatch> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let native = model
        .sample_conditioned(rows, 0, &conditions, &mut rng)
        .expect("native")
        .expect("sample");
    // Every natively drawn row already meets the conditions: nothing to reject.
    for condition in &conditions {
        for value in column(&native, &condition.column) {
            assert!(condition.matches(&value), "{condition}: {value}");
        }
    }
    let mut request = SampleRequest::new(rows, 5);
    request.conditions = conditions;
    let batches = sample_all(model, &request).expect("sample");
    assert_eq!(
        batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
        rows
    );
    batches
}

#[test]
fn conditions_hold_on_every_row_without_rejection() {
    let model = fit_quick(1_500, quick_config());
    drawn_without_rejection(
        &model,
        vec![Condition::new("y", ConditionOp::Eq("high".into()))],
        500,
    );
    drawn_without_rejection(
        &model,
        vec![Condition::new(
            "x",
            ConditionOp::Between(Value::Float(10.5), Value::Float(12.25)),
        )],
        500,
    );
    let batches = drawn_without_rejection(
        &model,
        vec![
            Condition::new("x", ConditionOp::Gt(Value::Int(90))),
            Condition::new("z", ConditionOp::In(vec![Value::Int(3), Value::Int(4)])),
            Condition::new("r", ConditionOp::Eq("q2".into())),
        ],
        300,
    );
    // Given x > 90, the model should mostly say "high".
    let y = column(&batches[0], "y");
    let high = y.iter().filter(|v| **v == Value::from("high")).count();
    assert!(high as f64 > 0.8 * y.len() as f64, "{high} of {}", y.len());
    let err = model
        .sample_with_conditions(
            10,
            0,
            &[Condition::new("x", ConditionOp::Gt(Value::Int(500)))],
            &mut ChaCha8Rng::seed_from_u64(1),
        )
        .expect_err("impossible");
    assert!(matches!(err, ModelError::InvalidCondition { .. }), "{err}");
}

#[test]
fn imputation_keeps_known_cells_and_fills_the_rest() {
    let model = fit_quick(1_500, quick_config());
    let source = table(200);
    // Blank y in every other row.
    let batch = source.to_single_batch().expect("batch");
    let y: StringArray = (0..200)
        .map(|r| (r % 2 == 0).then(|| band(column(&batch, "x")[r].as_f64().expect("x"))))
        .collect();
    let mut arrays = batch.columns().to_vec();
    arrays[2] = Arc::new(y);
    let holed = Table::new(
        source.schema().clone(),
        vec![RecordBatch::try_new(batch.schema(), arrays).expect("batch")],
    )
    .expect("table");
    let filled = model
        .impute(&holed, 3)
        .expect("impute")
        .to_single_batch()
        .expect("batch");
    let before = holed.to_single_batch().expect("batch");
    let (x, y_before, y_after) = (
        column(&filled, "x"),
        column(&before, "y"),
        column(&filled, "y"),
    );
    assert_eq!(column(&filled, "x"), column(&before, "x"));
    let mut agree = 0;
    for row in 0..200 {
        if y_before[row] != Value::Null {
            assert_eq!(y_after[row], y_before[row]);
        } else {
            assert_ne!(y_after[row], Value::Null);
            agree += usize::from(y_after[row] == Value::from(band(x[row].as_f64().expect("x"))));
        }
    }
    assert!(
        agree > 80,
        "imputed y matches the band of x in {agree} of 100 rows"
    );
}

#[test]
fn rebalancing_reaches_the_asked_count() {
    let model = fit_quick(
        600,
        ArgnConfig {
            training: TrainingConfig {
                max_epochs: 4,
                ..quick_config().training
            },
            ..quick_config()
        },
    );
    let batches = sample_rebalanced(
        &model,
        &SampleRequest::new(300, 2),
        "y",
        Value::from("low"),
        250,
    )
    .expect("rebalance");
    let low: usize = batches
        .iter()
        .map(|b| {
            column(b, "y")
                .iter()
                .filter(|v| **v == Value::from("low"))
                .count()
        })
        .sum();
    assert!(low >= 250, "{low}");
    // The extra rows continue the key sequence instead of restarting it.
    let ids: Vec<Value> = batches.iter().flat_map(|b| column(b, "id")).collect();
    let unique: std::collections::HashSet<String> = ids.iter().map(Value::to_string).collect();
    assert_eq!(unique.len(), ids.len(), "generated keys repeat");
}

#[test]
fn configs_refuse_typos_and_bad_ranges() {
    assert!(ArgnConfig::from_json(&serde_json::json!({"hiden": 3})).is_err());
    assert!(ArgnConfig::from_json(&serde_json::json!({"top_p": 0.0})).is_err());
    assert!(
        ArgnConfig::from_json(&serde_json::json!({"training": {"checkpoint_every": 2}})).is_err()
    );
    let config = ArgnConfig::from_json(
        &serde_json::json!({"order": "fixed", "training": {"max_epochs": 3}}),
    )
    .expect("valid");
    assert_eq!(config.order, ColumnOrder::Fixed);
}

#[test]
fn the_registry_fits_restores_and_conditions_through_sampling() {
    use mirage_core::records::ModelKind;
    let kind = crate::synthesizer::parse_model_kind("tabular-argn").expect("registered");
    assert_eq!(kind, ModelKind::TabularArgn);
    let config = serde_json::json!({"hidden": 16, "training": {"max_epochs": 2, "seed": 4}});
    let model = crate::synthesizer::fit(kind, &table(400), &config, &mut FitContext::default())
        .expect("fit");
    let dir = tempfile::tempdir().expect("tempdir");
    save_model(model.as_ref(), &dir.path().join("m")).expect("save");
    let loaded = load_model(&dir.path().join("m")).expect("load");
    let mut request = SampleRequest::new(200, 8);
    request.conditions =
        vec![Condition::parse("t between 2022-01-10 and 2022-01-15").expect("parse")];
    let rows = sample_all(loaded.as_ref(), &request).expect("sample");
    let low = 19_002 * DAY; // 2022-01-10
    for value in column(&rows[0], "t") {
        let ms = value.as_f64().expect("datetime") as i64;
        assert!((low..=low + 5 * DAY).contains(&ms), "{ms}");
        assert_eq!(ms % DAY, 0);
    }
    assert_eq!(
        rows,
        sample_all(model.as_ref(), &request).expect("sample"),
        "the loaded model conditions like the fitted one"
    );
}

#[test]
fn keys_only_all_null_and_constant_columns_work() {
    let schema = Schema::new(vec![
        ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Utf8),
        ColumnSchema::new("empty", ColumnKind::Float, PhysicalType::Float64),
        ColumnSchema::new("same", ColumnKind::Constant, PhysicalType::Utf8),
    ])
    .expect("schema");
    let rows = 50;
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| format!("K-{i:04}")),
        )),
        Arc::new(Float64Array::from(vec![None::<f64>; rows])),
        Arc::new(StringArray::from(vec!["x"; rows])),
    ];
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    let table = Table::new(schema.clone(), vec![batch]).expect("table");
    let model = TabularArgn::fit(&table, quick_config(), &mut FitContext::default()).expect("fit");
    let out = sample_all(&model, &SampleRequest::new(30, 1)).expect("sample");
    assert!(column(&out[0], "empty").iter().all(|v| *v == Value::Null));
    assert!(
        column(&out[0], "same")
            .iter()
            .all(|v| *v == Value::from("x"))
    );
    let dir = tempfile::tempdir().expect("tempdir");
    save_model(&model, &dir.path().join("m")).expect("save");
    let loaded = load_model(&dir.path().join("m")).expect("load");
    assert_eq!(
        out,
        sample_all(loaded.as_ref(), &SampleRequest::new(30, 1)).expect("sample")
    );

    // Only a key column: nothing for the network to learn, keys still come out.
    let keys = Schema::new(vec![ColumnSchema::new(
        "id",
        ColumnKind::Identifier,
        PhysicalType::Int64,
    )])
    .expect("schema");
    let batch = RecordBatch::try_new(
        keys.arrow_schema(),
        vec![Arc::new(Int64Array::from_iter_values(0..20)) as ArrayRef],
    )
    .expect("batch");
    let table = Table::new(keys, vec![batch]).expect("table");
    let model = TabularArgn::fit(&table, quick_config(), &mut FitContext::default()).expect("fit");
    let out = sample_all(&model, &SampleRequest::new(5, 1)).expect("sample");
    assert_eq!(
        column(&out[0], "id"),
        (0..5).map(Value::Int).collect::<Vec<_>>()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    save_model(&model, &dir.path().join("k")).expect("save keys-only");
    load_model(&dir.path().join("k")).expect("load keys-only");
}

#[test]
fn fixed_order_learns_and_conditions_by_rejection() {
    let config = ArgnConfig {
        order: ColumnOrder::Fixed,
        training: TrainingConfig {
            max_epochs: 20,
            ..quick_config().training
        },
        ..quick_config()
    };
    let model = fit_quick(2_000, config);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let condition = Condition::new("y", ConditionOp::Eq("low".into()));
    assert!(
        model
            .sample_conditioned(10, 0, std::slice::from_ref(&condition), &mut rng)
            .is_none(),
        "a fixed order cannot put conditioned columns first"
    );
    let mut request = SampleRequest::new(500, 3);
    request.conditions = vec![condition];
    let batches = sample_all(&model, &request).expect("rejection");
    let (mut agree, mut total) = (0, 0);
    for batch in &batches {
        let (x, y) = (column(batch, "x"), column(batch, "y"));
        for (x, y) in x.iter().zip(&y) {
            assert_eq!(*y, Value::from("low"));
            agree += usize::from(x.as_f64().expect("x") < 33.0);
            total += 1;
        }
    }
    assert_eq!(total, 500);
    assert!(agree as f64 > 0.85 * total as f64, "{agree} of {total}");
}

#[test]
fn a_cold_temperature_keeps_to_the_likeliest_values() {
    let mut model = fit_quick(1_500, quick_config());
    assert!(model.set_sampling(0.0, 1.0).is_err());
    assert!(model.set_sampling(1.0, 1.5).is_err());
    let agreement = |model: &TabularArgn| {
        let batches = sample_all(model, &SampleRequest::new(1_000, 2)).expect("sample");
        let (x, y) = (column(&batches[0], "x"), column(&batches[0], "y"));
        let agree = x
            .iter()
            .zip(&y)
            .filter(|(x, y)| **y == Value::from(band(x.as_f64().expect("x"))))
            .count();
        agree as f64 / x.len() as f64
    };
    let warm = agreement(&model);
    model.set_sampling(0.05, 0.5).expect("valid");
    let cold = agreement(&model);
    // The likeliest band given x (or x's bin given the band) is the right one.
    assert!(
        cold >= warm && cold > 0.95,
        "warm {warm:.3}, cold {cold:.3}"
    );
}

#[test]
fn a_batch_in_slices_gives_the_batch_gradient() {
    let model = fit_quick(
        300,
        ArgnConfig {
            training: TrainingConfig {
                max_epochs: 1,
                ..quick_config().training
            },
            ..quick_config()
        },
    );
    let tokens: Vec<Vec<u32>> = model
        .network()
        .layout
        .cardinalities
        .iter()
        .map(|&c| (0..40).map(|r| (r % c) as u32).collect())
        .collect();
    let whole = TokenTrainer {
        network: model.network(),
        tokens: &tokens,
        random_order: true,
        slice_floats: usize::MAX,
    };
    let layout = &model.network().layout;
    // Slices of 7 rows.
    let sliced = TokenTrainer {
        slice_floats: 7 * layout.columns() * layout.total,
        ..whole
    };
    assert_eq!(sliced.chunk_rows(), 7);
    let rows: Vec<u32> = (0..40).collect();
    let (loss, grads) = sliced
        .loss_and_gradients(&rows, &mut ChaCha8Rng::seed_from_u64(1))
        .expect("sliced");
    let (want_loss, want_grads) = whole
        .loss_and_gradients(&rows, &mut ChaCha8Rng::seed_from_u64(1))
        .expect("whole");
    assert!((loss - want_loss).abs() < 1e-4, "{loss} vs {want_loss}");
    let validation = sliced
        .loss(&rows, &mut ChaCha8Rng::seed_from_u64(2))
        .expect("loss");
    let want = whole
        .loss(&rows, &mut ChaCha8Rng::seed_from_u64(2))
        .expect("loss");
    assert!((validation - want).abs() < 1e-4);
    for (got, want) in grads.iter().zip(&want_grads) {
        let got: Vec<f32> = got.flatten_all().and_then(|t| t.to_vec1()).expect("vec");
        let want: Vec<f32> = want.flatten_all().and_then(|t| t.to_vec1()).expect("vec");
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-4, "{g} vs {w}");
        }
    }
}
