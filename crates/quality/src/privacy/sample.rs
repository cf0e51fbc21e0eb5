//! Seeded row sampling.

use rand::seq::{SliceRandom, index};
use rand_chacha::ChaCha8Rng;

/// `count` distinct rows out of `rows` (all of them when `count ≥ rows`), drawn uniformly
/// without replacement and in random order, so that any prefix is itself a uniform sample.
pub(crate) fn random_rows(rows: usize, count: usize, generator: &mut ChaCha8Rng) -> Vec<usize> {
    let mut drawn = index::sample(generator, rows, count.min(rows)).into_vec();
    drawn.shuffle(generator);
    drawn
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn draws_are_distinct_seeded_and_bounded() {
        let draw = |seed| random_rows(100, 30, &mut ChaCha8Rng::seed_from_u64(seed));
        let rows = draw(1);
        let mut sorted = rows.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 30);
        assert!(rows.iter().all(|&r| r < 100));
        assert_eq!(rows, draw(1));
        assert_eq!(
            random_rows(5, 9, &mut ChaCha8Rng::seed_from_u64(0)).len(),
            5
        );
    }
}
