//! Exact sum-product belief propagation on a forest, in log space, and the tables it
//! works on. Messages go up from the leaves to each root, then down; each column's
//! marginal is the softmax of its potential plus all incoming messages, and each edge's
//! marginal combines the edge potential with the two sides' messages.

use super::forest::Forest;

/// Tables per column and per edge: potentials, gradients or marginals.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tables {
    /// One table per column.
    pub(crate) column: Vec<Vec<f64>>,
    /// One row-major table per edge, its first column as rows.
    pub(crate) edge: Vec<Vec<f64>>,
}

impl Tables {
    /// All-zero tables for columns of `domains` values and `edges`.
    pub(crate) fn zeros(domains: &[usize], edges: &[(usize, usize)]) -> Self {
        Self {
            column: domains.iter().map(|&k| vec![0.0; k]).collect(),
            edge: edges
                .iter()
                .map(|&(a, b)| vec![0.0; domains[a] * domains[b]])
                .collect(),
        }
    }

    /// Every table, columns first.
    pub(crate) fn cells(&self) -> impl Iterator<Item = &Vec<f64>> {
        self.column.iter().chain(&self.edge)
    }

    /// `self − scale · other`, table by table.
    pub(crate) fn minus_scaled(&self, other: &Self, scale: f64) -> Self {
        let combine = |a: &Vec<Vec<f64>>, b: &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
            a.iter()
                .zip(b)
                .map(|(x, y)| x.iter().zip(y).map(|(x, y)| x - scale * y).collect())
                .collect()
        };
        Self {
            column: combine(&self.column, &other.column),
            edge: combine(&self.edge, &other.edge),
        }
    }

    /// `self + scale · other`, table by table.
    pub(crate) fn plus_scaled(&self, other: &Self, scale: f64) -> Self {
        self.minus_scaled(other, -scale)
    }

    /// `Σ self · (a − b)` over all cells.
    pub(crate) fn dot_difference(&self, a: &Self, b: &Self) -> f64 {
        self.cells()
            .zip(a.cells().zip(b.cells()))
            .map(|(g, (x, y))| {
                g.iter()
                    .zip(x.iter().zip(y))
                    .map(|(g, (x, y))| g * (x - y))
                    .sum::<f64>()
            })
            .sum()
    }
}

/// The exact marginals (probabilities) of the model over `domains` with log-potentials
/// `theta` on the columns and on the `forest`'s edges.
pub(crate) fn propagate(domains: &[usize], forest: &Forest, theta: &Tables) -> Tables {
    let k = domains;
    let nodes = k.len();
    // inside[v]: θ_v plus the messages from v's children.
    let mut inside = theta.column.clone();
    let mut up: Vec<Vec<f64>> = vec![Vec::new(); nodes];
    for &v in forest.order.iter().rev() {
        let Some(link) = forest.parent[v] else {
            continue;
        };
        let (kp, kc) = (k[link.parent], k[v]);
        let table = &theta.edge[link.edge];
        let message = if link.parent_is_row {
            reduce_rows(table, kp, kc, &vec![0.0; kp], &inside[v])
        } else {
            reduce_cols(table, kc, kp, &inside[v], &vec![0.0; kp])
        };
        for (cell, m) in inside[link.parent].iter_mut().zip(&message) {
            *cell += m;
        }
        up[v] = message;
    }
    // full[v]: inside[v] plus the message from v's parent.
    let mut full = inside.clone();
    let mut edge_marginals: Vec<Vec<f64>> = vec![Vec::new(); theta.edge.len()];
    for &v in &forest.order {
        let Some(link) = forest.parent[v] else {
            continue;
        };
        let (kp, kc) = (k[link.parent], k[v]);
        let table = &theta.edge[link.edge];
        let cavity: Vec<f64> = full[link.parent]
            .iter()
            .zip(&up[v])
            .map(|(f, m)| f - m)
            .collect();
        let (down, joint) = if link.parent_is_row {
            (
                reduce_cols(table, kp, kc, &cavity, &vec![0.0; kc]),
                normalised_joint(table, kp, kc, &cavity, &inside[v]),
            )
        } else {
            (
                reduce_rows(table, kc, kp, &vec![0.0; kc], &cavity),
                normalised_joint(table, kc, kp, &inside[v], &cavity),
            )
        };
        for (cell, d) in full[v].iter_mut().zip(&down) {
            *cell += d;
        }
        edge_marginals[link.edge] = joint;
    }
    Tables {
        column: full.iter().map(|f| softmax(f)).collect(),
        edge: edge_marginals,
    }
}
/// `out[r] = log Σ_c exp(T[r, c] + row_add[r] + col_add[c])` for a row-major table.
pub(crate) fn reduce_rows(
    table: &[f64],
    rows: usize,
    cols: usize,
    row_add: &[f64],
    col_add: &[f64],
) -> Vec<f64> {
    (0..rows)
        .map(|r| {
            let row = &table[r * cols..(r + 1) * cols];
            let max = row
                .iter()
                .zip(col_add)
                .map(|(t, c)| t + c)
                .fold(f64::NEG_INFINITY, f64::max);
            if !max.is_finite() {
                return max + row_add[r];
            }
            let sum: f64 = row
                .iter()
                .zip(col_add)
                .map(|(t, c)| (t + c - max).exp())
                .sum();
            max + sum.ln() + row_add[r]
        })
        .collect()
}

/// `out[c] = log Σ_r exp(T[r, c] + row_add[r] + col_add[c])` for a row-major table.
pub(crate) fn reduce_cols(
    table: &[f64],
    rows: usize,
    cols: usize,
    row_add: &[f64],
    col_add: &[f64],
) -> Vec<f64> {
    let mut max = vec![f64::NEG_INFINITY; cols];
    for r in 0..rows {
        let row = &table[r * cols..(r + 1) * cols];
        for ((m, t), c) in max.iter_mut().zip(row).zip(col_add) {
            *m = m.max(t + row_add[r] + c);
        }
    }
    let mut sum = vec![0.0; cols];
    for r in 0..rows {
        let row = &table[r * cols..(r + 1) * cols];
        let shift = row_add[r];
        for (((s, t), c), m) in sum.iter_mut().zip(row).zip(col_add).zip(&max) {
            *s += (t + shift + c - m).exp();
        }
    }
    max.iter()
        .zip(&sum)
        .map(|(&m, &s)| if m.is_finite() { m + s.ln() } else { m })
        .collect()
}

/// The probabilities `∝ exp(T[r, c] + row_add[r] + col_add[c])`, row-major.
fn normalised_joint(
    table: &[f64],
    rows: usize,
    cols: usize,
    row_add: &[f64],
    col_add: &[f64],
) -> Vec<f64> {
    let mut joint: Vec<f64> = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let row = &table[r * cols..(r + 1) * cols];
        joint.extend(row.iter().zip(col_add).map(|(t, c)| t + row_add[r] + c));
    }
    softmax_in_place(&mut joint);
    joint
}

fn softmax(logits: &[f64]) -> Vec<f64> {
    let mut p = logits.to_vec();
    softmax_in_place(&mut p);
    p
}

fn softmax_in_place(values: &mut [f64]) {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    if sum > 0.0 && sum.is_finite() {
        for v in values.iter_mut() {
            *v /= sum;
        }
    } else {
        let uniform = 1.0 / values.len().max(1) as f64;
        values.iter_mut().for_each(|v| *v = uniform);
    }
}
