//! MST: differentially private synthetic data from a tree of two-way marginals
//! (McKenna, Miklau & Sheldon 2021, "Winning the NIST Contest"), on integer-coded columns.
//!
//! [`MstModel::fit`] spends a zCDP budget ρ in three equal parts:
//! 1. the one-way marginal of every column, with Gaussian noise (`marginal.rs`);
//! 2. after merging the values whose noisy count is below `compress_sigmas·σ`
//!    (`compress.rs`), the private selection of a maximum spanning tree over column pairs
//!    with the exponential mechanism (`select.rs`);
//! 3. the two-way marginal of every tree edge, with Gaussian noise.
//!
//! The noisy measurements are then reconciled into one consistent tree-structured
//! graphical model, Private-PGM style (`tree_model.rs`), from which
//! [`MstModel::sample`] draws rows along the tree (`sample.rs`) and decodes the merged
//! values. With a single column (or when no pair of columns fits `max_cells`) there is no
//! tree and the whole budget goes to one-way marginals, so the spent ρ always equals the
//! requested one.
//!
//! Also here: `forest.rs` (the tree's layout and union–find), `belief.rs` (belief
//! propagation), `measurement.rs` (the release log and the estimated row count) and
//! `input.rs` (input checks).

mod belief;
mod compress;
mod forest;
mod input;
mod marginal;
mod measurement;
mod sample;
mod select;
mod tree_model;

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use compress::ColumnCompression;
pub use measurement::{MstMeasurement, MstMeasurementKind};

use crate::error::{PrivacyError, Result};
use forest::Forest;
use input::validate_input;
use marginal::{add_gaussian_noise, sigma_for_rho, two_way_table};
use measurement::{TotalEstimate, measure_one_ways};
use select::{SelectionSettings, select_tree, selection_rounds};
use tree_model::{Clique, Observation, TreeModel};

/// Settings of [`MstModel::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MstOptions {
    /// Values whose noisy one-way count is below this many noise standard deviations are
    /// merged into one value per column (3 in the paper).
    pub compress_sigmas: f64,
    /// The most mirror-descent iterations of the estimation (it stops earlier once the
    /// loss stalls).
    pub iterations: usize,
    /// The largest table allowed: column pairs whose compressed two-way table has more
    /// cells are never selected, and columns with more values are refused.
    pub max_cells: usize,
}

impl Default for MstOptions {
    fn default() -> Self {
        Self {
            compress_sigmas: 3.0,
            iterations: 1_000,
            max_cells: 1_000_000,
        }
    }
}

/// A fitted MST model: the compression of each column, the tree, and the estimated
/// marginals (probabilities over compressed values) of every column and edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MstModel {
    /// The number of original values of each column.
    domains: Vec<usize>,
    /// How each column's values were merged.
    compression: Vec<ColumnCompression>,
    /// The tree edges `(a, b)`, `a < b`.
    edges: Vec<(usize, usize)>,
    /// The estimated one-way marginal of each column over its compressed values.
    one_way: Vec<Vec<f64>>,
    /// The estimated two-way marginal of each edge, row-major with `a` as rows.
    two_way: Vec<Vec<f64>>,
    /// The estimated number of rows.
    total: f64,
    /// Everything measured, in order.
    measurements: Vec<MstMeasurement>,
}

impl MstModel {
    /// Fits the model to `columns` (column-major; column `i` holds codes in
    /// `0..domains[i]`) under zCDP budget `rho`, neighbouring datasets differing by one
    /// added or removed row.
    pub fn fit(
        columns: &[Vec<u32>],
        domains: &[usize],
        rho: f64,
        options: &MstOptions,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        validate_input(columns, domains, rho, options)?;
        let d = domains.len();
        let mut measurements = Vec::new();
        let mut totals = TotalEstimate::default();

        // 1. One-way marginals.
        let first_share = if d == 1 { rho } else { rho / 3.0 };
        let noisy = measure_one_ways(
            columns,
            domains,
            first_share,
            rng,
            &mut measurements,
            &mut totals,
        );

        // 2. Compression, from the first one-way measurement only.
        let sigma = noisy.sigma;
        let compression: Vec<ColumnCompression> = noisy
            .values
            .iter()
            .map(|y| ColumnCompression::from_noisy_counts(y, options.compress_sigmas * sigma))
            .collect();
        let compressed_domains: Vec<usize> = compression
            .iter()
            .map(ColumnCompression::compressed_domain)
            .collect();
        let encoded: Vec<Vec<u32>> = compression
            .iter()
            .zip(columns)
            .map(|(c, column)| c.encode_column(column))
            .collect();
        let mut observations = noisy.observations(&compression);

        let rounds = if d == 1 {
            0
        } else {
            selection_rounds(&compressed_domains, options.max_cells)
        };
        let mut edges = Vec::new();
        if rounds == 0 && d > 1 {
            // No pair can be measured: the selection and two-way thirds go to the one-ways.
            let again = measure_one_ways(
                columns,
                domains,
                rho - first_share,
                rng,
                &mut measurements,
                &mut totals,
            );
            observations.extend(again.observations(&compression));
        } else if rounds > 0 {
            // 3. Selection against the one-way model.
            let one_way_model = TreeModel::new(&compressed_domains, &[]).estimate(
                &observations,
                totals.value(),
                options.iterations,
            );
            let rho_round = rho / 3.0 / rounds as f64;
            let epsilon = (8.0 * rho_round).sqrt();
            let settings = SelectionSettings {
                epsilon,
                rounds,
                max_cells: options.max_cells,
            };
            edges = select_tree(
                &encoded,
                &compressed_domains,
                &one_way_model.marginals.column,
                totals.value(),
                settings,
                rng,
            );
            for &(a, b) in &edges {
                measurements.push(MstMeasurement {
                    kind: MstMeasurementKind::Selection,
                    columns: vec![a, b],
                    sigma: None,
                    epsilon: Some(epsilon),
                    rho: rho_round,
                });
            }
            // 4. Two-way marginals of the tree edges.
            let sigma = sigma_for_rho(rho_round);
            for (e, &(a, b)) in edges.iter().enumerate() {
                let (ka, kb) = (compressed_domains[a], compressed_domains[b]);
                let mut values = two_way_table(&encoded[a], &encoded[b], ka, kb);
                add_gaussian_noise(&mut values, sigma, rng);
                totals.add(values.iter().sum(), (ka * kb) as f64 * sigma * sigma);
                observations.push(Observation {
                    clique: Clique::Edge(e),
                    weights: vec![1.0 / (sigma * sigma); values.len()],
                    values,
                });
                measurements.push(MstMeasurement {
                    kind: MstMeasurementKind::TwoWay,
                    columns: vec![a, b],
                    sigma: Some(sigma),
                    epsilon: None,
                    rho: rho_round,
                });
            }
        }

        // 5. Estimation.
        let total = totals.value();
        let estimate = TreeModel::new(&compressed_domains, &edges).estimate(
            &observations,
            total,
            options.iterations,
        );
        debug_assert!(
            estimate.losses.windows(2).all(|w| w[1] <= w[0]),
            "the estimation loss increased"
        );
        Ok(Self {
            domains: domains.to_vec(),
            compression,
            edges,
            one_way: estimate.marginals.column,
            two_way: estimate.marginals.edge,
            total,
            measurements,
        })
    }

    /// Draws `rows` rows, column-major, in original codes.
    ///
    /// Never panics; a model that fails [`MstModel::validate`] (only possible from edited
    /// JSON) samples the parts it cannot use independently or uniformly.
    pub fn sample(&self, rows: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<u32>> {
        let compressed_domains: Vec<usize> = self
            .compression
            .iter()
            .map(ColumnCompression::compressed_domain)
            .collect();
        let compressed = sample::sample_compressed(
            &compressed_domains,
            &self.edges,
            &self.one_way,
            &self.two_way,
            rows,
            rng,
        );
        compressed
            .iter()
            .zip(&self.compression)
            .map(|(codes, compression)| {
                let decoder = compression.decoder();
                codes
                    .iter()
                    .map(|&code| decoder.decode(code as usize, rng))
                    .collect()
            })
            .collect()
    }

    /// The zCDP spent: the sum of the costs of all measurements (equal to the requested ρ).
    pub fn rho_spent(&self) -> f64 {
        self.measurements.iter().map(|m| m.rho).sum()
    }

    /// What was measured, in order.
    pub fn measurements(&self) -> &[MstMeasurement] {
        &self.measurements
    }

    /// The tree edges `(a, b)` with `a < b`, in the order selected.
    pub fn edges(&self) -> &[(usize, usize)] {
        &self.edges
    }

    /// The number of original values of each column.
    pub fn domains(&self) -> &[usize] {
        &self.domains
    }

    /// How each column's values were merged.
    pub fn compression(&self) -> &[ColumnCompression] {
        &self.compression
    }

    /// The estimated number of rows of the data.
    pub fn estimated_rows(&self) -> f64 {
        self.total
    }

    /// Checks that a (deserialised) model is internally consistent: one compression per
    /// column, a forest of edges, and marginal tables of the right sizes.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| PrivacyError::InvalidParameter {
            field: "model",
            message,
        };
        let d = self.domains.len();
        if self.compression.len() != d
            || self.one_way.len() != d
            || self.two_way.len() != self.edges.len()
        {
            return Err(invalid(
                "the numbers of columns, compressions and marginals differ; refit the model".into(),
            ));
        }
        for (i, (compression, &domain)) in self.compression.iter().zip(&self.domains).enumerate() {
            if !compression.is_consistent(domain)
                || self.one_way[i].len() != compression.compressed_domain()
            {
                return Err(invalid(format!(
                    "column {i} has an inconsistent compression or marginal; refit the model"
                )));
            }
        }
        let (_, skipped) = Forest::build(d, &self.edges);
        if let Some(&e) = skipped.first() {
            return Err(invalid(format!(
                "edge {e} is out of range or closes a cycle; refit the model"
            )));
        }
        for (e, &(a, b)) in self.edges.iter().enumerate() {
            if self.two_way[e].len() != self.one_way[a].len() * self.one_way[b].len() {
                return Err(invalid(format!(
                    "edge {e} has a marginal of the wrong size; refit the model"
                )));
            }
        }
        let all_finite = self
            .one_way
            .iter()
            .chain(&self.two_way)
            .flatten()
            .all(|p| p.is_finite() && *p >= 0.0);
        if !all_finite {
            return Err(invalid(
                "a marginal holds a negative or non-finite probability; refit the model".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
