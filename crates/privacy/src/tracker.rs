//! The privacy account of one DP run: every mechanism that reads the data is charged here,
//! and a step that reads the data without being charged marks the run as not DP.
//!
//! Enforcement composes on RDP ([`RdpAccountant`]); mechanisms that add a δ of their own
//! (threshold partition selection) are tracked apart and taken off the target δ before
//! converting (ε, δ) = (ε_RDP(δ − δ_extra), δ).

use serde::{Deserialize, Serialize};

use crate::error::{PrivacyError, Result};
use crate::rdp::{RdpAccountant, noise_multiplier_after};

/// Share of the target δ that [`PrivacyTracker::rho_for_share`] leaves to mechanisms with
/// a δ of their own (threshold partition selection).
pub const RESERVED_DELTA_SHARE: f64 = 0.1;

/// Version of the accounting rules written into every report and ledger event.
pub const ACCOUNTANT_VERSION: &str = "rdp-mtz19-balle20/v1";

/// A privacy budget (ε, δ).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrivacyBudget {
    /// ε.
    pub epsilon: f64,
    /// δ.
    pub delta: f64,
}

impl PrivacyBudget {
    /// A validated budget: ε > 0 finite, 0 < δ < 1.
    pub fn new(epsilon: f64, delta: f64) -> Result<Self> {
        if !(epsilon > 0.0 && epsilon.is_finite()) {
            return Err(PrivacyError::InvalidParameter {
                field: "epsilon",
                message: format!("{epsilon} is not a positive number"),
            });
        }
        if !(delta > 0.0 && delta < 1.0) {
            return Err(PrivacyError::InvalidParameter {
                field: "delta",
                message: format!("{delta} is not in (0, 1)"),
            });
        }
        Ok(Self { epsilon, delta })
    }
}

/// One charged mechanism, with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mechanism", rename_all = "snake_case")]
pub enum Mechanism {
    /// Gaussian noise `sigma` on a query of L2 sensitivity `sensitivity`.
    Gaussian {
        /// Noise deviation.
        sigma: f64,
        /// L2 sensitivity.
        sensitivity: f64,
    },
    /// DP-SGD steps: Poisson sampling at `sample_rate`, noise multiplier σ.
    SubsampledGaussian {
        /// q.
        sample_rate: f64,
        /// σ (in units of the clipping norm).
        noise_multiplier: f64,
        /// Steps.
        steps: u64,
    },
    /// `count` ε-DP exponential mechanisms (each ε²/8-zCDP).
    Exponential {
        /// ε of each.
        epsilon: f64,
        /// How many.
        #[serde(default = "one")]
        count: u64,
    },
    /// A ρ-zCDP mechanism.
    Zcdp {
        /// ρ.
        rho: f64,
    },
    /// An extra δ (threshold partition selection).
    Delta {
        /// δ.
        delta: f64,
    },
}

fn one() -> u64 {
    1
}

impl Mechanism {
    /// Adds the mechanism's RDP curve to `accountant`; returns the δ it spends outside
    /// RDP (partition selection), 0 for the others.
    pub fn add_to(&self, accountant: &mut RdpAccountant) -> Result<f64> {
        match *self {
            Mechanism::Gaussian { sigma, sensitivity } => {
                if !(sigma > 0.0 && sensitivity > 0.0 && sigma.is_finite()) {
                    return Err(PrivacyError::InvalidParameter {
                        field: "sigma",
                        message: format!("σ = {sigma}, Δ = {sensitivity}"),
                    });
                }
                accountant.add_zcdp(crate::mechanism::gaussian_rho(sigma, sensitivity))?;
            }
            Mechanism::SubsampledGaussian {
                sample_rate,
                noise_multiplier,
                steps,
            } => accountant.add_subsampled_gaussian(sample_rate, noise_multiplier, steps)?,
            Mechanism::Exponential { epsilon, count } => {
                for _ in 0..count {
                    accountant.add_exponential(epsilon)?;
                }
            }
            Mechanism::Zcdp { rho } => accountant.add_zcdp(rho)?,
            Mechanism::Delta { delta } => {
                if !(0.0..1.0).contains(&delta) {
                    return Err(PrivacyError::InvalidParameter {
                        field: "delta",
                        message: format!("{delta} is not in [0, 1)"),
                    });
                }
                return Ok(delta);
            }
        }
        Ok(0.0)
    }
}

/// A charged event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MechanismEvent {
    /// What read the data ("categories of workclass", "dp-sgd", …).
    pub label: String,
    /// The mechanism and its parameters.
    #[serde(flatten)]
    pub mechanism: Mechanism,
}

/// What a run spent and whether it may be called DP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacyReport {
    /// True only when every data read was charged and the spend is within the target.
    pub differentially_private: bool,
    /// The target budget.
    pub target: PrivacyBudget,
    /// ε spent by RDP at the target δ.
    pub epsilon_rdp: f64,
    /// The RDP order that gave it.
    pub rdp_order: f64,
    /// δ spent outside RDP (partition selection).
    pub extra_delta: f64,
    /// The PRV accountant's ε (upper bound), when every event is one it models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon_prv: Option<f64>,
    /// The charged events in order.
    pub events: Vec<MechanismEvent>,
    /// Data reads that were not charged: any entry makes the run not DP.
    pub not_dp_reasons: Vec<String>,
    /// The accounting rules' version.
    pub accountant: String,
    /// RDP orders.
    pub orders: Vec<f64>,
    /// RDP curve after all events.
    pub rdp: Vec<f64>,
}

impl PrivacyReport {
    /// The tightest valid ε: the smaller of the RDP and PRV figures (both are upper
    /// bounds; PRV models exponential mechanisms only by randomized response, so RDP's
    /// bounded-range bound can win when they dominate).
    pub fn epsilon_tightest(&self) -> f64 {
        self.epsilon_prv
            .map_or(self.epsilon_rdp, |prv| prv.min(self.epsilon_rdp))
    }
}

/// The running account of one DP run.
#[derive(Debug, Clone)]
pub struct PrivacyTracker {
    budget: PrivacyBudget,
    accountant: RdpAccountant,
    extra_delta: f64,
    events: Vec<MechanismEvent>,
    not_dp: Vec<String>,
}

impl PrivacyTracker {
    /// Nothing spent yet against `budget`.
    pub fn new(budget: PrivacyBudget) -> Self {
        Self {
            budget,
            accountant: RdpAccountant::default(),
            extra_delta: 0.0,
            events: Vec::new(),
            not_dp: Vec::new(),
        }
    }

    /// The target budget.
    pub fn budget(&self) -> PrivacyBudget {
        self.budget
    }

    /// The RDP accountant so far.
    pub fn accountant(&self) -> &RdpAccountant {
        &self.accountant
    }

    /// The charged events so far.
    pub fn events(&self) -> &[MechanismEvent] {
        &self.events
    }

    /// δ left for RDP after the extra δ of partition selections.
    pub fn rdp_delta(&self) -> f64 {
        self.budget.delta - self.extra_delta
    }

    /// Charges one mechanism.
    pub fn charge(&mut self, label: impl Into<String>, mechanism: Mechanism) -> Result<()> {
        if let Mechanism::Delta { delta } = mechanism
            && self.extra_delta + delta >= self.budget.delta
        {
            return Err(PrivacyError::InvalidParameter {
                field: "delta",
                message: format!(
                    "an extra δ of {delta} leaves nothing of the target δ {}",
                    self.budget.delta
                ),
            });
        }
        self.extra_delta += mechanism.add_to(&mut self.accountant)?;
        self.events.push(MechanismEvent {
            label: label.into(),
            mechanism,
        });
        Ok(())
    }

    /// Records a data read that was not charged: the run is then never called DP.
    pub fn mark_not_dp(&mut self, reason: impl Into<String>) {
        self.not_dp.push(reason.into());
    }

    /// The reasons recorded by [`Self::mark_not_dp`].
    pub fn not_dp_reasons(&self) -> &[String] {
        &self.not_dp
    }

    /// (ε spent by RDP at the target δ, its order).
    pub fn epsilon_spent(&self) -> Result<(f64, f64)> {
        self.accountant.epsilon(self.rdp_delta())
    }

    /// A share of the target as a zCDP budget: `share`·ρ, where ρ is the largest zCDP
    /// whose RDP curve (ρα at order α) converts to at most the target ε at the target δ
    /// on this accountant's orders (tighter than the closed form ε = ρ + 2√(ρ log(1/δ))
    /// of Bun & Steinke, 2016, which it never exceeds), with δ less the
    /// [`RESERVED_DELTA_SHARE`] kept for partition selection. zCDP mechanisms compose by
    /// adding their ρ, so shares of ρ (not of ε) split a budget between mechanisms. Used
    /// to size preprocessing mechanisms and MST.
    pub fn rho_for_share(&self, share: f64) -> f64 {
        let delta = self.budget.delta * (1.0 - RESERVED_DELTA_SHARE);
        let log = (1.0 / delta).ln();
        // The closed form's ρ is a lower bound on the answer.
        let root = -log.sqrt() + (log + self.budget.epsilon).sqrt();
        let closed = root * root;
        let fits = |rho: f64| -> bool {
            let mut accountant = RdpAccountant::new(self.accountant.orders().to_vec());
            accountant.add_zcdp(rho).is_ok()
                && accountant
                    .epsilon(delta)
                    .is_ok_and(|(e, _)| e <= self.budget.epsilon)
        };
        let (mut low, mut high) = (closed, closed.max(1e-12) * 2.0);
        while fits(high) && high < 1e9 {
            low = high;
            high *= 2.0;
        }
        for _ in 0..60 {
            let mid = 0.5 * (low + high);
            if fits(mid) {
                low = mid;
            } else {
                high = mid;
            }
        }
        low * share.clamp(0.0, 1.0)
    }

    /// The DP-SGD noise multiplier for `steps` steps at `sample_rate` that brings the
    /// total to the target ε.
    pub fn noise_multiplier_for(&self, sample_rate: f64, steps: u64) -> Result<f64> {
        noise_multiplier_after(
            &self.accountant,
            self.budget.epsilon,
            self.rdp_delta(),
            sample_rate,
            steps,
        )
    }

    /// How many more DP-SGD steps fit in the target (at most `cap`).
    pub fn steps_left(&self, sample_rate: f64, noise_multiplier: f64, cap: u64) -> Result<u64> {
        let fits = |steps: u64| -> Result<bool> {
            let mut accountant = self.accountant.clone();
            accountant.add_subsampled_gaussian(sample_rate, noise_multiplier, steps)?;
            Ok(accountant.epsilon(self.rdp_delta())?.0 <= self.budget.epsilon * (1.0 + 1e-9))
        };
        if fits(cap)? {
            return Ok(cap);
        }
        let (mut low, mut high) = (0u64, cap);
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            if fits(mid)? {
                low = mid;
            } else {
                high = mid;
            }
        }
        Ok(low)
    }

    /// The report of what was spent.
    pub fn report(&self) -> Result<PrivacyReport> {
        let (epsilon, order) = self.epsilon_spent()?;
        Ok(PrivacyReport {
            differentially_private: self.not_dp.is_empty()
                && epsilon <= self.budget.epsilon * (1.0 + 1e-6),
            target: self.budget,
            epsilon_rdp: epsilon,
            rdp_order: order,
            extra_delta: self.extra_delta,
            epsilon_prv: None,
            events: self.events.clone(),
            not_dp_reasons: self.not_dp.clone(),
            accountant: ACCOUNTANT_VERSION.to_string(),
            orders: self.accountant.orders().to_vec(),
            rdp: self.accountant.rdp().to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> PrivacyBudget {
        PrivacyBudget::new(1.0, 1e-5).expect("budget")
    }

    #[test]
    fn budgets_are_validated() {
        assert!(PrivacyBudget::new(0.0, 1e-5).is_err());
        assert!(PrivacyBudget::new(1.0, 0.0).is_err());
        assert!(PrivacyBudget::new(f64::INFINITY, 1e-5).is_err());
    }

    #[test]
    fn rho_share_converts_back_to_the_share() {
        let tracker = PrivacyTracker::new(budget());
        let rho = tracker.rho_for_share(1.0);
        let log = (1.0 / 0.9e-5f64).ln();
        // At least the closed form's ρ, and spending it converts to the target.
        assert!(rho + 2.0 * (rho * log).sqrt() >= 1.0 - 1e-12);
        assert!((tracker.rho_for_share(0.25) - rho / 4.0).abs() < 1e-15);
        // Spending it all as zCDP stays within the target by RDP too.
        let mut full = tracker.clone();
        full.charge("all", Mechanism::Zcdp { rho }).expect("charge");
        let spent = full.epsilon_spent().expect("eps").0;
        assert!(spent <= 1.0 && spent > 0.99, "{spent}");
    }

    #[test]
    fn training_after_preprocessing_meets_the_target_exactly() {
        let mut tracker = PrivacyTracker::new(budget());
        let rho = tracker.rho_for_share(0.1);
        tracker
            .charge("quantiles", Mechanism::Zcdp { rho })
            .expect("charge");
        let sigma = tracker.noise_multiplier_for(0.01, 1000).expect("sigma");
        tracker
            .charge(
                "dp-sgd",
                Mechanism::SubsampledGaussian {
                    sample_rate: 0.01,
                    noise_multiplier: sigma,
                    steps: 1000,
                },
            )
            .expect("charge");
        let report = tracker.report().expect("report");
        assert!(report.differentially_private);
        assert!(
            (report.epsilon_rdp - 1.0).abs() < 1e-3,
            "{}",
            report.epsilon_rdp
        );
        // A step more would overspend.
        assert_eq!(tracker.steps_left(0.01, sigma, 100).expect("left"), 0);
    }

    #[test]
    fn steps_left_stops_at_the_target() {
        let tracker = PrivacyTracker::new(budget());
        let steps = tracker.steps_left(0.01, 1.0, 1_000_000).expect("steps");
        let mut accountant = RdpAccountant::default();
        accountant
            .add_subsampled_gaussian(0.01, 1.0, steps)
            .expect("add");
        assert!(accountant.epsilon(1e-5).expect("eps").0 <= 1.0);
        accountant
            .add_subsampled_gaussian(0.01, 1.0, 1)
            .expect("add");
        assert!(accountant.epsilon(1e-5).expect("eps").0 > 1.0);
    }

    #[test]
    fn the_tightest_epsilon_is_the_smaller_bound() {
        let mut report = PrivacyTracker::new(budget()).report().expect("report");
        let rdp = report.epsilon_rdp;
        assert_eq!(report.epsilon_tightest(), rdp);
        report.epsilon_prv = Some(rdp / 2.0);
        assert_eq!(report.epsilon_tightest(), rdp / 2.0);
        report.epsilon_prv = Some(rdp * 2.0);
        assert_eq!(report.epsilon_tightest(), rdp);
    }

    #[test]
    fn an_uncharged_read_is_never_dp() {
        let mut tracker = PrivacyTracker::new(budget());
        tracker.mark_not_dp("numeric modes of age fitted on the data");
        let report = tracker.report().expect("report");
        assert!(!report.differentially_private);
        assert_eq!(report.not_dp_reasons.len(), 1);
    }

    #[test]
    fn extra_delta_cannot_eat_the_whole_delta() {
        let mut tracker = PrivacyTracker::new(budget());
        assert!(
            tracker
                .charge("select", Mechanism::Delta { delta: 1e-5 })
                .is_err()
        );
        tracker
            .charge("select", Mechanism::Delta { delta: 1e-6 })
            .expect("charge");
        assert!((tracker.rdp_delta() - 9e-6).abs() < 1e-18);
    }
}
