//! The one piece of dense linear algebra the linear models need: solving a symmetric
//! positive-definite system by Cholesky factorisation.

/// Solves `a · x = b` for a symmetric positive-definite `a` (`n × n`, row-major). When the
/// factorisation meets a non-positive pivot (a singular or nearly singular `a`), a small
/// ridge proportional to the mean diagonal is added and the factorisation retried.
/// `None` when that fails too.
pub(crate) fn solve_positive_definite(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    debug_assert_eq!(a.len(), n * n);
    let mean_diagonal = (0..n).map(|i| a[i * n + i].abs()).sum::<f64>() / n.max(1) as f64;
    let mut jitter = 0.0;
    for _attempt in 0..6 {
        if let Some(factor) = cholesky(a, n, jitter) {
            return Some(substitute(&factor, n, b));
        }
        jitter = if jitter == 0.0 {
            1e-10 * mean_diagonal.max(1e-12)
        } else {
            jitter * 100.0
        };
    }
    None
}

/// The lower-triangular `l` with `l · lᵀ = a + jitter · I`, or `None` for a non-positive pivot.
fn cholesky(a: &[f64], n: usize, jitter: f64) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[i * n + j];
            if i == j {
                sum += jitter;
            }
            for k in 0..j {
                sum -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if sum.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                    return None;
                }
                l[i * n + i] = sum.sqrt();
            } else {
                l[i * n + j] = sum / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves `l · lᵀ · x = b` by forward then backward substitution.
fn substitute(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; n];
    for i in 0..n {
        let mut sum = b[i];
        for k in 0..i {
            sum -= l[i * n + k] * y[k];
        }
        y[i] = sum / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut sum = y[i];
        for k in i + 1..n {
            sum -= l[k * n + i] * x[k];
        }
        x[i] = sum / l[i * n + i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_small_system_by_hand() {
        // [[4, 2], [2, 3]] · x = [6, 5] has x = [1, 1].
        let x = solve_positive_definite(&[4.0, 2.0, 2.0, 3.0], &[6.0, 5.0]).expect("solve");
        assert!(
            (x[0] - 1.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12,
            "{x:?}"
        );
    }

    #[test]
    fn a_singular_system_gets_a_ridge() {
        // Rank one: any solution of x0 + x1 = 2 will do; the ridge picks a finite one.
        let x = solve_positive_definite(&[1.0, 1.0, 1.0, 1.0], &[2.0, 2.0]).expect("solve");
        assert!(((x[0] + x[1]) - 2.0).abs() < 1e-3, "{x:?}");
    }
}
