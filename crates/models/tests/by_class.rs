//! Augmentation: rows divided among the classes of one column, for a Gaussian copula
//! (rejection sampling) and TabularARGN (native conditioning).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{ClassShare, Condition, ConditionOp, Rebalance, Schema, Table, Value};
use mirage_models::{FitContext, ModelError, SampleRequest, Synthesizer, fit, sample_by_class};

/// 2,000 rows: a key, a number, and a label that is "rare" in 5 % of the rows.
fn table() -> Table {
    let n = 2_000i64;
    let ids: Vec<i64> = (0..n).collect();
    let x: Vec<f64> = (0..n).map(|i| (i % 97) as f64 + 0.5).collect();
    let label: Vec<&str> = (0..n)
        .map(|i| match i % 20 {
            0 => "rare",
            1..=7 => "mid",
            _ => "common",
        })
        .collect();
    let schema = Schema::new(vec![
        ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Int64),
        ColumnSchema::new("x", ColumnKind::Float, PhysicalType::Float64),
        ColumnSchema::new("label", ColumnKind::Categorical, PhysicalType::Utf8),
    ])
    .expect("schema");
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids)),
        Arc::new(Float64Array::from(x)),
        Arc::new(StringArray::from(label)),
    ];
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

fn fitted(kind: ModelKind, config: serde_json::Value) -> Box<dyn Synthesizer> {
    fit(kind, &table(), &config, &mut FitContext::default()).expect("fits")
}

fn labels(batches: &[RecordBatch]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|batch| {
            let column = batch.column_by_name("label").expect("label");
            let strings = column
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("strings");
            (0..strings.len())
                .map(|i| strings.value(i).to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn count(labels: &[String], class: &str) -> usize {
    labels.iter().filter(|l| *l == class).count()
}

fn run(
    model: &dyn Synthesizer,
    request: &SampleRequest,
    rebalance: &Rebalance,
) -> Result<Vec<RecordBatch>, ModelError> {
    sample_by_class(model, request, rebalance)?.collect()
}

#[test]
fn equal_shares_balance_every_class_and_repeat_with_the_seed() {
    let model = fitted(ModelKind::GaussianCopula, serde_json::Value::Null);
    let request = SampleRequest {
        batch_size: 128,
        ..SampleRequest::new(900, 5)
    };
    let batches = run(model.as_ref(), &request, &Rebalance::equal("label")).expect("balanced");
    let got = labels(&batches);
    assert_eq!(got.len(), 900);
    for class in ["rare", "mid", "common"] {
        assert_eq!(count(&got, class), 300, "{class}");
    }
    assert!(batches.iter().all(|b| b.num_rows() <= 128));
    // Keys continue from one class to the next instead of restarting.
    let ids: std::collections::HashSet<i64> = batches
        .iter()
        .flat_map(|b| {
            let ids = b
                .column_by_name("id")
                .expect("id")
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("ints")
                .clone();
            (0..ids.len()).map(move |i| ids.value(i))
        })
        .collect();
    assert_eq!(ids.len(), 900, "generated keys repeat");
    let again = run(model.as_ref(), &request, &Rebalance::equal("label")).expect("again");
    assert_eq!(batches, again);
}

#[test]
fn listed_shares_split_the_rows_and_the_conditions_still_hold() {
    let model = fitted(ModelKind::GaussianCopula, serde_json::Value::Null);
    let rebalance = Rebalance {
        column: "label".into(),
        shares: vec![
            ClassShare {
                value: Value::from("rare"),
                share: 3.0,
            },
            ClassShare {
                value: Value::from("common"),
                share: 1.0,
            },
        ],
    };
    let request = SampleRequest {
        conditions: vec![Condition::new("x", ConditionOp::Gt(Value::Float(20.0)))],
        ..SampleRequest::new(401, 9)
    };
    let batches = run(model.as_ref(), &request, &rebalance).expect("shares");
    let got = labels(&batches);
    assert_eq!((count(&got, "rare"), count(&got, "common")), (301, 100));
    assert_eq!(count(&got, "mid"), 0);
    for batch in &batches {
        let x = batch
            .column_by_name("x")
            .expect("x")
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("floats");
        assert!(x.iter().flatten().all(|v| v > 20.0));
    }
}

#[test]
fn a_natively_conditioning_model_rebalances_too() {
    let model = fitted(
        ModelKind::TabularArgn,
        serde_json::json!({"training": {"max_epochs": 2}}),
    );
    let batches = run(
        model.as_ref(),
        &SampleRequest::new(300, 1),
        &Rebalance::equal("label"),
    )
    .expect("balanced");
    let got = labels(&batches);
    for class in ["rare", "mid", "common"] {
        assert_eq!(count(&got, class), 100, "{class}");
    }
}

#[test]
fn rebalances_the_model_cannot_follow_are_refused_by_field() {
    let model = fitted(ModelKind::GaussianCopula, serde_json::Value::Null);
    let request = SampleRequest::new(10, 1);
    let cases = [
        (
            Rebalance::equal("nope"),
            "rebalance.column",
            "no column \"nope\"",
        ),
        (
            Rebalance::equal("x"),
            "rebalance.column",
            "no fixed set of classes",
        ),
        (
            Rebalance {
                column: "label".into(),
                shares: vec![
                    ClassShare {
                        value: Value::from("mid"),
                        share: 1.0,
                    },
                    ClassShare {
                        value: Value::from("unheard-of"),
                        share: 1.0,
                    },
                ],
            },
            "rebalance.shares[1].value",
            "unheard-of",
        ),
        (
            Rebalance {
                column: "label".into(),
                shares: vec![ClassShare {
                    value: Value::from("mid"),
                    share: 0.0,
                }],
            },
            "rebalance.shares[0].share",
            "positive",
        ),
    ];
    for (rebalance, field, says) in cases {
        let refused = sample_by_class(model.as_ref(), &request, &rebalance).expect_err(field);
        let message = refused.to_string();
        assert!(message.starts_with(field), "{message}");
        assert!(message.contains(says), "{message}");
        assert_eq!(refused.code(), mirage_core::ErrorCode::InvalidArgument);
    }
    let constrained = SampleRequest {
        conditions: vec![Condition::new("label", ConditionOp::Eq(Value::from("mid")))],
        ..request
    };
    let refused = sample_by_class(model.as_ref(), &constrained, &Rebalance::equal("label"))
        .expect_err("both constrain label");
    assert!(refused.to_string().contains("conditions[0]"), "{refused}");
}
