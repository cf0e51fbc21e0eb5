//! Seeded row subsampling for the pair trends of large tables.

use rand::seq::index;
use rand_chacha::ChaCha8Rng;

/// The rows to keep of a table with `rows` rows: `None` (all of them) when `rows ≤
/// max_rows`, else `max_rows` distinct rows drawn uniformly without replacement, in
/// ascending order. The same generator state always gives the same rows.
pub(crate) fn subsample_rows(
    rows: usize,
    max_rows: usize,
    generator: &mut ChaCha8Rng,
) -> Option<Vec<usize>> {
    if rows <= max_rows {
        return None;
    }
    let mut kept = index::sample(generator, rows, max_rows).into_vec();
    kept.sort_unstable();
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn small_tables_are_kept_whole() {
        let mut generator = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(subsample_rows(10, 10, &mut generator), None);
    }

    #[test]
    fn subsamples_are_distinct_sorted_and_seeded() {
        let draw = |seed| {
            let mut generator = ChaCha8Rng::seed_from_u64(seed);
            subsample_rows(1_000, 100, &mut generator).expect("subsampled")
        };
        let rows = draw(7);
        assert_eq!(rows.len(), 100);
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
        assert!(rows.iter().all(|&r| r < 1_000));
        assert_eq!(rows, draw(7));
        assert_ne!(rows, draw(8));
    }
}
