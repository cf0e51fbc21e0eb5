//! Exact count tables of one or two columns and the Gaussian mechanism that releases them.
//!
//! Adding or removing one row changes exactly one cell of a count table by one, so every
//! table has L2 sensitivity 1 and Gaussian noise of standard deviation σ costs
//! ρ = 1/(2σ²) in zero-concentrated DP.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// The noise standard deviation whose Gaussian mechanism on a sensitivity-1 count table
/// costs `rho` (zCDP).
pub(crate) fn sigma_for_rho(rho: f64) -> f64 {
    (1.0 / (2.0 * rho)).sqrt()
}

/// The counts of each code of one (already validated) column.
pub(crate) fn one_way_counts(column: &[u32], domain: usize) -> Vec<f64> {
    let mut counts = vec![0.0; domain];
    for &code in column {
        if let Some(cell) = counts.get_mut(code as usize) {
            *cell += 1.0;
        }
    }
    counts
}

/// The counts of each pair of codes of two (already validated) columns, row-major:
/// cell `a * cols + b` of a `rows × cols` table.
pub(crate) fn two_way_table(first: &[u32], second: &[u32], rows: usize, cols: usize) -> Vec<f64> {
    let mut counts = vec![0.0; rows * cols];
    for (&a, &b) in first.iter().zip(second) {
        let (a, b) = (a as usize, b as usize);
        debug_assert!(a < rows && b < cols);
        if let Some(cell) = counts.get_mut(a * cols + b) {
            *cell += 1.0;
        }
    }
    counts
}

/// Adds independent N(0, σ²) noise to every cell.
pub(crate) fn add_gaussian_noise(counts: &mut [f64], sigma: f64, rng: &mut ChaCha8Rng) {
    for cell in counts {
        let z: f64 = rng.sample(StandardNormal);
        *cell += sigma * z;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn counts_tables() {
        let a = [0, 1, 1, 2];
        let b = [1, 0, 0, 1];
        assert_eq!(one_way_counts(&a, 4), vec![1.0, 2.0, 1.0, 0.0]);
        let t = two_way_table(&a, &b, 4, 2);
        assert_eq!(t, vec![0.0, 1.0, 2.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn noise_has_the_requested_scale() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut cells = vec![0.0; 20_000];
        add_gaussian_noise(&mut cells, 2.0, &mut rng);
        let var = cells.iter().map(|x| x * x).sum::<f64>() / cells.len() as f64;
        assert!((var - 4.0).abs() < 0.2, "variance {var}");
        assert!((sigma_for_rho(0.5) - 1.0).abs() < 1e-15);
    }
}
