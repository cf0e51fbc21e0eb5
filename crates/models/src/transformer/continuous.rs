//! Mode-specific normalization of one numeric or datetime column.
//!
//! A value is encoded as a scalar `alpha = (x − μ_k)/(4σ_k)` (tanh) and the one-hot of the
//! mixture component `k` drawn from its posterior (softmax), plus a (present, null)
//! indicator when the column has nulls and, for datetimes, sin/cos of the day of the week,
//! of the day of the year and (below day precision) of the time of day as extra tanh
//! outputs that decoding ignores.

use arrow::array::{Array, BooleanArray, Float64Array, Int64Array, TimestampMillisecondArray};
use rand::seq::index::sample as sample_indices;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::grid::QuantileCdf;
use super::mixture::{BayesianGaussianMixture, MixtureSettings};
use super::{Activation, TransformerOptions};
use crate::copula::numeric::{datetime_quantum, decimal_quantum, round_to_quantum};
use crate::copula::{Family, GaussianCopulaConfig, NumberKind, NumericMarginal};
use crate::error::{ModelError, Result};
use crate::nn::layers::argmax;
use crate::stats::normal;

const DAY_MS: f64 = 86_400_000.0;
/// Uniform scores are kept this far from 0 and 1 so that Φ⁻¹ stays moderate.
const EDGE: f64 = 1e-6;
/// Normal scores of a DP grid stay within Φ⁻¹(GRID_EDGE) = ±4, where `alpha = z/4` meets
/// its clip.
const GRID_EDGE: f64 = 3.167e-5;
/// `alpha` is clipped to this magnitude, as in CTGAN.
const ALPHA_LIMIT: f64 = 0.99;

/// Read access to a numeric Arrow array with [`crate::columns::numeric_values`]'
/// semantics (booleans 0/1, timestamps epoch ms, non-finite floats null), without
/// copying it.
pub(super) enum NumberReader<'a> {
    Float(&'a Float64Array),
    Int(&'a Int64Array),
    Time(&'a TimestampMillisecondArray),
    Bool(&'a BooleanArray),
}

impl<'a> NumberReader<'a> {
    pub(super) fn new(column: &str, array: &'a dyn Array) -> Result<Self> {
        let any = array.as_any();
        if let Some(a) = any.downcast_ref::<Float64Array>() {
            return Ok(Self::Float(a));
        }
        if let Some(a) = any.downcast_ref::<Int64Array>() {
            return Ok(Self::Int(a));
        }
        if let Some(a) = any.downcast_ref::<TimestampMillisecondArray>() {
            return Ok(Self::Time(a));
        }
        if let Some(a) = any.downcast_ref::<BooleanArray>() {
            return Ok(Self::Bool(a));
        }
        Err(ModelError::UnsupportedColumn {
            column: column.to_string(),
            message: format!("arrow type {} is not a number", array.data_type()),
        })
    }

    /// The value in `row`, `None` for nulls.
    #[inline]
    pub(super) fn get(&self, row: usize) -> Option<f64> {
        match self {
            Self::Float(a) => (a.is_valid(row) && a.value(row).is_finite()).then(|| a.value(row)),
            Self::Int(a) => a.is_valid(row).then(|| a.value(row) as f64),
            Self::Time(a) => a.is_valid(row).then(|| a.value(row) as f64),
            Self::Bool(a) => a.is_valid(row).then(|| f64::from(u8::from(a.value(row)))),
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Self::Float(a) => a.len(),
            Self::Int(a) => a.len(),
            Self::Time(a) => a.len(),
            Self::Bool(a) => a.len(),
        }
    }
}

/// The fitted encoding of one numeric column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContinuousColumn {
    /// The mixture over the values (over their normal scores with the copula).
    pub mixture: BayesianGaussianMixture,
    /// Smallest observed value.
    pub min: f64,
    /// Largest observed value.
    pub max: f64,
    /// Decoded values are rounded to multiples of this.
    pub quantum: Option<f64>,
    /// Whether the column had nulls (and so has a null indicator).
    pub has_nulls: bool,
    /// Training rows that were null.
    #[serde(default)]
    pub null_count: u64,
    /// For datetimes: the cyclical features.
    pub cyclic: Option<CyclicFeatures>,
    /// With the Gaussian-copula preprocessing: the marginal distribution whose CDF maps
    /// values to normal scores.
    pub marginal: Option<Family>,
    /// For a DP fit: the DP quantile grid whose CDF maps values to normal scores (the
    /// mixture is then one standard normal mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<QuantileCdf>,
}

/// Which cyclical features a datetime column gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CyclicFeatures {
    /// Whether the time of day is encoded too (values finer than whole days).
    pub time_of_day: bool,
}

impl CyclicFeatures {
    fn width(self) -> usize {
        if self.time_of_day { 6 } else { 4 }
    }

    /// sin/cos of day of week, day of year and maybe time of day of epoch-ms `x`.
    fn write(self, x: f64, out: &mut [f32]) {
        let days = (x / DAY_MS).floor();
        let weekday = (days + 3.0).rem_euclid(7.0) / 7.0; // 1970-01-01 was a Thursday.
        let (ordinal, year_length) = day_of_year(days as i64);
        let mut put = |slot: usize, fraction: f64| {
            let angle = std::f64::consts::TAU * fraction;
            out[slot] = angle.sin() as f32;
            out[slot + 1] = angle.cos() as f32;
        };
        put(0, weekday);
        put(2, ordinal as f64 / year_length as f64);
        if self.time_of_day {
            put(4, x.rem_euclid(DAY_MS) / DAY_MS);
        }
    }
}

/// Zero-based day of the year and the year's length for days since the epoch (civil
/// calendar, after Howard Hinnant's `civil_from_days`).
fn day_of_year(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    // Day of the year counted from 1 March.
    let from_march = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_year = year_of_era + era * 400;
    let january = from_march >= 306;
    let year = if january { march_year + 1 } else { march_year };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let february = 28 + i64::from(leap);
    let ordinal = if january {
        from_march - 306
    } else {
        from_march + 31 + february
    };
    (ordinal, 337 + february)
}

impl ContinuousColumn {
    /// Fits the column from its values; `None` when every value is null.
    pub(super) fn fit(
        reader: &NumberReader<'_>,
        kind: NumberKind,
        options: &TransformerOptions,
        rng: &mut ChaCha8Rng,
    ) -> Option<Self> {
        let values: Vec<f64> = (0..reader.len()).filter_map(|r| reader.get(r)).collect();
        if values.is_empty() {
            return None;
        }
        let has_nulls = values.len() < reader.len();
        let null_count = (reader.len() - values.len()) as u64;
        let (min, max) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
        let quantum = match kind {
            NumberKind::Integer => Some(1.0),
            NumberKind::Float => decimal_quantum(&values),
            NumberKind::Datetime => Some(datetime_quantum(&values)),
        };
        let cyclic = (kind == NumberKind::Datetime).then_some(CyclicFeatures {
            time_of_day: quantum.is_some_and(|q| q < DAY_MS),
        });
        // The mixture (and the copula marginal) see a seeded sample of at most
        // `fit_sample` values: their cost grows with it, their accuracy hardly beyond it.
        let sample: Vec<f64> = if values.len() > options.fit_sample {
            sample_indices(rng, values.len(), options.fit_sample)
                .into_iter()
                .map(|i| values[i])
                .collect()
        } else {
            values
        };
        let marginal = options.gaussian_copula.then(|| {
            let present: Vec<Option<f64>> = sample.iter().copied().map(Some).collect();
            NumericMarginal::fit(&present, kind, &GaussianCopulaConfig::default(), rng)
                .map(|(marginal, _, _)| marginal.family)
        });
        let mut column = Self {
            mixture: BayesianGaussianMixture::fit(&[], &settings(options), rng),
            min,
            max,
            quantum,
            has_nulls,
            null_count,
            cyclic,
            marginal: marginal.flatten(),
            grid: None,
        };
        let scores: Vec<f64> = sample.iter().map(|&x| column.score(x)).collect();
        column.mixture = BayesianGaussianMixture::fit(&scores, &settings(options), rng);
        Some(column)
    }

    /// The widths and activations of the column's spans, in order.
    pub(super) fn spans(&self) -> Vec<(usize, Activation)> {
        let mut spans = vec![
            (1, Activation::Tanh),
            (self.mixture.components(), Activation::Softmax),
        ];
        if self.has_nulls {
            spans.push((2, Activation::Softmax));
        }
        if let Some(cyclic) = self.cyclic {
            spans.push((cyclic.width(), Activation::Tanh));
        }
        spans
    }

    /// The encoded width.
    pub(super) fn width(&self) -> usize {
        self.spans().iter().map(|(w, _)| w).sum()
    }

    /// The encoding of a DP fit: values mapped to normal scores through the CDF of the DP
    /// quantile grid `grid` (values outside `[min, max]`, the grid's ends, are capped), one
    /// standard normal mode, and a null indicator when `has_nulls`. Nothing here reads
    /// the data.
    pub(super) fn from_grid(
        grid: QuantileCdf,
        min: f64,
        max: f64,
        quantum: Option<f64>,
        has_nulls: bool,
        null_count: u64,
        datetime: bool,
    ) -> Self {
        let cyclic = datetime.then_some(CyclicFeatures {
            time_of_day: quantum.is_none_or(|q| q < DAY_MS),
        });
        Self {
            mixture: BayesianGaussianMixture::standard_normal(),
            min,
            max,
            quantum,
            has_nulls,
            null_count,
            cyclic,
            marginal: None,
            grid: Some(grid),
        }
    }

    /// The value on the mixture's scale.
    fn score(&self, x: f64) -> f64 {
        if let Some(grid) = &self.grid {
            let u = grid.cdf(x.clamp(self.min, self.max));
            return normal::quantile(u.clamp(GRID_EDGE, 1.0 - GRID_EDGE));
        }
        match &self.marginal {
            Some(family) => normal::quantile(family.cdf_midpoint(x).clamp(EDGE, 1.0 - EDGE)),
            None => x,
        }
    }

    /// Writes the encoding of `value` into `out` (the column's slice of a zeroed row).
    /// `scratch` has one slot per component.
    pub(super) fn encode(
        &self,
        value: Option<f64>,
        out: &mut [f32],
        scratch: &mut [f64],
        rng: &mut ChaCha8Rng,
    ) {
        let components = self.mixture.components();
        let null_slot = 1 + components;
        let cyclic_slot = null_slot + if self.has_nulls { 2 } else { 0 };
        let Some(x) = value else {
            // Null rows: alpha 0 and a mode drawn by weight, so the mode outputs keep the
            // mixture's proportions; the null indicator decides decoding.
            // A column fitted without a null indicator (a DP fit whose noisy null count
            // was below the threshold) encodes a null as alpha 0.
            out[1 + self.mixture.sample_by_weight(rng)] = 1.0;
            if self.has_nulls {
                out[null_slot + 1] = 1.0;
            }
            return;
        };
        let z = self.score(x);
        let k = self.mixture.sample_component(z, scratch, rng);
        let alpha = (z - self.mixture.means[k]) / (4.0 * self.mixture.stds[k]);
        out[0] = alpha.clamp(-ALPHA_LIMIT, ALPHA_LIMIT) as f32;
        out[1 + k] = 1.0;
        if self.has_nulls {
            out[null_slot] = 1.0;
        }
        if let Some(cyclic) = self.cyclic {
            cyclic.write(x, &mut out[cyclic_slot..]);
        }
    }

    /// The value of the column's slice of an output row: null when the null indicator
    /// wins, else the argmax mode's `alpha·4σ + μ`, mapped back through the marginal,
    /// clipped to the observed range and rounded to the quantum.
    pub(super) fn decode(&self, row: &[f32]) -> Option<f64> {
        let components = self.mixture.components();
        let null_slot = 1 + components;
        if self.has_nulls && row[null_slot + 1] > row[null_slot] {
            return None;
        }
        let k = argmax(&row[1..null_slot]);
        let alpha = f64::from(row[0]).clamp(-1.0, 1.0);
        let z = alpha * 4.0 * self.mixture.stds[k] + self.mixture.means[k];
        let x = match (&self.grid, &self.marginal) {
            (Some(grid), _) => grid.inverse_cdf(normal::cdf(z).clamp(0.0, 1.0)),
            (None, Some(family)) => family.quantile(normal::cdf(z)),
            (None, None) => z,
        };
        let x = if x.is_finite() {
            x
        } else {
            self.mixture.means[k]
        };
        let x = x.clamp(self.min, self.max);
        Some(match self.quantum {
            Some(q) => round_to_quantum(x, q),
            None => x,
        })
    }
}

fn settings(options: &TransformerOptions) -> MixtureSettings {
    MixtureSettings {
        max_components: options.max_components,
        weight_concentration: options.weight_concentration,
        weight_threshold: options.weight_threshold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_features_match_known_dates() {
        // 2024-03-01 (leap year): day 60 of 366; 2023-12-31: day 364 of 365.
        assert_eq!(day_of_year(19_783), (60, 366));
        assert_eq!(day_of_year(19_722), (364, 365));
        assert_eq!(day_of_year(0), (0, 365));
        assert_eq!(day_of_year(-1), (364, 365));
        // 2000-02-29.
        assert_eq!(day_of_year(11_016), (59, 366));
    }

    #[test]
    fn rounding_keeps_short_decimals() {
        assert_eq!(round_to_quantum(2.030_000_4, 0.01).to_string(), "2.03");
        assert_eq!(round_to_quantum(86_400_123.0, DAY_MS), DAY_MS);
    }
}
