//! Every type survives domain → proto → wire → proto → domain unchanged.

use super::*;

#[test]
fn error_codes_round_trip() {
    let codes = [
        ErrorCode::InvalidArgument,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::FailedPrecondition,
        ErrorCode::BudgetExceeded,
        ErrorCode::PermissionDenied,
        ErrorCode::Unauthenticated,
        ErrorCode::ResourceExhausted,
        ErrorCode::Cancelled,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];
    for code in codes {
        let proto_code = proto::ErrorCode::from(code);
        // The wire names follow the domain's snake_case names.
        assert_eq!(
            proto_code.as_str_name(),
            format!("ERROR_CODE_{}", code.as_str().to_ascii_uppercase())
        );
        assert_eq!(ErrorCode::try_from(proto_code).expect("known code"), code);
    }
    assert!(ErrorCode::try_from(proto::ErrorCode::Unspecified).is_err());
}

#[test]
fn error_details_carry_code_and_field() {
    let err = CoreError::MissingField {
        field: "page.page_size".into(),
    };
    let detail = proto::ErrorDetail::from(&err);
    assert_eq!(detail.code, proto::ErrorCode::InvalidArgument as i32);
    assert_eq!(detail.field, "page.page_size");
    assert!(!detail.retryable);
    assert_eq!(detail.message, err.to_string());

    let not_a_field = CoreError::UnknownColumn {
        column: "age".into(),
    };
    assert_eq!(proto::ErrorDetail::from(&not_a_field).field, "");
}

#[test]
fn values_and_conditions_round_trip() {
    for value in [
        Value::Null,
        Value::Bool(false),
        Value::Int(i64::MIN),
        Value::Float(-0.25),
        Value::Str(String::new()),
    ] {
        round_trip::<_, proto::Value>(value);
    }
    for condition in conditions() {
        round_trip::<_, proto::Condition>(condition);
    }
}

#[test]
fn pii_round_trips() {
    for kind in PiiKind::ALL {
        let finding = PiiFinding {
            kind,
            confidence: 0.5,
            match_share: 0.25,
        };
        round_trip::<_, proto::PiiFinding>(finding);
    }
    for policy in [PiiPolicy::Exclude, PiiPolicy::Keep, PiiPolicy::Fake] {
        let back = PiiPolicy::try_from(proto::PiiPolicy::from(policy)).expect("known policy");
        assert_eq!(back, policy);
    }
}

#[test]
fn schemas_round_trip_with_every_kind_and_key() {
    let schema = schema();
    let message = proto::Schema::from(schema.clone());
    let at = &message.columns[2];
    assert_eq!(at.kind, proto::ColumnKind::Datetime as i32);
    assert_eq!(at.datetime_format.as_deref(), Some("%Y-%m-%d %H:%M"));
    assert_eq!(message.columns[0].datetime_format, None);
    assert_eq!(message.columns[0].format, None);
    let paid = message.columns[4].format.clone().and_then(|f| f.format);
    assert_eq!(
        paid,
        Some(proto::column_format::Format::Boolean(
            proto::BooleanLabels {
                true_label: "Yes".into(),
                false_label: "No".into(),
            }
        ))
    );
    let opened = message.columns[9].format.clone().and_then(|f| f.format);
    assert_eq!(
        opened,
        Some(proto::column_format::Format::Datetime("%d/%m/%Y".into()))
    );
    round_trip::<_, proto::Schema>(schema);
    round_trip::<_, proto::Schema>(Schema::default());
    let mut high = ColumnSchema::new("h", ColumnKind::HighCardinality, PhysicalType::Utf8);
    high.nullable = false;
    round_trip::<_, proto::ColumnSchema>(high);
}

#[test]
fn column_formats_round_trip() {
    for format in [
        ColumnFormat::Boolean {
            true_label: "T".into(),
            false_label: "F".into(),
        },
        ColumnFormat::Boolean {
            true_label: "1".into(),
            false_label: "0".into(),
        },
        ColumnFormat::Datetime {
            format: "%Y-%m-%d".into(),
        },
    ] {
        round_trip::<_, proto::ColumnFormat>(format);
    }
}

#[test]
fn profiles_round_trip_with_histograms_and_top_values() {
    round_trip::<_, proto::DatasetProfile>(profile());
}

#[test]
fn records_round_trip() {
    round_trip::<_, proto::Dataset>(dataset());
    round_trip::<_, proto::Dataset>(DatasetRecord {
        profile: None,
        ..dataset()
    });

    for (index, kind) in ModelKind::ALL.into_iter().enumerate() {
        round_trip::<_, proto::Model>(ModelRecord {
            id: ModelId::new(),
            tenant: TenantId::new(),
            dataset: DatasetId::new(),
            kind,
            version: 3,
            config_json: r#"{"epochs":300}"#.into(),
            location: "models/m".into(),
            epsilon: (index % 2 == 0).then_some(1.5),
            created_at_ms: 1_700_000_000_000,
        });
    }

    let kinds = [
        JobKind::Ingest,
        JobKind::Train,
        JobKind::Generate,
        JobKind::Assess,
    ];
    let statuses = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];
    for kind in kinds {
        for status in statuses {
            round_trip::<_, proto::Job>(job(kind, status));
        }
    }
    round_trip::<_, proto::Job>(JobRecord {
        dataset: None,
        model: None,
        node: None,
        lease_expires_at_ms: None,
        checkpoint: None,
        error: None,
        result_json: Some("{\"epochs\": 3}".into()),
        attempts: 2,
        ..job(JobKind::Train, JobStatus::Queued)
    });

    let generation = GenerationRecord {
        id: GenerationId::new(),
        tenant: TenantId::new(),
        model: ModelId::new(),
        rows: 10_000,
        seed: u64::MAX,
        conditions: conditions(),
        location: Some("generations/g.parquet".into()),
        report: Some(ReportId::new()),
        created_at_ms: 1_700_000_000_000,
    };
    round_trip::<_, proto::Generation>(generation.clone());
    round_trip::<_, proto::Generation>(GenerationRecord {
        conditions: vec![],
        location: None,
        report: None,
        ..generation
    });

    round_trip::<_, proto::QualitySummary>(QualitySummary {
        id: ReportId::new(),
        generation: GenerationId::new(),
        overall: 0.875,
        column_shapes: 0.9,
        column_pair_trends: 0.85,
        gate_passed: true,
    });

    let budget = PrivacyBudget {
        dataset: DatasetId::new(),
        epsilon_limit: 4.0,
        delta: 1e-6,
        epsilon_spent: 1.0,
        epsilon_reserved: 0.5,
    };
    assert_eq!(
        proto::PrivacyBudget::from(budget.clone()).epsilon_remaining,
        2.5
    );
    round_trip::<_, proto::PrivacyBudget>(budget);
}

#[test]
fn cluster_status_round_trips() {
    round_trip::<_, proto::ClusterStatus>(ClusterStatus {
        leader: Some(NodeId(0)),
        term: 7,
        commit_index: 1234,
        nodes: vec![
            node(0, NodeRole::Leader),
            node(1, NodeRole::Follower),
            NodeInfo {
                gpus: vec![],
                ..node(2, NodeRole::Learner)
            },
        ],
        last_applied: 1230,
        jobs: crate::records::JobCounts {
            queued: 1,
            running: 2,
            succeeded: 3,
            failed: 4,
            cancelled: 5,
        },
        ledgers: 2,
        ledgers_verified: true,
        answered_by: Some(NodeId(1)),
        snapshot_index: 1000,
        purged_index: 900,
    });
    round_trip::<_, proto::ClusterStatus>(ClusterStatus {
        leader: None,
        term: 0,
        commit_index: 0,
        nodes: vec![],
        last_applied: 0,
        jobs: crate::records::JobCounts::default(),
        ledgers: 0,
        ledgers_verified: false,
        answered_by: None,
        snapshot_index: 0,
        purged_index: 0,
    });
}
