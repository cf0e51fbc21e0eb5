//! The privacy ledger inside the state machine.

use mirage_privacy::{Mechanism, MechanismEvent, Spend};

use super::{accept, refuse};
use crate::StateError;
use crate::state::{ClusterState, Command, DatasetSpec, Outcome};
use crate::testing::{dataset, tenant};

fn with_dataset() -> ClusterState {
    let mut state = ClusterState::default();
    let spec = DatasetSpec {
        id: dataset(1),
        tenant: tenant(1),
        name: "adult".into(),
        url: "file:///data/adult.parquet".into(),
    };
    accept(&mut state, Command::RegisterDataset(spec), 0);
    state
}

fn reserve(request: &str, epsilon: f64, delta: f64) -> Command {
    Command::Reserve {
        dataset: dataset(1),
        request: request.into(),
        spend: Spend::new(epsilon, delta),
    }
}

#[test]
fn two_hundred_reservations_against_a_budget_for_twenty_admit_exactly_twenty() {
    let mut state = with_dataset();
    accept(
        &mut state,
        Command::SetBudget {
            dataset: dataset(1),
            budget: Spend::new(1.0, 1e-5),
        },
        0,
    );
    let mut admitted = 0;
    for i in 0..200u64 {
        match state.apply(reserve(&format!("job-{i}"), 0.05, 5e-7), i) {
            Ok(Outcome::Applied) => admitted += 1,
            Ok(other) => panic!("{other:?}"),
            Err(StateError::BudgetExceeded {
                dataset: d,
                request,
                ..
            }) => {
                assert_eq!(d, dataset(1));
                assert_eq!(request, format!("job-{i}"));
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(admitted, 20);
    let ledger = state.ledger(dataset(1)).expect("budget set");
    assert!(ledger.reserved().epsilon <= 1.0 + 1e-12);
    assert_eq!(ledger.log().len(), 21, "the budget and 20 reservations");
    // A retried reservation that was admitted is not charged twice.
    assert_eq!(
        accept(&mut state, reserve("job-3", 0.05, 5e-7), 300),
        Outcome::Unchanged
    );
}

#[test]
fn the_hash_chain_verifies_after_a_snapshot_round_trip() {
    let mut state = with_dataset();
    accept(
        &mut state,
        Command::SetBudget {
            dataset: dataset(1),
            budget: Spend::new(3.0, 1e-5),
        },
        0,
    );
    accept(&mut state, reserve("a", 1.0, 1e-6), 1);
    let dp_sgd = MechanismEvent {
        label: "dp-sgd".into(),
        mechanism: Mechanism::SubsampledGaussian {
            sample_rate: 0.01,
            noise_multiplier: 1.1,
            steps: 500,
        },
    };
    let commit = Command::Commit {
        dataset: dataset(1),
        request: "a".into(),
        spend: Spend::new(0.9, 1e-6),
        mechanisms: vec![dp_sgd],
    };
    assert_eq!(accept(&mut state, commit.clone(), 2), Outcome::Applied);
    assert_eq!(accept(&mut state, commit, 3), Outcome::Unchanged);
    accept(&mut state, reserve("b", 1.5, 0.0), 4);
    accept(
        &mut state,
        Command::Release {
            dataset: dataset(1),
            request: "b".into(),
        },
        5,
    );
    assert_eq!(
        accept(
            &mut state,
            Command::Release {
                dataset: dataset(1),
                request: "b".into()
            },
            6
        ),
        Outcome::Unchanged
    );
    accept(&mut state, reserve("c", 1.0, 0.0), 7);

    let json = serde_json::to_string(&state).expect("snapshot");
    let mut restored: ClusterState = serde_json::from_str(&json).expect("restore");
    assert_eq!(restored, state);
    let ledger = restored.ledger(dataset(1)).expect("ledger");
    assert_eq!(ledger.verify(), Ok(()));
    assert_eq!(
        ledger.log(),
        state.ledger(dataset(1)).expect("ledger").log()
    );
    // Both go on identically: 3.0 - 0.9 committed - 1.0 reserved leaves 1.1.
    for s in [&mut state, &mut restored] {
        let err = s.apply(reserve("d", 1.2, 0.0), 8).expect_err("over budget");
        assert!(matches!(err, StateError::BudgetExceeded { .. }), "{err}");
        accept(s, reserve("d", 1.1, 0.0), 9);
    }
    assert_eq!(restored, state);
    assert!(
        restored
            .ledger(dataset(1))
            .and_then(|l| l.rdp_epsilon())
            .is_some()
    );

    // A tampered snapshot does not load.
    let forged = json.replacen(
        "\"request\":\"a\",\"spend\":{\"epsilon\":0.9",
        "\"request\":\"a\",\"spend\":{\"epsilon\":0.1",
        1,
    );
    assert_ne!(forged, json, "the test edits the commit");
    let err = serde_json::from_str::<ClusterState>(&forged).expect_err("tampered");
    assert!(
        err.to_string().contains("privacy ledger of dataset"),
        "{err}"
    );
}

#[test]
fn ledger_commands_name_what_is_missing() {
    let mut state = with_dataset();
    assert_eq!(
        refuse(&mut state, reserve("a", 0.1, 0.0), 0),
        StateError::NoBudget {
            dataset: dataset(1)
        }
    );
    let unknown = Command::SetBudget {
        dataset: dataset(2),
        budget: Spend::new(1.0, 1e-5),
    };
    assert_eq!(
        refuse(&mut state, unknown, 0),
        StateError::UnknownDataset {
            dataset: dataset(2)
        }
    );
    let invalid = Command::SetBudget {
        dataset: dataset(1),
        budget: Spend::new(f64::NAN, 1e-5),
    };
    assert!(
        matches!(refuse(&mut state, invalid, 0), StateError::InvalidField { ref field, .. } if field == "budget")
    );
    accept(
        &mut state,
        Command::SetBudget {
            dataset: dataset(1),
            budget: Spend::new(1.0, 1e-5),
        },
        0,
    );
    assert!(matches!(
        refuse(&mut state, reserve("", 0.1, 0.0), 1),
        StateError::InvalidField { .. }
    ));
    assert!(matches!(
        refuse(&mut state, reserve("a", -0.1, 0.0), 1),
        StateError::InvalidField { .. }
    ));
    let commit = Command::Commit {
        dataset: dataset(1),
        request: "nobody".into(),
        spend: Spend::new(0.1, 0.0),
        mechanisms: vec![],
    };
    let err = refuse(&mut state, commit, 2);
    assert!(matches!(err, StateError::Ledger { .. }), "{err}");
    assert!(err.to_string().contains("nobody"), "{err}");
    accept(&mut state, reserve("a", 0.6, 0.0), 3);
    let lower = Command::SetBudget {
        dataset: dataset(1),
        budget: Spend::new(0.5, 1e-5),
    };
    assert!(matches!(
        refuse(&mut state, lower, 4),
        StateError::Ledger { .. }
    ));
}
