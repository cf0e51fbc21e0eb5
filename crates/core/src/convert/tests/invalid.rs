//! Invalid messages give errors that name the field at fault.

use super::*;

#[test]
fn unknown_and_unspecified_enums_name_their_field() {
    let mut message = proto::Dataset::from(dataset());
    if let Some(schema) = message.schema.as_mut() {
        schema.columns[1].kind = 99;
    }
    let err = DatasetRecord::try_from(message).expect_err("unknown kind");
    assert_eq!(field_of(err), "schema.columns[1].kind");

    let mut message = proto::Dataset::from(dataset());
    if let Some(schema) = message.schema.as_mut() {
        schema.columns[3].physical = proto::PhysicalType::Unspecified as i32;
    }
    let err = DatasetRecord::try_from(message).expect_err("unspecified physical type");
    assert!(
        err.to_string().contains("PHYSICAL_TYPE_UNSPECIFIED"),
        "{err}"
    );
    assert_eq!(field_of(err), "schema.columns[3].physical");

    let mut message = proto::Dataset::from(dataset());
    if let Some(profile) = message.profile.as_mut() {
        profile.columns[2].pii[1].kind = proto::PiiKind::Unspecified as i32;
    }
    let err = DatasetRecord::try_from(message).expect_err("unspecified pii kind");
    assert_eq!(field_of(err), "profile.columns[2].pii[1].kind");

    let mut message = proto::Job::from(job(JobKind::Train, JobStatus::Running));
    message.status = 42;
    assert_eq!(
        field_of(JobRecord::try_from(message).expect_err("status")),
        "status"
    );

    let mut message = proto::Job::from(job(JobKind::Train, JobStatus::Running));
    message.kind = proto::JobKind::Unspecified as i32;
    assert_eq!(
        field_of(JobRecord::try_from(message).expect_err("kind")),
        "kind"
    );

    let mut message = proto::Model::from(ModelRecord {
        id: ModelId::new(),
        tenant: TenantId::new(),
        dataset: DatasetId::new(),
        kind: ModelKind::Tvae,
        version: 1,
        config_json: "{}".into(),
        location: String::new(),
        epsilon: None,
        created_at_ms: 0,
    });
    message.kind = proto::ModelKind::Unspecified as i32;
    assert_eq!(
        field_of(ModelRecord::try_from(message).expect_err("kind")),
        "kind"
    );

    let mut message = proto::ClusterStatus {
        nodes: vec![node(0, NodeRole::Leader).into()],
        ..Default::default()
    };
    message.nodes[0].role = proto::NodeRole::Unspecified as i32;
    let err = ClusterStatus::try_from(message).expect_err("role");
    assert_eq!(field_of(err), "nodes[0].role");
}

#[test]
fn an_unspecified_pii_policy_is_the_default() {
    let mut message = proto::ColumnSchema::from(ColumnSchema::new(
        "email",
        ColumnKind::Text,
        PhysicalType::Utf8,
    ));
    message.pii_policy = proto::PiiPolicy::Unspecified as i32;
    let column = ColumnSchema::try_from(message).expect("valid");
    assert_eq!(column.pii_policy, PiiPolicy::default());
}

#[test]
fn datetime_formats_go_with_datetime_kinds_only() {
    let mut message = proto::Schema::from(schema());
    message.columns[2].datetime_format = None;
    let err = Schema::try_from(message).expect_err("no format");
    assert!(matches!(err, CoreError::MissingField { .. }), "{err}");
    assert_eq!(field_of(err), "columns[2].datetime_format");

    let mut message = proto::Schema::from(schema());
    message.columns[0].datetime_format = Some("%Y".into());
    let err = Schema::try_from(message).expect_err("format on an identifier");
    assert!(err.to_string().contains("COLUMN_KIND_IDENTIFIER"), "{err}");
    assert_eq!(field_of(err), "columns[0].datetime_format");

    let mut profile = proto::DatasetProfile::from(profile());
    profile.columns[1].kind = proto::ColumnKind::Unspecified as i32;
    let err = DatasetProfile::try_from(profile).expect_err("unspecified kind");
    assert_eq!(field_of(err), "columns[1].kind");
}

#[test]
fn column_formats_must_be_complete_and_fit_the_storage() {
    let mut message = proto::Schema::from(schema());
    message.columns[4].format = Some(proto::ColumnFormat::default());
    let err = Schema::try_from(message).expect_err("empty format");
    assert_eq!(field_of(err), "columns[4].format.format");

    let mut message = proto::Schema::from(schema());
    message.columns[4].format = Some(proto::ColumnFormat {
        format: Some(proto::column_format::Format::Boolean(
            proto::BooleanLabels {
                true_label: "Yes".into(),
                false_label: String::new(),
            },
        )),
    });
    let err = Schema::try_from(message).expect_err("no false label");
    assert!(matches!(err, CoreError::MissingField { .. }), "{err}");
    assert_eq!(field_of(err), "columns[4].format.boolean.false_label");

    let mut message = proto::Schema::from(schema());
    message.columns[4].format = Some(proto::ColumnFormat {
        format: Some(proto::column_format::Format::Boolean(
            proto::BooleanLabels {
                true_label: "y".into(),
                false_label: "y".into(),
            },
        )),
    });
    let err = Schema::try_from(message).expect_err("equal labels");
    assert_eq!(field_of(err), "columns[4].format.boolean.false_label");

    let mut message = proto::Schema::from(schema());
    message.columns[1].format = message.columns[4].format.clone();
    let err = Schema::try_from(message).expect_err("labels on an integer");
    assert!(err.to_string().contains("PHYSICAL_TYPE_INT64"), "{err}");
    assert_eq!(field_of(err), "columns[1].format");

    let mut message = proto::Schema::from(schema());
    message.columns[4].format = message.columns[9].format.clone();
    let err = Schema::try_from(message).expect_err("datetime format on a boolean");
    assert_eq!(field_of(err), "columns[4].format");

    let mut message = proto::Schema::from(schema());
    message.columns[9].format = Some(proto::ColumnFormat {
        format: Some(proto::column_format::Format::Datetime(String::new())),
    });
    let err = Schema::try_from(message).expect_err("empty datetime format");
    assert_eq!(field_of(err), "columns[9].format.datetime");
}

#[test]
fn bad_ids_name_their_field() {
    let mut message = proto::Dataset::from(dataset());
    message.id = "ds_not-a-uuid".into();
    let err = DatasetRecord::try_from(message).expect_err("bad id");
    assert!(matches!(err, CoreError::InvalidField { .. }), "{err}");
    assert!(err.to_string().contains("ds_not-a-uuid"), "{err}");
    assert_eq!(field_of(err), "id");

    let mut message = proto::Dataset::from(dataset());
    message.tenant_id.clear();
    let err = DatasetRecord::try_from(message).expect_err("no tenant");
    assert!(matches!(err, CoreError::MissingField { .. }), "{err}");
    assert_eq!(field_of(err), "tenant_id");

    let mut message = proto::Job::from(job(JobKind::Generate, JobStatus::Queued));
    message.model_id = "mdl_123".into();
    assert_eq!(
        field_of(JobRecord::try_from(message).expect_err("model")),
        "model_id"
    );

    let message = proto::PrivacyBudget {
        dataset_id: "x".into(),
        ..Default::default()
    };
    let err = PrivacyBudget::try_from(message).expect_err("dataset");
    assert_eq!(field_of(err), "dataset_id");

    let message = proto::QualitySummary {
        id: ReportId::new().to_string(),
        generation_id: "gen_zz".into(),
        ..Default::default()
    };
    let err = QualitySummary::try_from(message).expect_err("generation");
    assert_eq!(field_of(err), "generation_id");
}

#[test]
fn missing_sub_messages_name_their_field() {
    let mut message = proto::Dataset::from(dataset());
    message.schema = None;
    let err = DatasetRecord::try_from(message).expect_err("no schema");
    assert!(matches!(err, CoreError::MissingField { .. }), "{err}");
    assert_eq!(field_of(err), "schema");

    let err = Condition::try_from(proto::Condition {
        column: "age".into(),
        op: None,
    })
    .expect_err("no op");
    assert_eq!(field_of(err), "op");

    let err = Condition::try_from(proto::Condition {
        column: String::new(),
        op: Some(proto::condition::Op::Eq(Value::Int(1).into())),
    })
    .expect_err("no column");
    assert_eq!(field_of(err), "column");

    let mut message = proto::Condition::from(conditions()[9].clone());
    if let Some(proto::condition::Op::Between(range)) = message.op.as_mut() {
        range.upper = None;
    }
    assert_eq!(
        field_of(Condition::try_from(message).expect_err("no upper")),
        "between.upper"
    );

    let mut message = proto::Generation::from(GenerationRecord {
        id: GenerationId::new(),
        tenant: TenantId::new(),
        model: ModelId::new(),
        rows: 1,
        seed: 1,
        conditions: conditions(),
        location: None,
        report: None,
        created_at_ms: 0,
    });
    if let Some(proto::condition::Op::AnyOf(list)) = message.conditions[7].op.as_mut() {
        list.values[1].kind = None;
    }
    let err = GenerationRecord::try_from(message).expect_err("value without kind");
    assert_eq!(field_of(err), "conditions[7].any_of.values[1].kind");

    let mut message = proto::Schema::from(schema());
    if let Some(key) = message.sequence_key.as_mut() {
        key.order_column.clear();
    }
    let err = Schema::try_from(message).expect_err("no order column");
    assert_eq!(field_of(err), "sequence_key.order_column");
}

#[test]
fn converted_schemas_are_checked() {
    let mut message = proto::Schema::from(schema());
    message.columns[1].name = "id".into();
    let err = Schema::try_from(message).expect_err("duplicate");
    assert!(matches!(err, CoreError::DuplicateColumn { .. }), "{err}");

    let mut message = proto::Schema::from(schema());
    message.primary_key = Some("missing".into());
    let err = Schema::try_from(message).expect_err("unknown key");
    assert!(matches!(err, CoreError::UnknownColumn { .. }), "{err}");
}

#[test]
fn callers_can_place_errors_under_their_request_field() {
    let err = Condition::try_from(proto::Condition::default())
        .expect_err("empty")
        .within_field("conditions[2]");
    assert_eq!(field_of(err), "conditions[2].column");
}
