//! Drawing rows from the tree model: each tree's root from its one-way marginal, then
//! every other column, parents first, from its conditional given the parent's value
//! (the edge marginal's row or column, normalised).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::forest::Forest;

/// A categorical distribution drawn by inverse CDF.
#[derive(Debug, Clone)]
pub(crate) struct Categorical {
    cdf: Vec<f64>,
}

impl Categorical {
    /// The distribution proportional to `weights`; negative or non-finite weights count as
    /// zero, and all-zero weights give the uniform distribution.
    pub(crate) fn new(weights: &[f64]) -> Self {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = weights
            .iter()
            .map(|&w| {
                if w.is_finite() && w > 0.0 {
                    total += w;
                }
                total
            })
            .collect();
        if !(total > 0.0 && total.is_finite()) {
            cdf = (1..=weights.len()).map(|i| i as f64).collect();
        }
        Self { cdf }
    }

    /// A draw in `0..weights.len()` (0 for an empty distribution).
    pub(crate) fn draw(&self, rng: &mut ChaCha8Rng) -> usize {
        let Some(&total) = self.cdf.last() else {
            return 0;
        };
        let u = rng.random::<f64>() * total;
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
    }
}

/// Draws `rows` rows of compressed codes, column-major. Tables whose size does not match
/// the domains are ignored (the column is then drawn independently, or uniformly), so a
/// hand-edited model degrades instead of panicking.
pub(crate) fn sample_compressed(
    domains: &[usize],
    edges: &[(usize, usize)],
    one_way: &[Vec<f64>],
    two_way: &[Vec<f64>],
    rows: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<u32>> {
    let usable: Vec<(usize, usize)> = edges
        .iter()
        .enumerate()
        .map(|(index, &(a, b))| {
            let size_ok = match (domains.get(a), domains.get(b), two_way.get(index)) {
                (Some(&ka), Some(&kb), Some(table)) => table.len() == ka * kb,
                _ => false,
            };
            if size_ok {
                (a, b)
            } else {
                (usize::MAX, usize::MAX)
            }
        })
        .collect();
    let (forest, _) = Forest::build(domains.len(), &usable);
    let mut columns: Vec<Vec<u32>> = vec![Vec::new(); domains.len()];
    for &node in &forest.order {
        let domain = domains[node];
        let Some(link) = forest.parent[node] else {
            let marginal = match one_way.get(node) {
                Some(p) if p.len() == domain => Categorical::new(p),
                _ => Categorical::new(&vec![1.0; domain]),
            };
            columns[node] = (0..rows).map(|_| marginal.draw(rng) as u32).collect();
            continue;
        };
        let parent_domain = domains[link.parent];
        let table = &two_way[link.edge];
        let conditionals: Vec<Categorical> = (0..parent_domain)
            .map(|value| {
                let weights: Vec<f64> = if link.parent_is_row {
                    table[value * domain..(value + 1) * domain].to_vec()
                } else {
                    (0..domain)
                        .map(|child| table[child * parent_domain + value])
                        .collect()
                };
                Categorical::new(&weights)
            })
            .collect();
        let parent_column = std::mem::take(&mut columns[link.parent]);
        columns[node] = parent_column
            .iter()
            .map(|&value| {
                conditionals
                    .get(value as usize)
                    .map_or(0, |conditional| conditional.draw(rng)) as u32
            })
            .collect();
        columns[link.parent] = parent_column;
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn categorical_edge_cases() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let c = Categorical::new(&[0.0, f64::NAN, 3.0, -1.0]);
        assert!((0..100).all(|_| c.draw(&mut rng) == 2));
        assert_eq!(Categorical::new(&[]).draw(&mut rng), 0);
        let u = Categorical::new(&[0.0, 0.0, 0.0]);
        assert!((0..100).all(|_| u.draw(&mut rng) < 3));
    }

    #[test]
    fn conditionals_follow_the_edge_table() {
        // Column 1 is the parent's row axis for edge (1, 0): P(0 = 1 | 1 = v) is 0.8 when v = 0.
        let domains = [2, 2];
        let edges = [(1, 0)];
        let one_way = vec![vec![0.5, 0.5], vec![0.5, 0.5]];
        let two_way = vec![vec![0.1, 0.4, 0.4, 0.1]];
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let cols = sample_compressed(&domains, &edges, &one_way, &two_way, 20_000, &mut rng);
        let (mut same, mut zero) = (0, 0);
        for (&a, &b) in cols[0].iter().zip(&cols[1]) {
            same += usize::from(a == b);
            zero += usize::from(a == 0);
        }
        assert!((same as f64 / 20_000.0 - 0.2).abs() < 0.015);
        assert!((zero as f64 / 20_000.0 - 0.5).abs() < 0.015);
        // A table of the wrong size is ignored rather than indexed.
        let bad = vec![vec![1.0]];
        let cols = sample_compressed(&domains, &edges, &one_way, &bad, 10, &mut rng);
        assert!(
            cols.iter()
                .all(|c| c.len() == 10 && c.iter().all(|&v| v < 2))
        );
    }
}
