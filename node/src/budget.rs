//! Privacy budgets of the embedded single node: one ledger per dataset at
//! `<data_dir>/budgets/<dataset>.json`, stored as its hash-chained log and rebuilt by
//! verified replay on every open, written atomically (temporary file, then rename).
//! Every read-modify-write holds an exclusive lock on `<dataset>.lock`, so two runs on
//! one machine cannot both reserve against the same remaining budget. The cluster keeps
//! the same ledger in Raft state instead.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mirage_privacy::{Ledger, LedgerEvent, LedgerFile, Spend};
use serde::Serialize;

/// The budget a dataset gets when a DP run first names it.
pub const DEFAULT_BUDGET: Spend = Spend {
    epsilon: 10.0,
    delta: 1e-4,
};

/// Where ledgers live.
#[derive(Debug, Clone)]
pub struct BudgetStore {
    dir: PathBuf,
}

/// Checks a dataset name: letters, digits, `-`, `_` and `.`, not starting with a dot.
pub fn check_dataset_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        bail!(
            "dataset name {name:?} must be 1–128 letters, digits, '-', '_' or '.', not starting with '.'"
        );
    }
    Ok(())
}

impl BudgetStore {
    /// The store of the node's data directory (`MIRAGE_DATA_DIR`, default `mirage-data`).
    pub fn from_environment() -> anyhow::Result<Self> {
        let config = crate::config::load(None, |name| std::env::var(name).ok())?;
        Ok(Self::at(config.data_dir.join("budgets")))
    }

    /// A store in `dir`.
    pub fn at(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path(&self, dataset: &str) -> PathBuf {
        self.dir.join(format!("{dataset}.json"))
    }

    /// The dataset's ledger; `None` when it has none yet.
    pub fn load(&self, dataset: &str) -> anyhow::Result<Option<Ledger>> {
        check_dataset_name(dataset)?;
        let path = self.path(dataset);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let file: LedgerFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a privacy ledger", path.display()))?;
        let ledger = Ledger::from_file(&file)
            .with_context(|| format!("{} fails verification", path.display()))?;
        Ok(Some(ledger))
    }

    /// Runs `change` on the dataset's ledger (created with `create` when it has none and
    /// `create` is given) under the dataset's exclusive lock, and saves it when `change`
    /// succeeds. Returns what `change` returned and whether the ledger was created.
    pub fn update<T>(
        &self,
        dataset: &str,
        create: Option<Spend>,
        change: impl FnOnce(&mut Ledger) -> anyhow::Result<T>,
    ) -> anyhow::Result<(T, bool)> {
        check_dataset_name(dataset)?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let lock_path = self.dir.join(format!("{dataset}.lock"));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        let (mut ledger, created) = match (self.load(dataset)?, create) {
            (Some(ledger), _) => (ledger, false),
            (None, Some(budget)) => (Ledger::new(budget), true),
            (None, None) => bail!(
                "dataset {dataset:?} has no privacy budget in {} (set one with `mirage budget set`)",
                self.dir.display()
            ),
        };
        let value = change(&mut ledger)?;
        self.save(dataset, &ledger)?;
        drop(lock);
        Ok((value, created))
    }

    /// Writes the ledger atomically.
    pub fn save(&self, dataset: &str, ledger: &Ledger) -> anyhow::Result<()> {
        check_dataset_name(dataset)?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let path = self.path(dataset);
        let temporary = self
            .dir
            .join(format!(".{dataset}.json.{}", std::process::id()));
        let text = serde_json::to_string_pretty(&ledger.to_file())?;
        std::fs::write(&temporary, text)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, &path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        Ok(())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A ledger as `mirage budget show` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetView {
    /// The dataset.
    pub dataset: String,
    /// Its budget.
    pub budget: Spend,
    /// Committed spend, by basic composition (what the budget is enforced with).
    pub committed: Spend,
    /// Held by open reservations.
    pub reserved: Spend,
    /// ε of everything committed composed by RDP at the budget's δ, with its order.
    pub composed_epsilon: Option<(f64, f64)>,
    /// Whether the hash chain checks.
    pub verified: bool,
    /// The log.
    pub log: Vec<mirage_privacy::LogEntry>,
}

impl BudgetView {
    /// The view of a ledger.
    pub fn of(dataset: &str, ledger: &Ledger) -> Self {
        Self {
            dataset: dataset.to_string(),
            budget: ledger.budget(),
            committed: ledger.committed(),
            reserved: ledger.reserved(),
            composed_epsilon: ledger.rdp_epsilon(),
            verified: ledger.verify().is_ok(),
            log: ledger.log().to_vec(),
        }
    }

    /// For people.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "dataset {}: budget ε = {}, δ = {:e}",
            self.dataset, self.budget.epsilon, self.budget.delta
        );
        let _ = writeln!(
            out,
            "  spent    ε = {:.4}, δ = {:e} (basic composition, enforced){}",
            self.committed.epsilon,
            self.committed.delta,
            self.composed_epsilon
                .map_or(String::new(), |(e, order)| format!(
                    "; ε = {e:.4} composed by RDP (order {order})"
                ))
        );
        let _ = writeln!(
            out,
            "  reserved ε = {:.4}, δ = {:e}",
            self.reserved.epsilon, self.reserved.delta
        );
        let _ = writeln!(
            out,
            "  left     ε = {:.4}",
            (self.budget.epsilon - self.committed.epsilon - self.reserved.epsilon).max(0.0)
        );
        let _ = writeln!(
            out,
            "  log: {} events, hash chain {}",
            self.log.len(),
            if self.verified { "verified" } else { "BROKEN" }
        );
        for entry in &self.log {
            let line = match &entry.event {
                LedgerEvent::BudgetSet { budget } => {
                    format!(
                        "budget set to ε = {}, δ = {:e}",
                        budget.epsilon, budget.delta
                    )
                }
                LedgerEvent::Reserved { request, spend } => format!(
                    "{request} reserved ε = {}, δ = {:e}",
                    spend.epsilon, spend.delta
                ),
                LedgerEvent::Committed {
                    request,
                    spend,
                    mechanisms,
                    ..
                } => format!(
                    "{request} committed ε = {:.4}, δ = {:e} ({} mechanisms)",
                    spend.epsilon,
                    spend.delta,
                    mechanisms.len()
                ),
                LedgerEvent::Released { request } => format!("{request} released"),
            };
            let _ = writeln!(
                out,
                "  {:>4}  {}  {line}",
                entry.sequence,
                &entry.hash[..12]
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledgers_round_trip_and_refuse_bad_names_and_tampering() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BudgetStore::at(dir.path().join("budgets"));
        assert!(store.load("adult").expect("load").is_none());
        let (ledger, created) = store
            .update("adult", Some(DEFAULT_BUDGET), |ledger| {
                ledger.reserve("r1", Spend::new(1.0, 1e-5))?;
                Ok(ledger.clone())
            })
            .expect("create");
        assert!(created);
        // A refused change saves nothing.
        let refused = store.update("adult", None, |ledger| {
            ledger.reserve("r2", Spend::new(100.0, 0.0))?;
            Ok(())
        });
        assert!(refused.is_err());
        assert!(store.update("nobody", None, |_| Ok(())).is_err());
        let back = store.load("adult").expect("load").expect("exists");
        assert_eq!(back, ledger);
        for bad in ["", "../x", ".hidden", "a/b", "a b"] {
            assert!(store.load(bad).is_err(), "{bad:?}");
        }
        let path = dir.path().join("budgets/adult.json");
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace("\"epsilon\": 1.0", "\"epsilon\": 0.1")).expect("write");
        let err = store.load("adult").expect_err("tampered");
        assert!(format!("{err:#}").contains("fails verification"), "{err:#}");
        std::fs::write(&path, "{").expect("write");
        assert!(store.load("adult").is_err());
        let view = BudgetView::of("adult", &ledger).render();
        assert!(view.contains("r1 reserved"), "{view}");
    }

    /// Concurrent runs on one machine: 24 threads reserve ε = 1 each against a budget of
    /// 10 through the store; the lock makes exactly 10 succeed, and the file agrees.
    #[test]
    fn concurrent_reservations_never_overspend() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BudgetStore::at(dir.path().to_path_buf());
        store
            .update("d", Some(Spend::new(10.0, 1e-3)), |_| Ok(()))
            .expect("create");
        let successes: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..24)
                .map(|i| {
                    let store = store.clone();
                    scope.spawn(move || {
                        store
                            .update("d", None, |ledger| {
                                ledger.reserve(&format!("r{i}"), Spend::new(1.0, 1e-5))?;
                                Ok(())
                            })
                            .is_ok()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().expect("thread")))
                .sum()
        });
        assert_eq!(successes, 10);
        let ledger = store.load("d").expect("load").expect("exists");
        assert!((ledger.reserved().epsilon - 10.0).abs() < 1e-9);
        assert_eq!(ledger.verify(), Ok(()));
    }
}
