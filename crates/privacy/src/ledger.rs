//! A dataset's privacy budget as pure logic: reservations before a job runs, commits of
//! what it actually spent, releases of what it did not, and an append-only hash-chained
//! log of every change. The cluster replicates this state machine; here it has no I/O.
//!
//! Reservations are enforced by basic composition (ε and δ add up), a bound that never
//! understates the spend. Commits also record each mechanism's parameters, and the log
//! keeps the dataset's RDP curve after every commit (with the accountant's version), so
//! the tighter composed ε of all committed work is reported beside it. Every operation
//! is idempotent by request id, so a retried request (a client or a node that lost the
//! answer) never spends twice. The ledger persists as its budget and log only
//! ([`LedgerFile`]); loading verifies the hash chain and replays the log.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rdp::RdpAccountant;
use crate::tracker::{ACCOUNTANT_VERSION, MechanismEvent};

/// An amount of privacy: (ε, δ).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Spend {
    /// ε.
    pub epsilon: f64,
    /// δ.
    pub delta: f64,
}

impl Spend {
    /// (ε, δ).
    pub fn new(epsilon: f64, delta: f64) -> Self {
        Self { epsilon, delta }
    }

    fn plus(self, other: Spend) -> Spend {
        Spend::new(self.epsilon + other.epsilon, self.delta + other.delta)
    }

    fn fits_in(self, budget: Spend) -> bool {
        // A relative slack of 1e-12 absorbs float rounding of sums, never a real overspend.
        self.epsilon <= budget.epsilon * (1.0 + 1e-12) && self.delta <= budget.delta * (1.0 + 1e-12)
    }

    fn valid(self) -> bool {
        self.epsilon >= 0.0 && self.epsilon.is_finite() && (0.0..1.0).contains(&self.delta)
    }
}

/// Why the ledger refused an operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LedgerError {
    /// The reservation would take committed + reserved spend past the budget.
    #[error(
        "request {request}: reserving ε={requested_epsilon}, δ={requested_delta} exceeds the budget (ε={available_epsilon}, δ={available_delta} left)"
    )]
    BudgetExceeded {
        /// The request.
        request: String,
        /// ε asked for.
        requested_epsilon: f64,
        /// δ asked for.
        requested_delta: f64,
        /// ε not yet committed or reserved.
        available_epsilon: f64,
        /// δ not yet committed or reserved.
        available_delta: f64,
    },
    /// A commit or reservation conflicts with what the request already holds.
    #[error("request {request}: {message}")]
    Conflict {
        /// The request.
        request: String,
        /// What conflicts.
        message: String,
    },
    /// A stored log whose hash chain or replay fails.
    #[error("ledger log entry {sequence}: {message}")]
    Corrupt {
        /// The first entry that does not check.
        sequence: u64,
        /// What is wrong.
        message: String,
    },
    /// A spend that is negative, infinite or has δ outside [0, 1).
    #[error("request {request}: invalid spend ε={epsilon}, δ={delta}")]
    InvalidSpend {
        /// The request.
        request: String,
        /// ε given.
        epsilon: f64,
        /// δ given.
        delta: f64,
    },
}

/// One change to the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LedgerEvent {
    /// The dataset's budget, set when the ledger is created or changed.
    BudgetSet {
        /// The budget.
        budget: Spend,
    },
    /// Spend held for a request before it runs.
    Reserved {
        /// The request.
        request: String,
        /// The planned spend.
        spend: Spend,
    },
    /// A request's actual spend (at most its reservation), now permanent.
    Committed {
        /// The request.
        request: String,
        /// The actual spend.
        spend: Spend,
        /// The mechanisms the request ran, with their parameters.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mechanisms: Vec<MechanismEvent>,
        /// The dataset's RDP curve after this commit (at the accountant's default orders).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rdp: Vec<f64>,
        /// The accountant that computed `rdp`.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        accountant: String,
    },
    /// A reservation given back unspent.
    Released {
        /// The request.
        request: String,
    },
}

/// An event in the log, chained to the one before by hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Position in the log, from 0.
    pub sequence: u64,
    /// The change.
    pub event: LedgerEvent,
    /// Hash of the previous entry (64 zeros for the first).
    pub previous: String,
    /// SHA-256 over the sequence, the event's JSON and `previous`.
    pub hash: String,
}

fn entry_hash(sequence: u64, event: &LedgerEvent, previous: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(sequence.to_le_bytes());
    hasher.update(serde_json::to_vec(event).unwrap_or_default());
    hasher.update(previous.as_bytes());
    hex::encode(hasher.finalize())
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A ledger at rest: its budget and log; the state is rebuilt by replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerFile {
    /// The log, first entry a `budget_set`.
    pub log: Vec<LogEntry>,
}

/// The budget of one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Ledger {
    budget: Spend,
    reserved: BTreeMap<String, Spend>,
    committed: BTreeMap<String, Spend>,
    /// The sums of `reserved` and `committed`, kept as they change so a reservation costs
    /// O(log n) instead of a pass over every request. They are rebuilt by replaying the
    /// same operations in the same order, so every replica holds the same values.
    reserved_total: Spend,
    committed_total: Spend,
    accountant: RdpAccountant,
    extra_delta: f64,
    log: Vec<LogEntry>,
}

impl Ledger {
    /// An empty ledger with this budget.
    pub fn new(budget: Spend) -> Self {
        let mut ledger = Self {
            budget,
            reserved: BTreeMap::new(),
            committed: BTreeMap::new(),
            reserved_total: Spend::default(),
            committed_total: Spend::default(),
            accountant: RdpAccountant::default(),
            extra_delta: 0.0,
            log: Vec::new(),
        };
        ledger.append(LedgerEvent::BudgetSet { budget });
        ledger
    }

    /// Changes the budget; refused below what is committed and reserved.
    pub fn set_budget(&mut self, budget: Spend) -> Result<(), LedgerError> {
        if !budget.valid() {
            return Err(LedgerError::InvalidSpend {
                request: "budget".into(),
                epsilon: budget.epsilon,
                delta: budget.delta,
            });
        }
        let used = self.committed().plus(self.reserved());
        if !used.fits_in(budget) {
            return Err(LedgerError::Conflict {
                request: "budget".into(),
                message: format!(
                    "ε={}, δ={} is below the ε={}, δ={} already committed or reserved",
                    budget.epsilon, budget.delta, used.epsilon, used.delta
                ),
            });
        }
        if budget != self.budget {
            self.budget = budget;
            self.append(LedgerEvent::BudgetSet { budget });
        }
        Ok(())
    }

    /// The composed ε of every committed mechanism by RDP at the budget's δ (less the δ
    /// partition selections spent), with its order; `None` before any mechanism.
    pub fn rdp_epsilon(&self) -> Option<(f64, f64)> {
        if self.accountant.rdp().iter().all(|&r| r == 0.0) {
            return None;
        }
        let delta = self.budget.delta - self.extra_delta;
        if delta <= 0.0 {
            return Some((f64::INFINITY, 0.0));
        }
        self.accountant.epsilon(delta).ok()
    }

    /// The ledger at rest.
    pub fn to_file(&self) -> LedgerFile {
        LedgerFile {
            log: self.log.clone(),
        }
    }

    /// Rebuilds a ledger from its log: checks the hash chain, then replays every event
    /// (a replay that would be refused, or an RDP curve that does not match, is
    /// corruption).
    pub fn from_file(file: &LedgerFile) -> Result<Self, LedgerError> {
        verify_log(&file.log).map_err(|sequence| LedgerError::Corrupt {
            sequence,
            message: "the hash chain does not match".into(),
        })?;
        let corrupt = |sequence: u64, message: String| LedgerError::Corrupt { sequence, message };
        let Some(LogEntry {
            event: LedgerEvent::BudgetSet { budget },
            ..
        }) = file.log.first()
        else {
            return Err(corrupt(0, "the log does not start with the budget".into()));
        };
        let mut ledger = Ledger::new(*budget);
        for entry in &file.log[1..] {
            let result = match &entry.event {
                LedgerEvent::BudgetSet { budget } => ledger.set_budget(*budget),
                LedgerEvent::Reserved { request, spend } => ledger.reserve(request, *spend),
                LedgerEvent::Committed {
                    request,
                    spend,
                    mechanisms,
                    ..
                } => ledger.commit_mechanisms(request, *spend, mechanisms),
                LedgerEvent::Released { request } => {
                    ledger.release(request);
                    Ok(())
                }
            };
            result.map_err(|e| corrupt(entry.sequence, e.to_string()))?;
            if ledger.log.last().map(|e| &e.hash) != Some(&entry.hash) {
                return Err(corrupt(
                    entry.sequence,
                    "replaying the event gives a different entry".into(),
                ));
            }
        }
        Ok(ledger)
    }

    /// The budget.
    pub fn budget(&self) -> Spend {
        self.budget
    }

    /// Total committed spend.
    pub fn committed(&self) -> Spend {
        self.committed_total
    }

    /// Total held by open reservations.
    pub fn reserved(&self) -> Spend {
        self.reserved_total
    }

    /// Drops `request`'s reservation from the open ones and their sum (an emptied set sums
    /// to exactly zero, so rounding never accumulates across quiet periods).
    fn unreserve(&mut self, request: &str) -> Option<Spend> {
        let held = self.reserved.remove(request)?;
        self.reserved_total = if self.reserved.is_empty() {
            Spend::default()
        } else {
            Spend {
                epsilon: (self.reserved_total.epsilon - held.epsilon).max(0.0),
                delta: (self.reserved_total.delta - held.delta).max(0.0),
            }
        };
        Some(held)
    }

    /// The log.
    pub fn log(&self) -> &[LogEntry] {
        &self.log
    }

    fn append(&mut self, event: LedgerEvent) {
        let sequence = self.log.len() as u64;
        let previous = self
            .log
            .last()
            .map_or(GENESIS.to_string(), |e| e.hash.clone());
        let hash = entry_hash(sequence, &event, &previous);
        self.log.push(LogEntry {
            sequence,
            event,
            previous,
            hash,
        });
    }

    /// Holds `spend` for `request`; fails if committed + reserved + spend would exceed the
    /// budget. Repeating the same reservation changes nothing.
    pub fn reserve(&mut self, request: &str, spend: Spend) -> Result<(), LedgerError> {
        if !spend.valid() {
            return Err(LedgerError::InvalidSpend {
                request: request.into(),
                epsilon: spend.epsilon,
                delta: spend.delta,
            });
        }
        if let Some(held) = self.reserved.get(request) {
            return if *held == spend {
                Ok(())
            } else {
                Err(LedgerError::Conflict {
                    request: request.into(),
                    message: format!("already holds a reservation of ε={}", held.epsilon),
                })
            };
        }
        if self.committed.contains_key(request) {
            return Err(LedgerError::Conflict {
                request: request.into(),
                message: "already committed".into(),
            });
        }
        let after = self.committed().plus(self.reserved()).plus(spend);
        if !after.fits_in(self.budget) {
            let used = self.committed().plus(self.reserved());
            return Err(LedgerError::BudgetExceeded {
                request: request.into(),
                requested_epsilon: spend.epsilon,
                requested_delta: spend.delta,
                available_epsilon: (self.budget.epsilon - used.epsilon).max(0.0),
                available_delta: (self.budget.delta - used.delta).max(0.0),
            });
        }
        self.reserved.insert(request.into(), spend);
        self.reserved_total = self.reserved_total.plus(spend);
        self.append(LedgerEvent::Reserved {
            request: request.into(),
            spend,
        });
        Ok(())
    }

    /// Makes `actual` (at most the reservation) permanent and frees the rest. Repeating
    /// the same commit changes nothing.
    pub fn commit(&mut self, request: &str, actual: Spend) -> Result<(), LedgerError> {
        self.commit_mechanisms(request, actual, &[])
    }

    /// [`Self::commit`], recording the mechanisms the request ran: their parameters go
    /// into the log with the dataset's RDP curve after them.
    pub fn commit_mechanisms(
        &mut self,
        request: &str,
        actual: Spend,
        mechanisms: &[MechanismEvent],
    ) -> Result<(), LedgerError> {
        if let Some(done) = self.committed.get(request) {
            return if *done == actual {
                Ok(())
            } else {
                Err(LedgerError::Conflict {
                    request: request.into(),
                    message: format!("already committed ε={}", done.epsilon),
                })
            };
        }
        let Some(held) = self.reserved.get(request).copied() else {
            return Err(LedgerError::Conflict {
                request: request.into(),
                message: "has no reservation to commit".into(),
            });
        };
        if !actual.valid() || !actual.fits_in(held) {
            return Err(LedgerError::Conflict {
                request: request.into(),
                message: format!(
                    "commits ε={}, δ={} beyond its reservation ε={}, δ={}",
                    actual.epsilon, actual.delta, held.epsilon, held.delta
                ),
            });
        }
        let mut accountant = self.accountant.clone();
        let mut extra_delta = self.extra_delta;
        for m in mechanisms {
            extra_delta +=
                m.mechanism
                    .add_to(&mut accountant)
                    .map_err(|e| LedgerError::Conflict {
                        request: request.into(),
                        message: format!("mechanism {:?}: {e}", m.label),
                    })?;
        }
        self.accountant = accountant;
        self.extra_delta = extra_delta;
        self.unreserve(request);
        self.committed.insert(request.into(), actual);
        self.committed_total = self.committed_total.plus(actual);
        let recorded = !mechanisms.is_empty();
        self.append(LedgerEvent::Committed {
            request: request.into(),
            spend: actual,
            mechanisms: mechanisms.to_vec(),
            rdp: if recorded {
                self.accountant.rdp().to_vec()
            } else {
                Vec::new()
            },
            accountant: if recorded {
                ACCOUNTANT_VERSION.to_string()
            } else {
                String::new()
            },
        });
        Ok(())
    }

    /// Gives a reservation back. Releasing an unknown or committed request changes
    /// nothing (a committed spend is never given back).
    pub fn release(&mut self, request: &str) {
        if self.unreserve(request).is_some() {
            self.append(LedgerEvent::Released {
                request: request.into(),
            });
        }
    }

    /// Checks the hash chain; the sequence number of the first altered entry otherwise.
    pub fn verify(&self) -> Result<(), u64> {
        verify_log(&self.log)
    }
}

/// Checks a log's hash chain; the sequence number of the first entry that does not match.
pub fn verify_log(log: &[LogEntry]) -> Result<(), u64> {
    let mut previous = GENESIS.to_string();
    for (i, entry) in log.iter().enumerate() {
        let expected = entry_hash(i as u64, &entry.event, &previous);
        if entry.sequence != i as u64 || entry.previous != previous || entry.hash != expected {
            return Err(i as u64);
        }
        previous = entry.hash.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn reservations_commits_and_releases_are_idempotent() {
        let mut ledger = Ledger::new(Spend::new(1.0, 1e-5));
        ledger.reserve("a", Spend::new(0.6, 1e-6)).expect("fits");
        ledger
            .reserve("a", Spend::new(0.6, 1e-6))
            .expect("same again");
        assert_eq!(ledger.log().len(), 2);
        let refused = ledger.reserve("b", Spend::new(0.5, 0.0));
        assert!(
            matches!(refused, Err(LedgerError::BudgetExceeded { .. })),
            "{refused:?}"
        );
        ledger
            .commit("a", Spend::new(0.4, 1e-6))
            .expect("within reservation");
        ledger
            .commit("a", Spend::new(0.4, 1e-6))
            .expect("same again");
        assert!(ledger.commit("a", Spend::new(0.5, 1e-6)).is_err());
        ledger
            .reserve("b", Spend::new(0.5, 0.0))
            .expect("fits after the commit freed 0.2");
        ledger.release("b");
        ledger.release("b");
        ledger.release("a");
        assert_eq!(ledger.committed(), Spend::new(0.4, 1e-6));
        assert_eq!(ledger.reserved(), Spend::default());
        assert_eq!(ledger.log().len(), 5);
        assert!(ledger.commit("nobody", Spend::new(0.1, 0.0)).is_err());
        assert!(ledger.reserve("c", Spend::new(-1.0, 0.0)).is_err());
        assert!(
            ledger.reserve("a", Spend::new(0.1, 0.0)).is_err(),
            "committed already"
        );
        assert_eq!(ledger.verify(), Ok(()));
    }

    #[test]
    fn verify_finds_an_altered_event() {
        let mut ledger = Ledger::new(Spend::new(10.0, 1e-5));
        for i in 0..5 {
            ledger
                .reserve(&format!("r{i}"), Spend::new(1.0, 0.0))
                .expect("fits");
        }
        let mut log = ledger.log().to_vec();
        log[2].event = LedgerEvent::Reserved {
            request: "r2".into(),
            spend: Spend::new(0.1, 0.0),
        };
        assert_eq!(verify_log(&log), Err(2));
        let mut log = ledger.log().to_vec();
        log.remove(1);
        assert_eq!(verify_log(&log), Err(1));
    }

    #[test]
    fn commits_record_mechanisms_and_the_rdp_curve() {
        use crate::tracker::Mechanism;
        let mut ledger = Ledger::new(Spend::new(4.0, 1e-5));
        let dp_sgd = MechanismEvent {
            label: "dp-sgd".into(),
            mechanism: Mechanism::SubsampledGaussian {
                sample_rate: 0.01,
                noise_multiplier: 1.0,
                steps: 1000,
            },
        };
        for request in ["a", "b"] {
            ledger
                .reserve(request, Spend::new(2.0, 4e-6))
                .expect("fits");
            ledger
                .commit_mechanisms(
                    request,
                    Spend::new(1.9, 4e-6),
                    std::slice::from_ref(&dp_sgd),
                )
                .expect("commit");
        }
        let LedgerEvent::Committed {
            rdp, accountant, ..
        } = &ledger.log()[4].event
        else {
            panic!("a commit");
        };
        assert_eq!(accountant, ACCOUNTANT_VERSION);
        let mut expected = RdpAccountant::default();
        expected
            .add_subsampled_gaussian(0.01, 1.0, 2000)
            .expect("rdp");
        assert_eq!(rdp.len(), expected.rdp().len());
        for (a, b) in rdp.iter().zip(expected.rdp()) {
            assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0));
        }
        // Two runs composed by RDP cost less than the 3.8 basic composition charges.
        let (composed, _) = ledger.rdp_epsilon().expect("spent");
        assert!(composed < 3.8, "{composed}");
        assert!((ledger.committed().epsilon - 3.8).abs() < 1e-12);
    }

    #[test]
    fn a_ledger_survives_a_round_trip_and_detects_tampering() {
        let mut ledger = Ledger::new(Spend::new(3.0, 1e-5));
        ledger.reserve("a", Spend::new(1.0, 1e-6)).expect("fits");
        ledger
            .commit_mechanisms(
                "a",
                Spend::new(1.0, 1e-6),
                &[MechanismEvent {
                    label: "mst".into(),
                    mechanism: crate::tracker::Mechanism::Zcdp { rho: 0.02 },
                }],
            )
            .expect("commit");
        ledger.reserve("b", Spend::new(0.5, 0.0)).expect("fits");
        ledger.set_budget(Spend::new(5.0, 1e-5)).expect("raise");
        assert!(
            ledger.set_budget(Spend::new(1.2, 1e-5)).is_err(),
            "below use"
        );
        let json = serde_json::to_string(&ledger.to_file()).expect("json");
        let file: LedgerFile = serde_json::from_str(&json).expect("parse");
        let back = Ledger::from_file(&file).expect("replay");
        assert_eq!(back, ledger);
        let mut forged = file.clone();
        forged.log[2].event = LedgerEvent::Committed {
            request: "a".into(),
            spend: Spend::new(0.1, 0.0),
            mechanisms: Vec::new(),
            rdp: Vec::new(),
            accountant: String::new(),
        };
        let err = Ledger::from_file(&forged).expect_err("tampered");
        assert!(
            matches!(err, LedgerError::Corrupt { sequence: 2, .. }),
            "{err}"
        );
        let empty = LedgerFile { log: Vec::new() };
        assert!(Ledger::from_file(&empty).is_err());
    }

    /// No interleaving of reserve, commit and release ever lets committed + reserved
    /// exceed the budget (2,000 seeded random interleavings of 60 operations).
    #[test]
    fn no_interleaving_overspends() {
        for seed in 0..2_000u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let budget = Spend::new(rng.random_range(0.5..5.0), 1e-5);
            let mut ledger = Ledger::new(budget);
            for _ in 0..60 {
                let request = format!("q{}", rng.random_range(0..12));
                let spend = Spend::new(rng.random_range(0.0..1.5), rng.random_range(0.0..4e-6));
                match rng.random_range(0..3) {
                    0 => {
                        let _ = ledger.reserve(&request, spend);
                    }
                    1 => {
                        let share = rng.random_range(0.0..1.2);
                        let actual = Spend::new(spend.epsilon * share, spend.delta * share);
                        let _ = ledger.commit(&request, actual);
                    }
                    _ => ledger.release(&request),
                }
                let used = ledger.committed().plus(ledger.reserved());
                assert!(
                    used.fits_in(budget),
                    "seed {seed}: {used:?} over {budget:?}"
                );
            }
            assert_eq!(ledger.verify(), Ok(()), "seed {seed}");
        }
    }
}
