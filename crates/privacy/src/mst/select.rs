//! Private selection of the tree: Kruskal's maximum spanning tree where each round picks,
//! with the exponential mechanism, one of the pairs that join two different components.
//!
//! A pair's score is the L1 distance between its true two-way table and the table the
//! one-way model predicts (the product of the estimated one-way marginals times the
//! estimated total): pairs the independent model explains worst are the most worth
//! measuring. Adding or removing a row changes one cell of the true table by one, so the
//! score has sensitivity 1; a round with parameter ε picks a pair with probability
//! `∝ exp(ε·score/2)` and costs ε²/8 in zCDP (Cesar & Rogers 2021). The draw uses the
//! Gumbel-max trick: the argmax of `ε·score/2 + Gumbel(0, 1)` has exactly that law and never
//! exponentiates large scores.

use rand::Rng;
use rand::distr::Open01;
use rand_chacha::ChaCha8Rng;

use super::forest::DisjointSets;
use super::marginal::two_way_table;

/// Whether the two-way table of columns with `a` and `b` values may be built.
pub(crate) fn pair_allowed(a: usize, b: usize, max_cells: usize) -> bool {
    a.checked_mul(b).is_some_and(|cells| cells <= max_cells)
}

/// The number of edges of a spanning forest of the graph of allowed pairs: the rounds
/// selection will run. It depends only on the (public) compressed domains.
pub(crate) fn selection_rounds(domains: &[usize], max_cells: usize) -> usize {
    let mut components = DisjointSets::new(domains.len());
    let mut rounds = 0;
    for a in 0..domains.len() {
        for b in a + 1..domains.len() {
            if pair_allowed(domains[a], domains[b], max_cells) && components.union(a, b) {
                rounds += 1;
            }
        }
    }
    rounds
}

/// How selection runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SelectionSettings {
    /// The exponential mechanism's ε in each round.
    pub(crate) epsilon: f64,
    /// The number of rounds (edges to select).
    pub(crate) rounds: usize,
    /// The largest two-way table allowed.
    pub(crate) max_cells: usize,
}

/// A candidate pair and its score.
#[derive(Debug, Clone, Copy)]
struct ScoredPair {
    a: usize,
    b: usize,
    score: f64,
}

/// Selects `settings.rounds` edges, each round with the exponential mechanism.
///
/// `columns` are compressed codes over `domains`; `marginals` are the estimated one-way
/// probabilities and `total` the estimated number of rows. Returns the edges `(a, b)` with
/// `a < b`, in the order chosen.
pub(crate) fn select_tree(
    columns: &[Vec<u32>],
    domains: &[usize],
    marginals: &[Vec<f64>],
    total: f64,
    settings: SelectionSettings,
    rng: &mut ChaCha8Rng,
) -> Vec<(usize, usize)> {
    let SelectionSettings {
        epsilon,
        rounds,
        max_cells,
    } = settings;
    let d = domains.len();
    let mut pairs = Vec::new();
    for a in 0..d {
        for b in a + 1..d {
            if !pair_allowed(domains[a], domains[b], max_cells) {
                continue;
            }
            let counts = two_way_table(&columns[a], &columns[b], domains[a], domains[b]);
            let score = l1_from_independence(&counts, &marginals[a], &marginals[b], total);
            pairs.push(ScoredPair { a, b, score });
        }
    }
    let mut components = DisjointSets::new(d);
    let mut edges = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let mut best: Option<(f64, ScoredPair)> = None;
        for &pair in &pairs {
            if components.find(pair.a) == components.find(pair.b) {
                continue;
            }
            let u: f64 = rng.sample(Open01);
            let key = 0.5 * epsilon * pair.score - (-u.ln()).ln();
            if best.is_none_or(|(k, _)| key > k) {
                best = Some((key, pair));
            }
        }
        let Some((_, chosen)) = best else {
            break;
        };
        components.union(chosen.a, chosen.b);
        edges.push((chosen.a, chosen.b));
    }
    edges
}

/// `Σ |counts[x, y] − total · p(x) · q(y)|`.
fn l1_from_independence(counts: &[f64], p: &[f64], q: &[f64], total: f64) -> f64 {
    let cols = q.len();
    counts
        .iter()
        .enumerate()
        .map(|(cell, &count)| (count - total * p[cell / cols] * q[cell % cols]).abs())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rounds_follow_the_allowed_pairs() {
        assert_eq!(selection_rounds(&[3, 4, 5], 100), 2);
        assert_eq!(selection_rounds(&[3], 100), 0);
        // 50 × 50 is too big: column 2 only joins through column 0.
        assert_eq!(selection_rounds(&[2, 50, 50], 200), 2);
        assert_eq!(selection_rounds(&[20, 50, 50], 200), 0);
        assert!(!pair_allowed(usize::MAX, 2, usize::MAX));
    }

    #[test]
    fn strong_dependence_wins_at_large_epsilon() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let n = 2_000;
        let a: Vec<u32> = (0..n).map(|_| rng.random_range(0..3)).collect();
        let b = a.clone();
        let c: Vec<u32> = (0..n).map(|_| rng.random_range(0..3)).collect();
        let e: Vec<u32> = c.iter().map(|&x| (x + 1) % 3).collect();
        let columns = vec![a, b, c, e];
        let marginals = vec![vec![1.0 / 3.0; 3]; 4];
        let settings = SelectionSettings {
            epsilon: 1.0,
            rounds: 3,
            max_cells: 100,
        };
        let edges = select_tree(&columns, &[3; 4], &marginals, n as f64, settings, &mut rng);
        assert_eq!(edges.len(), 3);
        assert!(edges.contains(&(0, 1)));
        assert!(edges.contains(&(2, 3)));
        // The last edge joins the two components.
        let mut sets = DisjointSets::new(4);
        assert!(edges.iter().all(|&(x, y)| sets.union(x, y)));
    }
}
