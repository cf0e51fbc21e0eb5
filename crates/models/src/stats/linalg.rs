//! Small dense symmetric matrices: correlation of columns and the Cholesky factor.

/// A square matrix in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct SquareMatrix {
    size: usize,
    values: Vec<f64>,
}

impl SquareMatrix {
    /// The identity of this size.
    pub fn identity(size: usize) -> Self {
        let mut values = vec![0.0; size * size];
        for i in 0..size {
            values[i * size + i] = 1.0;
        }
        Self { size, values }
    }

    /// A matrix from row-major values; `None` when the length is not a square.
    pub fn from_rows(size: usize, values: Vec<f64>) -> Option<Self> {
        (values.len() == size * size).then_some(Self { size, values })
    }

    /// Rows and columns.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Entry (i, j).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.values[i * self.size + j]
    }

    fn set(&mut self, i: usize, j: usize, v: f64) {
        self.values[i * self.size + j] = v;
    }

    /// Row-major entries.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Pearson correlation of the given columns (each the same length; NaN marks a missing
    /// value), each pair over the rows where both are present. A pair with fewer than two
    /// such rows, or with zero variance, is uncorrelated.
    pub fn correlation(columns: &[Vec<f64>]) -> Self {
        let size = columns.len();
        let mut out = Self::identity(size);
        for i in 0..size {
            for j in (i + 1)..size {
                let r = pairwise_pearson(&columns[i], &columns[j]);
                out.set(i, j, r);
                out.set(j, i, r);
            }
        }
        out
    }

    /// The lower-triangular `L` with `L Lᵀ = self`, or `None` if the matrix is not
    /// positive definite.
    pub fn cholesky(&self) -> Option<Self> {
        let n = self.size;
        let mut l = Self {
            size: n,
            values: vec![0.0; n * n],
        };
        for i in 0..n {
            for j in 0..=i {
                let mut sum = self.get(i, j);
                for k in 0..j {
                    sum -= l.get(i, k) * l.get(j, k);
                }
                if i == j {
                    if sum <= 1e-12 {
                        return None;
                    }
                    l.set(i, i, sum.sqrt());
                } else {
                    l.set(i, j, sum / l.get(j, j));
                }
            }
        }
        Some(l)
    }

    /// The correlation matrix shrunk towards the identity until it has a Cholesky factor:
    /// `(1 − λ) R + λ I` for the smallest λ in a doubling search. Returns the shrunk
    /// matrix, its factor and λ.
    pub fn shrink_to_positive_definite(&self) -> (Self, Self, f64) {
        if let Some(l) = self.cholesky() {
            return (self.clone(), l, 0.0);
        }
        let mut lambda = 1e-6;
        loop {
            let mut shrunk = self.clone();
            for i in 0..self.size {
                for j in 0..self.size {
                    let target = if i == j { 1.0 } else { 0.0 };
                    shrunk.set(i, j, (1.0 - lambda) * self.get(i, j) + lambda * target);
                }
            }
            if let Some(l) = shrunk.cholesky() {
                return (shrunk, l, lambda);
            }
            if lambda >= 1.0 {
                return (Self::identity(self.size), Self::identity(self.size), 1.0);
            }
            lambda = (lambda * 2.0).min(1.0);
        }
    }

    /// `out = self · x` for a lower-triangular `self` (only the lower triangle is read).
    pub fn lower_mul(&self, x: &[f64], out: &mut [f64]) {
        let n = self.size;
        for i in 0..n {
            let row = &self.values[i * n..i * n + i + 1];
            out[i] = row.iter().zip(&x[..=i]).map(|(a, b)| a * b).sum();
        }
    }
}

/// Pearson correlation over the rows where neither value is NaN (0 when undefined).
fn pairwise_pearson(a: &[f64], b: &[f64]) -> f64 {
    let (mut n, mut sa, mut sb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        if !x.is_nan() && !y.is_nan() {
            n += 1.0;
            sa += x;
            sb += y;
        }
    }
    if n < 2.0 {
        return 0.0;
    }
    let (ma, mb) = (sa / n, sb / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        if !x.is_nan() && !y.is_nan() {
            sab += (x - ma) * (y - mb);
            saa += (x - ma) * (x - ma);
            sbb += (y - mb) * (y - mb);
        }
    }
    if saa > 0.0 && sbb > 0.0 {
        (sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reproduces_the_matrix() {
        let m = SquareMatrix::from_rows(3, vec![4.0, 2.0, 0.6, 2.0, 2.0, 0.5, 0.6, 0.5, 3.0])
            .expect("square");
        let l = m.cholesky().expect("positive definite");
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l.get(i, k) * l.get(j, k)).sum();
                assert!((v - m.get(i, j)).abs() < 1e-12);
            }
        }
        assert_eq!(l.get(0, 0), 2.0);
        assert_eq!(l.get(1, 0), 1.0);
    }

    #[test]
    fn correlation_of_linear_columns_is_one() {
        let a = vec![1.0, 2.0, 3.0, 4.0];
        let b = vec![2.0, 4.0, 6.0, 8.0];
        let c = vec![4.0, 3.0, 2.0, 1.0];
        let k = vec![5.0; 4];
        let r = SquareMatrix::correlation(&[a, b, c, k]);
        assert!((r.get(0, 1) - 1.0).abs() < 1e-12);
        assert!((r.get(0, 2) + 1.0).abs() < 1e-12);
        assert_eq!(r.get(0, 3), 0.0);
    }

    #[test]
    fn missing_values_are_left_out_pairwise() {
        let a = vec![1.0, 2.0, f64::NAN, 4.0, 100.0];
        let b = vec![2.0, 4.0, 5.0, 8.0, f64::NAN];
        let r = SquareMatrix::correlation(&[a, b]);
        assert!((r.get(0, 1) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_singular_correlation_is_shrunk_until_it_factors() {
        let r = SquareMatrix::from_rows(2, vec![1.0, 1.0, 1.0, 1.0]).expect("square");
        assert!(r.cholesky().is_none());
        let (shrunk, l, lambda) = r.shrink_to_positive_definite();
        assert_eq!(shrunk.cholesky().as_ref(), Some(&l));
        assert!(lambda > 0.0 && lambda < 0.01, "{lambda}");
        assert!(l.get(1, 0) > 0.99);
    }
}
