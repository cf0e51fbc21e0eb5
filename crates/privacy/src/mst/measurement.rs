//! The log of what a fit released, and the one-way measurements with the total they
//! imply.

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::compress::ColumnCompression;
use super::marginal::{add_gaussian_noise, one_way_counts, sigma_for_rho};
use super::tree_model::{Clique, Observation};

/// What a measurement was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MstMeasurementKind {
    /// A column's one-way marginal, Gaussian mechanism.
    OneWay,
    /// One round of tree selection, exponential mechanism.
    Selection,
    /// An edge's two-way marginal (on compressed values), Gaussian mechanism.
    TwoWay,
}

impl MstMeasurementKind {
    /// `"one-way"`, `"selection"` or `"two-way"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneWay => "one-way",
            Self::Selection => "selection",
            Self::TwoWay => "two-way",
        }
    }
}

impl std::fmt::Display for MstMeasurementKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for MstMeasurementKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One private release of a fit and its cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MstMeasurement {
    /// The mechanism.
    pub kind: MstMeasurementKind,
    /// The columns involved: one for a one-way marginal, the pair for a two-way marginal
    /// or for the pair a selection round chose.
    pub columns: Vec<usize>,
    /// The Gaussian noise standard deviation (marginals).
    pub sigma: Option<f64>,
    /// The exponential mechanism's ε (selection).
    pub epsilon: Option<f64>,
    /// The zCDP cost.
    pub rho: f64,
}

/// Noisy one-way counts of every column, on the original domains.
pub(crate) struct NoisyOneWays {
    pub(crate) values: Vec<Vec<f64>>,
    pub(crate) sigma: f64,
}

impl NoisyOneWays {
    /// The observations of the compressed one-way marginals.
    pub(crate) fn observations(&self, compression: &[ColumnCompression]) -> Vec<Observation> {
        self.values
            .iter()
            .zip(compression)
            .enumerate()
            .map(|(i, (y, c))| {
                let (values, weights) = c.compress_counts(y, self.sigma);
                Observation {
                    clique: Clique::Column(i),
                    values,
                    weights,
                }
            })
            .collect()
    }
}

/// Measures every column's one-way marginal, spending `rho` split equally over columns.
pub(crate) fn measure_one_ways(
    columns: &[Vec<u32>],
    domains: &[usize],
    rho: f64,
    rng: &mut ChaCha8Rng,
    measurements: &mut Vec<MstMeasurement>,
    totals: &mut TotalEstimate,
) -> NoisyOneWays {
    let rho_column = rho / domains.len() as f64;
    let sigma = sigma_for_rho(rho_column);
    let values = columns
        .iter()
        .zip(domains)
        .enumerate()
        .map(|(i, (column, &domain))| {
            let mut counts = one_way_counts(column, domain);
            add_gaussian_noise(&mut counts, sigma, rng);
            totals.add(counts.iter().sum(), domain as f64 * sigma * sigma);
            measurements.push(MstMeasurement {
                kind: MstMeasurementKind::OneWay,
                columns: vec![i],
                sigma: Some(sigma),
                epsilon: None,
                rho: rho_column,
            });
            counts
        })
        .collect();
    NoisyOneWays { values, sigma }
}

/// The inverse-variance weighted mean of the noisy totals of all measured tables.
#[derive(Debug, Default)]
pub(crate) struct TotalEstimate {
    weighted_sum: f64,
    weight: f64,
}

impl TotalEstimate {
    pub(crate) fn add(&mut self, sum: f64, variance: f64) {
        self.weighted_sum += sum / variance;
        self.weight += 1.0 / variance;
    }

    /// The estimate, at least 1.
    pub(crate) fn value(&self) -> f64 {
        (self.weighted_sum / self.weight).max(1.0)
    }
}
