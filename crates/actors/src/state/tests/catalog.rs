//! Datasets, model versions, generations, reports, tenants and API keys.

use mirage_core::records::ModelKind;
use serde_json::json;

use super::{accept, refuse};
use crate::StateError;
use crate::state::Role;
use crate::state::{
    ClusterState, Command, DatasetSpec, GenerationSpec, ModelSpec, Outcome, ReportSpec,
    hash_api_key,
};
use crate::testing::{dataset, generation, job, model, report, tenant};

fn dataset_spec(n: u128) -> DatasetSpec {
    DatasetSpec {
        id: dataset(n),
        tenant: tenant(1),
        name: format!("adult-{n}"),
        url: format!("file:///data/{n}.parquet"),
    }
}

fn model_spec(n: u128) -> ModelSpec {
    ModelSpec {
        id: model(n),
        tenant: tenant(1),
        dataset: dataset(1),
        kind: ModelKind::Tvae,
        config_hash: "c0ffee".into(),
        url: format!("file:///models/{n}"),
        job: None,
    }
}

fn generation_spec(n: u128) -> GenerationSpec {
    GenerationSpec {
        rebalance: None,
        id: generation(n),
        tenant: tenant(1),
        model: model(1),
        job: None,
        rows: 1_000,
        seed: 7,
        url: format!("file:///gen/{n}.parquet"),
        conditions: Vec::new(),
    }
}

#[test]
fn datasets_register_once_and_take_a_profile() {
    let mut state = ClusterState::default();
    assert_eq!(
        accept(&mut state, Command::RegisterDataset(dataset_spec(1)), 5),
        Outcome::Applied
    );
    assert_eq!(
        accept(&mut state, Command::RegisterDataset(dataset_spec(1)), 6),
        Outcome::Unchanged
    );
    let mut other = dataset_spec(1);
    other.url = "s3://elsewhere".into();
    let err = refuse(&mut state, Command::RegisterDataset(other), 7);
    assert!(
        matches!(err, StateError::Conflict { ref field, .. } if field == "url"),
        "{err}"
    );
    let profile = Command::SetDatasetProfile {
        dataset: dataset(1),
        schema: Some(json!({"columns": ["age"]})),
        profile: Some(json!({"url": "file:///profiles/1.json"})),
        rows: Some(32_561),
    };
    assert_eq!(accept(&mut state, profile.clone(), 8), Outcome::Applied);
    assert_eq!(accept(&mut state, profile, 9), Outcome::Unchanged);
    let only_rows = Command::SetDatasetProfile {
        dataset: dataset(1),
        schema: None,
        profile: None,
        rows: Some(1),
    };
    accept(&mut state, only_rows, 10);
    let stored = state.dataset(dataset(1)).expect("registered");
    assert_eq!(stored.rows, Some(1));
    assert!(stored.schema.is_some(), "fields not given are kept");
    let missing = Command::SetDatasetProfile {
        dataset: dataset(2),
        schema: None,
        profile: None,
        rows: None,
    };
    assert_eq!(
        refuse(&mut state, missing, 11),
        StateError::UnknownDataset {
            dataset: dataset(2)
        }
    );
}

#[test]
fn model_versions_are_immutable() {
    let mut state = ClusterState::default();
    let err = refuse(&mut state, Command::RegisterModel(model_spec(1)), 0);
    assert_eq!(
        err,
        StateError::UnknownDataset {
            dataset: dataset(1)
        }
    );
    accept(&mut state, Command::RegisterDataset(dataset_spec(1)), 0);
    assert_eq!(
        accept(&mut state, Command::RegisterModel(model_spec(1)), 1),
        Outcome::Applied
    );
    assert_eq!(
        accept(&mut state, Command::RegisterModel(model_spec(1)), 2),
        Outcome::Unchanged
    );
    let mut changed = model_spec(1);
    changed.config_hash = "beef".into();
    let err = refuse(&mut state, Command::RegisterModel(changed), 3);
    assert_eq!(
        err,
        StateError::Conflict {
            record: "model".into(),
            id: model(1).to_string(),
            field: "config_hash".into()
        }
    );
    assert!(err.to_string().contains("use a new id"), "{err}");
    let mut trained_by_ghost = model_spec(2);
    trained_by_ghost.job = Some(job(5));
    assert_eq!(
        refuse(&mut state, Command::RegisterModel(trained_by_ghost), 4),
        StateError::UnknownJob { job: job(5) }
    );
    assert_eq!(state.model(model(1)).map(|m| m.registered_at_ms), Some(1));
}

#[test]
fn generations_and_reports_reference_what_made_them() {
    let mut state = ClusterState::default();
    let err = refuse(&mut state, Command::RecordGeneration(generation_spec(1)), 0);
    assert_eq!(err, StateError::UnknownModel { model: model(1) });
    accept(&mut state, Command::RegisterDataset(dataset_spec(1)), 0);
    accept(&mut state, Command::RegisterModel(model_spec(1)), 0);
    accept(&mut state, Command::RecordGeneration(generation_spec(1)), 1);
    assert_eq!(
        accept(&mut state, Command::RecordGeneration(generation_spec(1)), 2),
        Outcome::Unchanged
    );
    let mut reseeded = generation_spec(1);
    reseeded.seed = 8;
    assert!(matches!(
        refuse(&mut state, Command::RecordGeneration(reseeded), 3),
        StateError::Conflict { .. }
    ));
    let report_spec = |n: u128, generation_n: u128, overall: f64| ReportSpec {
        id: report(n),
        generation: generation(generation_n),
        job: None,
        overall,
        gate_passed: overall > 0.8,
        url: format!("file:///reports/{n}.json"),
    };
    let err = refuse(&mut state, Command::RecordReport(report_spec(1, 2, 0.9)), 4);
    assert_eq!(
        err,
        StateError::UnknownGeneration {
            generation: generation(2)
        }
    );
    let err = refuse(&mut state, Command::RecordReport(report_spec(1, 1, 1.5)), 4);
    assert!(matches!(err, StateError::InvalidField { ref field, .. } if field == "overall"));
    accept(&mut state, Command::RecordReport(report_spec(1, 1, 0.9)), 5);
    assert_eq!(state.reports().len(), 1);
    assert_eq!(state.generations().len(), 1);
}

#[test]
fn api_keys_are_stored_only_as_hashes() {
    let mut state = ClusterState::default();
    let key = "mk_live_8f2b1c9d";
    let add = |label: &str| Command::AddApiKey {
        tenant: tenant(1),
        key_hash: hash_api_key(key),
        label: label.into(),
        role: Role::Operator,
    };
    assert_eq!(
        refuse(&mut state, add("ci"), 0),
        StateError::UnknownTenant { tenant: tenant(1) }
    );
    accept(
        &mut state,
        Command::CreateTenant {
            id: tenant(1),
            name: "acme".into(),
        },
        0,
    );
    assert_eq!(
        accept(
            &mut state,
            Command::CreateTenant {
                id: tenant(1),
                name: "acme".into()
            },
            0
        ),
        Outcome::Unchanged
    );
    let err = refuse(
        &mut state,
        Command::CreateTenant {
            id: tenant(1),
            name: "other".into(),
        },
        0,
    );
    assert!(matches!(err, StateError::Conflict { .. }));
    accept(&mut state, add("ci"), 1);
    assert_eq!(accept(&mut state, add("ci"), 2), Outcome::Unchanged);
    assert!(matches!(
        refuse(&mut state, add("laptop"), 3),
        StateError::Conflict { .. }
    ));
    // The key in clear is refused, and never appears in the snapshot.
    let plain = Command::AddApiKey {
        tenant: tenant(1),
        key_hash: key.into(),
        label: String::new(),
        role: Role::Operator,
    };
    assert!(
        matches!(refuse(&mut state, plain, 4), StateError::InvalidField { ref field, .. } if field == "key_hash")
    );
    let snapshot = serde_json::to_string(&state).expect("json");
    assert!(!snapshot.contains(key));
    assert_eq!(state.authenticate(key).map(|k| k.tenant), Some(tenant(1)));
    assert!(state.authenticate("mk_live_wrong").is_none());
    let revoke = Command::RevokeApiKey {
        key_hash: hash_api_key(key),
    };
    assert_eq!(accept(&mut state, revoke.clone(), 5), Outcome::Applied);
    assert_eq!(accept(&mut state, revoke, 6), Outcome::Unchanged);
    assert!(state.authenticate(key).is_none());
}
