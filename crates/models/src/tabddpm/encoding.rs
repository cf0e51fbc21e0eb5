//! Columns as diffusion inputs: numeric columns through an empirical quantile transform
//! to normal scores (plus a 2-class null indicator when they have nulls), categorical
//! columns as classes (a null class when they have nulls; frequent classes and an
//! `<other>` pool beyond `max_categories`), keys and free text outside the network.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::copula::numeric::round_to_quantum;
use crate::copula::{KeyGenerator, TextGenerator};
use crate::stats::normal;
use mirage_core::Value;

/// Probabilities are kept within [ε, 1 − ε] before Φ⁻¹ (scores within about ±5.2).
const P_EPS: f64 = 1e-7;

/// An empirical quantile transform to N(0, 1) scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileTransform {
    /// The values at probabilities i/(n − 1), i = 0..n, nondecreasing.
    pub grid: Vec<f64>,
}

impl QuantileTransform {
    /// Fits `points` quantiles (fewer for fewer values) on sorted values (not empty).
    pub fn fit(sorted: &[f64], points: usize) -> Self {
        let n = sorted.len();
        let points = points.min(n).max(2);
        let grid = (0..points)
            .map(|i| {
                let position = i as f64 / (points - 1) as f64 * (n - 1) as f64;
                let lo = position.floor() as usize;
                let hi = (lo + 1).min(n - 1);
                let w = position - lo as f64;
                sorted[lo] * (1.0 - w) + sorted[hi] * w
            })
            .collect();
        Self { grid }
    }

    /// The probability of `x` (ties: the middle of their run of quantiles).
    pub fn probability(&self, x: f64) -> f64 {
        let g = &self.grid;
        let last = (g.len() - 1) as f64;
        let lo = g.partition_point(|v| *v < x);
        let hi = g.partition_point(|v| *v <= x);
        let position = if hi > lo {
            (lo + hi - 1) as f64 / 2.0
        } else if lo == 0 {
            0.0
        } else if lo == g.len() {
            last
        } else {
            let (a, b) = (g[lo - 1], g[lo]);
            (lo - 1) as f64 + (x - a) / (b - a)
        };
        position / last
    }

    /// The normal score of `x`.
    pub fn forward(&self, x: f64) -> f64 {
        normal::quantile(self.probability(x).clamp(P_EPS, 1.0 - P_EPS))
    }

    /// The value of normal score `z`, interpolated between quantiles.
    pub fn inverse(&self, z: f64) -> f64 {
        let g = &self.grid;
        let last = g.len() - 1;
        let p = normal::cdf(z);
        if !p.is_finite() {
            return g[0];
        }
        let position = (p.clamp(0.0, 1.0) * last as f64).clamp(0.0, last as f64);
        let lo = (position.floor() as usize).min(last);
        let hi = (lo + 1).min(last);
        let w = position - lo as f64;
        g[lo] * (1.0 - w) + g[hi] * w
    }
}

/// A numeric column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericCodec {
    /// Values to normal scores.
    pub transform: QuantileTransform,
    /// Smallest observed value.
    pub min: f64,
    /// Largest observed value.
    pub max: f64,
    /// Generated values are rounded to multiples of this.
    pub quantum: Option<f64>,
    /// The distinct training values, when few: generated values snap to the nearest.
    pub distinct: Option<Vec<f64>>,
    /// Whether a 2-class null indicator (class 1 = null) follows in the network.
    pub nullable: bool,
}

impl NumericCodec {
    /// Decodes a normal score.
    pub fn decode(&self, z: f64) -> f64 {
        let mut x = self.transform.inverse(z);
        if let Some(q) = self.quantum {
            x = round_to_quantum(x, q);
        }
        if let Some(values) = &self.distinct {
            let i = values.partition_point(|v| *v < x);
            x = match (i.checked_sub(1).map(|j| values[j]), values.get(i)) {
                (Some(a), Some(b)) => {
                    if x - a <= b - x {
                        a
                    } else {
                        *b
                    }
                }
                (Some(a), None) => a,
                (None, Some(b)) => *b,
                (None, None) => x,
            };
        }
        if x.is_finite() {
            x.clamp(self.min, self.max)
        } else {
            self.min
        }
    }
}

/// A categorical column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalCodec {
    /// The classes kept individually.
    pub categories: Vec<Value>,
    /// Pooled categories with their counts, behind an `<other>` class (after the kept
    /// ones), when the column has more than `max_categories`.
    pub other: Vec<(Value, u64)>,
    /// Whether the last class means null.
    pub nullable: bool,
}

impl CategoricalCodec {
    /// Fits the classes from a column's distinct values and codes; returns each row's
    /// class.
    pub fn fit(
        values: Vec<Value>,
        codes: &[Option<u32>],
        max_categories: usize,
    ) -> (Self, Vec<u32>) {
        let mut counts = vec![0u64; values.len()];
        let mut nullable = false;
        for c in codes {
            match c {
                Some(c) => counts[*c as usize] += 1,
                None => nullable = true,
            }
        }
        let keep_all = values.len() + usize::from(nullable) <= max_categories;
        // class of each original code
        let mut class_of = vec![0u32; values.len()];
        let (categories, other) = if keep_all {
            for (i, c) in class_of.iter_mut().enumerate() {
                *c = i as u32;
            }
            (values, Vec::new())
        } else {
            let kept = max_categories
                .saturating_sub(1 + usize::from(nullable))
                .max(1);
            let mut order: Vec<usize> = (0..values.len()).collect();
            order.sort_by(|a, b| counts[*b].cmp(&counts[*a]).then(a.cmp(b)));
            let mut categories = Vec::with_capacity(kept);
            let mut other = Vec::new();
            for (rank, &i) in order.iter().enumerate() {
                if rank < kept {
                    class_of[i] = rank as u32;
                    categories.push(values[i].clone());
                } else {
                    class_of[i] = kept as u32;
                    other.push((values[i].clone(), counts[i]));
                }
            }
            (categories, other)
        };
        let codec = Self {
            categories,
            other,
            nullable,
        };
        let null_class = (codec.classes() - 1) as u32;
        let classes = codes
            .iter()
            .map(|c| c.map_or(null_class, |c| class_of[c as usize]))
            .collect();
        (codec, classes)
    }

    /// Classes in the network.
    pub fn classes(&self) -> usize {
        self.categories.len() + usize::from(!self.other.is_empty()) + usize::from(self.nullable)
    }

    /// The value of a class (`Null` for the null class; a pooled category drawn by its
    /// frequency for `<other>`).
    pub fn decode(&self, class: usize, rng: &mut impl Rng) -> Value {
        if class < self.categories.len() {
            return self.categories[class].clone();
        }
        if class == self.categories.len() && !self.other.is_empty() {
            let total: u64 = self.other.iter().map(|(_, c)| c).sum();
            let mut draw = rng.random_range(0..total.max(1));
            for (value, count) in &self.other {
                if draw < *count {
                    return value.clone();
                }
                draw -= count;
            }
            return self.other[self.other.len() - 1].0.clone();
        }
        Value::Null
    }

    /// Every value it can generate.
    pub fn values(&self) -> Vec<Value> {
        self.categories
            .iter()
            .chain(self.other.iter().map(|(v, _)| v))
            .cloned()
            .collect()
    }
}

/// How one column is generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum ColumnCodec {
    /// A Gaussian dimension (and a null indicator block when nullable).
    Numeric(NumericCodec),
    /// A multinomial block.
    Categorical(CategoricalCodec),
    /// Unique keys, outside the network.
    Key(KeyGenerator),
    /// Free text, outside the network.
    Text(TextGenerator),
}

/// Where each column lives in the network's input and output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// Numeric dims (the first `numeric` inputs/outputs).
    pub numeric: usize,
    /// Class counts of the categorical blocks, in order (numeric null indicators first,
    /// in column order, then categorical columns).
    pub blocks: Vec<usize>,
    /// Start of each block in the input/output (after the numeric dims).
    pub offsets: Vec<usize>,
}

impl Layout {
    /// The layout of these codecs.
    pub fn of(columns: &[ColumnCodec]) -> Self {
        let mut numeric = 0;
        let mut blocks = Vec::new();
        for codec in columns {
            if let ColumnCodec::Numeric(n) = codec {
                numeric += 1;
                if n.nullable {
                    blocks.push(2);
                }
            }
        }
        for codec in columns {
            if let ColumnCodec::Categorical(c) = codec {
                blocks.push(c.classes());
            }
        }
        Self::new(numeric, blocks)
    }

    /// A layout of `numeric` dims and these blocks.
    pub fn new(numeric: usize, blocks: Vec<usize>) -> Self {
        let mut offsets = Vec::with_capacity(blocks.len());
        let mut at = numeric;
        for b in &blocks {
            offsets.push(at);
            at += b;
        }
        Self {
            numeric,
            blocks,
            offsets,
        }
    }

    /// Input (= output) width.
    pub fn width(&self) -> usize {
        self.numeric + self.blocks.iter().sum::<usize>()
    }
}
