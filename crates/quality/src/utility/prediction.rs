//! What a fitted model says about test rows, and the target it is compared with.

/// A model's output for every test row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Prediction {
    /// Class probabilities, `values[row * classes + class]`, each row summing to 1.
    Probabilities {
        /// Classes.
        classes: usize,
        /// The probabilities, row by row.
        values: Vec<f64>,
    },
    /// Predicted numbers, one per row.
    Values(Vec<f64>),
}

impl Prediction {
    /// The most probable class of every row (the first one on ties); empty for numbers.
    pub fn classes(&self) -> Vec<usize> {
        match self {
            Prediction::Probabilities { classes, values } => values
                .chunks_exact(*classes)
                .map(|row| {
                    let mut best = 0;
                    for (class, &p) in row.iter().enumerate() {
                        if p > row[best] {
                            best = class;
                        }
                    }
                    best
                })
                .collect(),
            Prediction::Values(_) => Vec::new(),
        }
    }
}

/// The logistic function, without overflow for large |x|.
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Turns one row of scores into probabilities in place (max subtracted first).
pub(crate) fn softmax_in_place(row: &mut [f64]) {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
}

/// Threads worth using for model fitting.
pub(crate) fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}
