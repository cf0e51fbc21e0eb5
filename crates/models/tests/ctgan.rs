//! CTGAN and CopulaGAN through their public API: config validation, a small fit that is
//! deterministic for a seed, conditioned sampling and a save → restore round trip.
//! (The gradient checks and the conditional sampler's tests are unit tests in
//! `src/ctgan/tests.rs`.)

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Condition, ConditionOp, Schema, Table, Value};
use mirage_models::ctgan::{Ctgan, CtganConfig};
use mirage_models::{FitContext, ModelError, SampleRequest, Synthesizer, sample_all};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde_json::json;

const COLORS: [&str; 3] = ["red", "green", "blue"];

/// 400 rows: a colour, a number that depends on it (with a few nulls) and a flag.
fn table() -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut color, mut amount, mut flag) = (vec![], vec![], vec![]);
    for _ in 0..400 {
        let c = match rng.random::<f64>() {
            u if u < 0.6 => 0,
            u if u < 0.9 => 1,
            _ => 2,
        };
        let z: f64 = rng.sample(StandardNormal);
        color.push(COLORS[c]);
        amount.push((rng.random::<f64>() > 0.05).then_some(10.0 * c as f64 + z));
        flag.push(z > 0.0);
    }
    let schema = Schema::new(vec![
        ColumnSchema::new("color", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("amount", ColumnKind::Float, PhysicalType::Float64),
        ColumnSchema::new("flag", ColumnKind::Boolean, PhysicalType::Boolean),
    ])
    .expect("schema");
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(color)),
        Arc::new(Float64Array::from(amount)),
        Arc::new(BooleanArray::from(flag)),
    ];
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

/// A small, fast configuration.
fn small(epochs: usize) -> serde_json::Value {
    json!({
        "embedding_dim": 16,
        "generator_dims": [32, 32],
        "discriminator_dims": [32, 32],
        "training": {"max_epochs": epochs, "batch_size": 100, "seed": 3},
    })
}

fn fit(kind: ModelKind, config: &serde_json::Value) -> Ctgan {
    Ctgan::fit(kind, &table(), config, &mut FitContext::default()).expect("fit")
}

fn field_of(kind: ModelKind, config: serde_json::Value) -> String {
    match CtganConfig::from_json(kind, &config) {
        Err(ModelError::InvalidConfig { field, .. }) => field,
        other => panic!("{config}: expected an invalid config, got {other:?}"),
    }
}

#[test]
fn invalid_configs_name_the_field() {
    let kind = ModelKind::Ctgan;
    assert_eq!(field_of(kind, json!({"embedding_dim": 0})), "embedding_dim");
    assert_eq!(
        field_of(kind, json!({"generator_dims": [256, 0]})),
        "generator_dims"
    );
    assert_eq!(
        field_of(kind, json!({"discriminator_dims": []})),
        "discriminator_dims"
    );
    assert_eq!(field_of(kind, json!({"pac": 0})), "pac");
    assert_eq!(
        field_of(kind, json!({"discriminator_steps": 0})),
        "discriminator_steps"
    );
    assert_eq!(
        field_of(kind, json!({"gradient_penalty": -1.0})),
        "gradient_penalty"
    );
    assert_eq!(field_of(kind, json!({"gumbel_tau": 0.0})), "gumbel_tau");
    assert_eq!(
        field_of(kind, json!({"training": {"batch_size": 505}})),
        "training.batch_size"
    );
    assert_eq!(
        field_of(kind, json!({"training": {"learning_rate": 0.0}})),
        "training.learning_rate"
    );
    assert_eq!(
        field_of(kind, json!({"transformer": {"max_components": 0}})),
        "transformer.max_components"
    );
    assert_eq!(field_of(kind, json!({"embeding_dim": 8})), "config");
    assert_eq!(
        field_of(kind, json!({"transformer": {"gaussian_copula": true}})),
        "transformer.gaussian_copula"
    );
    assert_eq!(
        field_of(
            ModelKind::CopulaGan,
            json!({"transformer": {"gaussian_copula": false}})
        ),
        "transformer.gaussian_copula"
    );
    // The paper's defaults, and CopulaGAN's copula transform.
    let defaults = CtganConfig::from_json(kind, &serde_json::Value::Null).expect("defaults");
    assert_eq!(defaults, CtganConfig::default());
    assert_eq!(defaults.embedding_dim, 128);
    assert_eq!(defaults.generator_dims, vec![256, 256]);
    assert_eq!(defaults.pac, 10);
    assert_eq!(defaults.training.batch_size, 500);
    assert_eq!(defaults.training.max_epochs, 300);
    assert!((defaults.training.learning_rate - 2e-4).abs() < 1e-12);
    assert!(!defaults.transformer.gaussian_copula);
    let copula = CtganConfig::from_json(ModelKind::CopulaGan, &json!({})).expect("copula");
    assert!(copula.transformer.gaussian_copula);
}

fn column(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let array = batch.column_by_name(name).expect("column");
    let strings = array
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("strings");
    (0..strings.len())
        .map(|i| strings.is_valid(i).then(|| strings.value(i).to_string()))
        .collect()
}

#[test]
fn a_small_fit_is_deterministic_and_samples_the_schema() {
    let first = fit(ModelKind::Ctgan, &small(3));
    let second = fit(ModelKind::Ctgan, &small(3));
    let outcome = first.training_outcome().expect("trained");
    assert_eq!(outcome.epochs, 3);
    assert!(outcome.history.iter().all(|e| e.train_loss.is_finite()));
    let request = SampleRequest::new(300, 9);
    let a = sample_all(&first, &request).expect("samples");
    let b = sample_all(&second, &request).expect("samples");
    assert_eq!(a, b, "the same seed trained two different models");
    let rows: usize = a.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 300);
    assert_eq!(a[0].schema(), table().schema().arrow_schema());
    for value in column(&a[0], "color").into_iter().flatten() {
        assert!(COLORS.contains(&value.as_str()), "{value}");
    }
    let other = sample_all(&first, &SampleRequest::new(300, 10)).expect("samples");
    assert_ne!(a, other, "another sampling seed gave the same rows");
}

#[test]
fn an_equality_condition_on_a_category_is_met_natively() {
    let model = fit(ModelKind::Ctgan, &small(2));
    let condition = Condition::new("color", ConditionOp::Eq(Value::Str("blue".into())));
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let batch = model
        .sample_conditioned(200, 0, std::slice::from_ref(&condition), &mut rng)
        .expect("native")
        .expect("rows");
    assert_eq!(batch.num_rows(), 200);
    assert!(
        column(&batch, "color")
            .iter()
            .all(|c| c.as_deref() == Some("blue"))
    );
    // Through the shared sampler as well.
    let request = SampleRequest {
        conditions: vec![Condition::parse("color=green").expect("parses")],
        ..SampleRequest::new(150, 4)
    };
    let batches = sample_all(&model, &request).expect("samples");
    let colors: Vec<_> = batches.iter().flat_map(|b| column(b, "color")).collect();
    assert_eq!(colors.len(), 150);
    assert!(colors.iter().all(|c| c.as_deref() == Some("green")));
    // Ranges, several columns and unknown values fall back to rejection.
    let range = Condition::new(
        "amount",
        ConditionOp::Between(Value::Float(0.0), Value::Float(5.0)),
    );
    assert!(
        model
            .sample_conditioned(10, 0, &[range], &mut rng)
            .is_none()
    );
    let unknown = Condition::new("color", ConditionOp::Eq(Value::Str("mauve".into())));
    assert!(
        model
            .sample_conditioned(10, 0, &[unknown], &mut rng)
            .is_none()
    );
    let flag = Condition::new("flag", ConditionOp::Eq(Value::Bool(true)));
    assert!(
        model
            .sample_conditioned(10, 0, &[condition, flag], &mut rng)
            .is_none()
    );
}

#[test]
fn copula_gan_saves_and_restores_to_the_same_rows() {
    let model = fit(ModelKind::CopulaGan, &small(2));
    assert_eq!(model.kind(), ModelKind::CopulaGan);
    assert!(model.config().transformer.gaussian_copula);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("weights.safetensors");
    assert!(model.save_weights(&path).expect("save"));
    let weights = std::fs::read(&path).expect("read");
    let restored = Ctgan::restore(
        ModelKind::CopulaGan,
        model.schema().clone(),
        &model.config_json(),
        model.parameters_json().expect("parameters"),
        Some(&weights),
    )
    .expect("restore");
    let request = SampleRequest::new(250, 2);
    assert_eq!(
        sample_all(&restored, &request).expect("samples"),
        sample_all(&model, &request).expect("samples")
    );
    assert!(
        Ctgan::restore(
            ModelKind::CopulaGan,
            model.schema().clone(),
            &model.config_json(),
            model.parameters_json().expect("parameters"),
            None,
        )
        .is_err()
    );
}

#[test]
fn a_table_without_discrete_columns_trains_without_a_conditional_vector() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let values: Vec<f64> = (0..300)
        .map(|i| if i % 2 == 0 { -5.0 } else { 5.0 } + rng.sample::<f64, _>(StandardNormal))
        .collect();
    let schema = Schema::new(vec![ColumnSchema::new(
        "amount",
        ColumnKind::Float,
        PhysicalType::Float64,
    )])
    .expect("schema");
    let arrays: Vec<ArrayRef> = vec![Arc::new(Float64Array::from(values))];
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    let numbers = Table::new(schema, vec![batch]).expect("table");
    let model = Ctgan::fit(
        ModelKind::Ctgan,
        &numbers,
        &small(2),
        &mut FitContext::default(),
    )
    .expect("fit");
    let batches = sample_all(&model, &SampleRequest::new(120, 1)).expect("samples");
    let amounts = batches[0]
        .column_by_name("amount")
        .expect("amount")
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("floats")
        .clone();
    assert_eq!(amounts.len(), 120);
}

#[test]
fn a_table_of_keys_only_needs_no_training() {
    let schema = Schema::new(vec![ColumnSchema::new(
        "id",
        ColumnKind::Identifier,
        PhysicalType::Int64,
    )])
    .expect("schema");
    let ids: Vec<i64> = (0..50).collect();
    let arrays: Vec<ArrayRef> = vec![Arc::new(arrow::array::Int64Array::from(ids))];
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    let keys = Table::new(schema, vec![batch]).expect("table");
    let model = Ctgan::fit(
        ModelKind::Ctgan,
        &keys,
        &small(2),
        &mut FitContext::default(),
    )
    .expect("fit");
    assert!(model.training_outcome().is_none());
    let batches = sample_all(&model, &SampleRequest::new(30, 1)).expect("samples");
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 30);
}
