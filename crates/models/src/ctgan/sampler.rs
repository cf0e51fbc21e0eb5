//! The conditional vector and training-by-sampling (Xu et al. 2019, §4.3).
//!
//! The conditional vector concatenates the one-hots of every discrete column; a row's
//! vector holds one 1. In training, a discrete column is chosen uniformly, then one of its
//! categories with probability ∝ log(1 + frequency), and the real rows shown to the critic
//! are drawn among the rows that have that category. Unconditional sampling draws the
//! category with its empirical frequency instead.

use rand::Rng;

/// Draws conditional vectors, as each row's hot index.
#[derive(Debug, Clone, Default)]
pub struct CondSampler {
    /// First index of each discrete column in the conditional vector.
    offsets: Vec<usize>,
    /// Categories per discrete column.
    categories: Vec<usize>,
    /// Cumulative log(1 + frequency) weights per column (training).
    log_cdf: Vec<Vec<f64>>,
    /// Cumulative frequencies per column (unconditional sampling).
    freq_cdf: Vec<Vec<f64>>,
    width: usize,
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut total = 0.0;
    weights
        .map(|w| {
            total += w;
            total
        })
        .collect()
}

/// An index drawn with probability ∝ the increments of `cdf` (uniform when all are zero).
fn draw(cdf: &[f64], rng: &mut impl Rng) -> usize {
    let total = cdf.last().copied().unwrap_or(0.0);
    if total <= 0.0 {
        return rng.random_range(0..cdf.len().max(1));
    }
    let u = rng.random::<f64>() * total;
    cdf.partition_point(|&c| c <= u).min(cdf.len() - 1)
}

impl CondSampler {
    /// A sampler over discrete columns with these category frequencies.
    pub fn new(frequencies: &[Vec<u64>]) -> Self {
        let mut offsets = Vec::with_capacity(frequencies.len());
        let mut width = 0;
        for f in frequencies {
            offsets.push(width);
            width += f.len();
        }
        Self {
            offsets,
            categories: frequencies.iter().map(Vec::len).collect(),
            log_cdf: frequencies
                .iter()
                .map(|f| cumulative(f.iter().map(|&c| (1.0 + c as f64).ln())))
                .collect(),
            freq_cdf: frequencies
                .iter()
                .map(|f| cumulative(f.iter().map(|&c| c as f64)))
                .collect(),
            width,
        }
    }

    /// Width of the conditional vector.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Discrete columns.
    pub fn columns(&self) -> usize {
        self.offsets.len()
    }

    /// First index of discrete column `d`.
    pub fn offset(&self, d: usize) -> usize {
        self.offsets[d]
    }

    /// Categories of discrete column `d`.
    pub fn categories(&self, d: usize) -> usize {
        self.categories[d]
    }

    /// Training draws for `rows` rows: each row's discrete column in `columns` and hot
    /// index in `hot` (log-frequency categories). Both stay empty without discrete
    /// columns.
    pub fn sample_train(
        &self,
        rows: usize,
        columns: &mut Vec<u32>,
        hot: &mut Vec<u32>,
        rng: &mut impl Rng,
    ) {
        self.sample_columns(&self.log_cdf, rows, columns, hot, rng);
    }

    /// Unconditional-sampling draws for `rows` rows (empirical frequencies).
    pub fn sample_original(&self, rows: usize, hot: &mut Vec<u32>, rng: &mut impl Rng) {
        hot.clear();
        if self.offsets.is_empty() {
            return;
        }
        for _ in 0..rows {
            let d = rng.random_range(0..self.offsets.len());
            let k = draw(&self.freq_cdf[d], rng);
            hot.push((self.offsets[d] + k) as u32);
        }
    }

    /// Draws for `rows` rows with each row's discrete column uniform and its category
    /// with the (empirical or, in a DP fit, noisy) frequencies: the conditions a DP
    /// critic sees on real rows, whose conditional vector comes from their own values.
    pub fn sample_by_frequency(
        &self,
        rows: usize,
        columns: &mut Vec<u32>,
        hot: &mut Vec<u32>,
        rng: &mut impl Rng,
    ) {
        self.sample_columns(&self.freq_cdf, rows, columns, hot, rng);
    }

    /// Each row's discrete column, uniform, into `columns` and its hot index, drawn with
    /// that column's `cdfs`, into `hot`.
    fn sample_columns(
        &self,
        cdfs: &[Vec<f64>],
        rows: usize,
        columns: &mut Vec<u32>,
        hot: &mut Vec<u32>,
        rng: &mut impl Rng,
    ) {
        columns.clear();
        hot.clear();
        if self.offsets.is_empty() {
            return;
        }
        for _ in 0..rows {
            let d = rng.random_range(0..self.offsets.len());
            let k = draw(&cdfs[d], rng);
            columns.push(d as u32);
            hot.push((self.offsets[d] + k) as u32);
        }
    }

    /// The training probabilities of discrete column `d`'s categories.
    pub fn train_probabilities(&self, d: usize) -> Vec<f64> {
        let cdf = &self.log_cdf[d];
        let total = cdf.last().copied().unwrap_or(0.0);
        let mut previous = 0.0;
        cdf.iter()
            .map(|&c| {
                let p = (c - previous) / total;
                previous = c;
                p
            })
            .collect()
    }
}

/// The training rows grouped by (discrete column, category), built once.
#[derive(Debug, Clone, Default)]
pub struct RowIndex {
    /// `starts[g]..starts[g + 1]` are the rows of hot index `g` in `rows`.
    starts: Vec<usize>,
    rows: Vec<u32>,
    total: usize,
}

impl RowIndex {
    /// Groups `total` rows by their codes: `codes[d][row]` is the category of discrete
    /// column `d`, `offsets[d]` its first hot index, `width` the conditional width.
    pub fn new(codes: &[Vec<u32>], offsets: &[usize], width: usize, total: usize) -> Self {
        let mut counts = vec![0usize; width + 1];
        for (column, &offset) in codes.iter().zip(offsets) {
            for &c in column {
                counts[offset + c as usize + 1] += 1;
            }
        }
        for g in 0..width {
            counts[g + 1] += counts[g];
        }
        let starts = counts.clone();
        let mut fill = counts;
        let mut rows = vec![0u32; starts[width]];
        for (column, &offset) in codes.iter().zip(offsets) {
            for (row, &c) in column.iter().enumerate() {
                let g = offset + c as usize;
                rows[fill[g]] = row as u32;
                fill[g] += 1;
            }
        }
        Self {
            starts,
            rows,
            total,
        }
    }

    /// The rows with hot index `g`.
    pub fn rows(&self, g: usize) -> &[u32] {
        &self.rows[self.starts[g]..self.starts[g + 1]]
    }

    /// A random row with hot index `g` (any row when none has it, or without a
    /// conditional vector: `g = None`).
    pub fn draw(&self, g: Option<u32>, rng: &mut impl Rng) -> usize {
        if let Some(g) = g {
            let rows = self.rows(g as usize);
            if !rows.is_empty() {
                return rows[rng.random_range(0..rows.len())] as usize;
            }
        }
        rng.random_range(0..self.total.max(1))
    }
}
