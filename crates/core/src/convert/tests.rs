//! Tests of the conversions: `round_trip` takes every type domain → proto → wire → proto →
//! domain; `invalid` checks that bad messages give errors naming their field. Shared here:
//! representative domain values and two helpers.

mod invalid;
mod round_trip;

use super::proto;
use crate::condition::{Condition, ConditionOp};
use crate::error::{CoreError, ErrorCode};
use crate::ids::{DatasetId, GenerationId, JobId, ModelId, NodeId, ReportId, TenantId};
use crate::pii::{PiiFinding, PiiKind, PiiPolicy};
use crate::profile::{ColumnProfile, DatasetProfile, HistogramBin, TopValue};
use crate::records::{
    ClusterStatus, DatasetRecord, GenerationRecord, GpuInfo, JobKind, JobRecord, JobStatus,
    ModelKind, ModelRecord, NodeInfo, NodeRole, PrivacyBudget, QualitySummary,
};
use crate::schema::{
    ColumnFormat, ColumnKind, ColumnSchema, ForeignKey, PhysicalType, Schema, SequenceKey,
};
use crate::value::Value;

use prost::Message;
use std::fmt::Debug;

/// Converts to proto, through the wire format, and back; the result must equal the original.
fn round_trip<D, P>(original: D)
where
    D: Clone + PartialEq + Debug + Into<P> + TryFrom<P, Error = CoreError>,
    P: Message + Default,
{
    let message: P = original.clone().into();
    let decoded = P::decode(message.encode_to_vec().as_slice()).expect("decodes");
    let back = D::try_from(decoded).unwrap_or_else(|err| panic!("{original:?}: {err}"));
    assert_eq!(back, original);
}

/// The field an error names; fails unless the error is about a field and says which.
fn field_of(err: CoreError) -> String {
    let message = err.to_string();
    let field = err
        .field()
        .unwrap_or_else(|| panic!("not a field error: {err}"));
    assert!(
        message.contains(field),
        "{message:?} does not name {field:?}"
    );
    field.to_string()
}

fn datetime() -> ColumnKind {
    ColumnKind::Datetime {
        format: "%Y-%m-%d %H:%M".into(),
    }
}

fn schema() -> Schema {
    let mut email = ColumnSchema::new("email", ColumnKind::HighCardinality, PhysicalType::Utf8);
    email.pii = Some(PiiFinding {
        kind: PiiKind::Email,
        confidence: 0.97,
        match_share: 0.875,
    });
    email.pii_policy = PiiPolicy::Fake;
    let mut id = ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Int64);
    id.nullable = false;
    let mut paid = ColumnSchema::new("paid", ColumnKind::Boolean, PhysicalType::Boolean);
    paid.format = Some(ColumnFormat::Boolean {
        true_label: "Yes".into(),
        false_label: "No".into(),
    });
    let mut opened = ColumnSchema::new(
        "opened",
        ColumnKind::Constant,
        PhysicalType::TimestampMillis,
    );
    opened.format = Some(ColumnFormat::Datetime {
        format: "%d/%m/%Y".into(),
    });
    let mut schema = Schema::new(vec![
        id,
        ColumnSchema::new("customer", ColumnKind::Integer, PhysicalType::Int64),
        ColumnSchema::new("at", datetime(), PhysicalType::TimestampMillis),
        ColumnSchema::new("amount", ColumnKind::Float, PhysicalType::Float64),
        paid,
        ColumnSchema::new("channel", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("note", ColumnKind::Text, PhysicalType::Utf8),
        ColumnSchema::new("region", ColumnKind::Constant, PhysicalType::Utf8),
        email,
        opened,
    ])
    .expect("valid schema");
    schema.primary_key = Some("id".into());
    schema.foreign_keys = vec![ForeignKey {
        column: "customer".into(),
        parent_table: "customers".into(),
        parent_column: "id".into(),
    }];
    schema.sequence_key = Some(SequenceKey {
        entity_column: "customer".into(),
        order_column: "at".into(),
    });
    schema
}

fn profile() -> DatasetProfile {
    let amount = ColumnProfile {
        name: "amount".into(),
        kind: ColumnKind::Float,
        count: 1000,
        null_count: 10,
        null_rate: 0.01,
        cardinality: 812,
        cardinality_exact: true,
        min: Some(-3.5),
        max: Some(1250.0),
        mean: Some(71.25),
        std: Some(40.5),
        quantiles: vec![(0.01, 1.0), (0.5, 60.0), (0.99, 900.0)],
        histogram: vec![
            HistogramBin {
                lower: -3.5,
                upper: 623.25,
                count: 980,
            },
            HistogramBin {
                lower: 623.25,
                upper: 1250.0,
                count: 10,
            },
        ],
        top_values: vec![],
        mean_length: None,
        pii: vec![],
    };
    let at = ColumnProfile {
        name: "at".into(),
        kind: datetime(),
        min: Some(1.6e12),
        max: Some(1.7e12),
        ..amount.clone()
    };
    let email = ColumnProfile {
        name: "email".into(),
        kind: ColumnKind::HighCardinality,
        cardinality: 5000,
        cardinality_exact: false,
        min: None,
        max: None,
        mean: None,
        std: None,
        quantiles: vec![],
        histogram: vec![],
        top_values: vec![
            TopValue {
                value: "a@example.com".into(),
                count: 3,
            },
            TopValue {
                value: "".into(),
                count: 1,
            },
        ],
        mean_length: Some(17.5),
        pii: vec![
            PiiFinding {
                kind: PiiKind::Email,
                confidence: 0.97,
                match_share: 0.875,
            },
            PiiFinding {
                kind: PiiKind::PersonName,
                confidence: 0.2,
                match_share: 0.1,
            },
        ],
        ..amount.clone()
    };
    DatasetProfile {
        rows: 1000,
        sample_rate: 0.5,
        columns: vec![amount, at, email],
    }
}

fn dataset() -> DatasetRecord {
    DatasetRecord {
        id: DatasetId::new(),
        tenant: TenantId::new(),
        name: "payments".into(),
        location: "datasets/payments.parquet".into(),
        schema: schema(),
        profile: Some(profile()),
        rows: 1000,
        created_at_ms: 1_700_000_000_123,
    }
}

fn conditions() -> Vec<Condition> {
    vec![
        Condition::new("age", ConditionOp::Gt(Value::Int(65))),
        Condition::new("age", ConditionOp::Ge(Value::Float(18.5))),
        Condition::new("age", ConditionOp::Lt(Value::Int(-1))),
        Condition::new("age", ConditionOp::Le(Value::Float(99.0))),
        Condition::new("sex", ConditionOp::Eq(Value::Str("Female".into()))),
        Condition::new("vip", ConditionOp::Eq(Value::Bool(true))),
        Condition::new("note", ConditionOp::Eq(Value::Null)),
        Condition::new(
            "work",
            ConditionOp::In(vec![
                Value::Str("Private".into()),
                Value::Null,
                Value::Int(3),
            ]),
        ),
        Condition::new("none", ConditionOp::In(vec![])),
        Condition::new(
            "hours",
            ConditionOp::Between(Value::Int(20), Value::Float(40.5)),
        ),
    ]
}

fn job(kind: JobKind, status: JobStatus) -> JobRecord {
    JobRecord {
        id: JobId::new(),
        tenant: TenantId::new(),
        kind,
        status,
        priority: -2,
        dataset: Some(DatasetId::new()),
        model: Some(ModelId::new()),
        node: Some(NodeId(0)),
        lease_expires_at_ms: Some(1_700_000_030_000),
        progress: 0.5,
        checkpoint: Some("checkpoints/epoch-3".into()),
        error: Some("out of memory: lower batch_size".into()),
        created_at_ms: 1_700_000_000_000,
        result_json: None,
        attempts: 0,
    }
}

fn node(id: u64, role: NodeRole) -> NodeInfo {
    NodeInfo {
        id: NodeId(id),
        address: format!("10.0.0.{id}:7400"),
        role,
        cpu_cores: 16,
        memory_bytes: 128 << 30,
        gpus: vec![GpuInfo {
            index: 0,
            name: "NVIDIA H100".into(),
            memory_bytes: 80 << 30,
        }],
        last_heartbeat_ms: 1_700_000_000_500,
        running_jobs: vec![format!("job_{id:032x}")],
        alive: id.is_multiple_of(2),
    }
}
