//! Strength of association in the real data, used to tell which column pairs carry a
//! trend worth scoring (SDMetrics ≥ 0.17 averages Column Pair Trends over those pairs only).

use std::collections::{BTreeMap, HashMap};

/// |ρ| above which a numeric pair counts as associated (SDMetrics' default).
pub const CORRELATION_THRESHOLD: f64 = 0.5;
/// Cramér's V above which a contingency pair counts as associated (SDMetrics' default).
pub const ASSOCIATION_THRESHOLD: f64 = 0.3;

/// Cramér's V of two code columns: `√(χ² / (n · (min(r, c) − 1)))`, where χ² compares
/// each observed cell count with `row total · column total / n`, and r and c count the
/// categories that occur. `None` when either column has a single category (V is undefined).
pub fn cramers_v(a: &[u32], b: &[u32]) -> Option<f64> {
    let n = a.len().min(b.len());
    if n == 0 {
        return None;
    }
    // Ordered, so the floating-point sum below is the same on every run.
    let mut cells: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    let mut rows: HashMap<u32, u64> = HashMap::new();
    let mut columns: HashMap<u32, u64> = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *cells.entry((x, y)).or_default() += 1;
        *rows.entry(x).or_default() += 1;
        *columns.entry(y).or_default() += 1;
    }
    let k = rows.len().min(columns.len());
    if k < 2 {
        return None;
    }
    let n = n as f64;
    // χ² = Σ O²/E − n, summed over observed cells only (unobserved cells add E − 2·0 + 0,
    // which the −n term accounts for).
    let mut sum = 0.0;
    for (&(x, y), &observed) in &cells {
        let expected = rows[&x] as f64 * columns[&y] as f64 / n;
        sum += (observed as f64).powi(2) / expected;
    }
    let chi2 = (sum - n).max(0.0);
    Some((chi2 / (n * (k as f64 - 1.0))).sqrt().min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_dependence_is_one_and_independence_is_zero() {
        let v = cramers_v(&[0, 0, 1, 1], &[5, 5, 7, 7]).expect("defined");
        assert!((v - 1.0).abs() < 1e-12);
        let v = cramers_v(&[0, 0, 1, 1], &[5, 7, 5, 7]).expect("defined");
        assert!(v.abs() < 1e-12);
        assert_eq!(cramers_v(&[0, 0], &[1, 2]), None);
    }

    #[test]
    fn a_hand_computed_table() {
        // 2×2 table [[3, 1], [1, 3]]: χ² = 2, n = 8, V = √(2 / 8) = 0.5.
        let a = [0, 0, 0, 0, 1, 1, 1, 1];
        let b = [0, 0, 0, 1, 1, 1, 1, 0];
        let v = cramers_v(&a, &b).expect("defined");
        assert!((v - 0.5).abs() < 1e-12, "{v}");
    }
}
