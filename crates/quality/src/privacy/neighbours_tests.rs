use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::privacy::rows::{NULL_NUMBER, row_distance};

/// Rows with few distinct values (many ties), nulls, out-of-range numbers and labels.
fn random_matrix(rows: usize, generator: &mut ChaCha8Rng) -> RowMatrix {
    let mut values = Vec::new();
    for _ in 0..rows {
        // A number on a coarse grid (ties), with nulls.
        values.push(if generator.random_bool(0.1) {
            NULL_NUMBER
        } else {
            f64::from(generator.random_range(0..5u8)) / 4.0
        });
        // A label with three codes and null (code 0).
        values.push(f64::from(generator.random_range(0..4u8)));
        // A fine number, sometimes beyond the training range.
        values.push(generator.random_range(-0.5..1.5));
        // A boolean.
        values.push(f64::from(generator.random_range(1..3u8)));
    }
    RowMatrix::new(4, values).expect("matrix")
}

/// Every pair compared, ties broken by the lower index.
fn brute_force(queries: &RowMatrix, references: &RowMatrix, k: usize) -> Vec<Vec<(f64, u32)>> {
    (0..queries.rows())
        .map(|q| {
            let mut all: Vec<(f64, u32)> = (0..references.rows())
                .map(|r| (row_distance(queries.row(q), references.row(r)), r as u32))
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            all.truncate(k);
            all
        })
        .collect()
}

#[test]
fn equals_brute_force_bit_for_bit() {
    let mut generator = ChaCha8Rng::seed_from_u64(11);
    for (queries, references) in [(300, 1), (300, 7), (500, 333), (1000, 2000)] {
        let queries = random_matrix(queries, &mut generator);
        let references = random_matrix(references, &mut generator);
        for k in [1, 2, 5] {
            if references.rows() < k {
                continue;
            }
            let found = nearest_neighbours(&queries, &references, k).expect("search");
            let expected = brute_force(&queries, &references, k);
            for (q, want) in expected.iter().enumerate() {
                let got: Vec<(f64, u32)> = found
                    .distances(q)
                    .iter()
                    .copied()
                    .zip(found.indices(q).iter().copied())
                    .collect();
                assert_eq!(&got, want, "query {q}, k {k}, {} refs", references.rows());
            }
        }
    }
}

/// Rows around a few centres, so that leaf boxes separate and pruning cuts in.
fn clustered_matrix(rows: usize, generator: &mut ChaCha8Rng) -> RowMatrix {
    let mut values = Vec::new();
    for _ in 0..rows {
        let centre = f64::from(generator.random_range(0..6u8));
        for column in 0..6 {
            values.push(if column % 2 == 0 {
                (centre / 6.0 + generator.random_range(0.0..0.05)).min(1.0)
            } else if generator.random_bool(0.8) {
                centre + 1.0
            } else {
                f64::from(generator.random_range(1..8u8))
            });
        }
    }
    RowMatrix::new(6, values).expect("matrix")
}

#[test]
fn equals_brute_force_on_clustered_rows() {
    let mut generator = ChaCha8Rng::seed_from_u64(5);
    let queries = clustered_matrix(700, &mut generator);
    let references = clustered_matrix(3001, &mut generator);
    for k in [1, 2] {
        let found = nearest_neighbours(&queries, &references, k).expect("search");
        for (q, want) in brute_force(&queries, &references, k).iter().enumerate() {
            let got: Vec<(f64, u32)> = found
                .distances(q)
                .iter()
                .copied()
                .zip(found.indices(q).iter().copied())
                .collect();
            assert_eq!(&got, want, "query {q}, k {k}");
        }
    }
}

#[test]
fn a_copy_is_at_distance_zero() {
    let mut generator = ChaCha8Rng::seed_from_u64(3);
    let references = random_matrix(500, &mut generator);
    let found = nearest_neighbours(&references, &references, 1).expect("search");
    assert!(found.nearest_distances().iter().all(|&d| d == 0.0));
}

#[test]
fn bad_searches_are_refused() {
    let two = RowMatrix::new(2, vec![0.0; 4]).expect("matrix");
    let three = RowMatrix::new(3, vec![0.0; 6]).expect("matrix");
    assert!(nearest_neighbours(&two, &three, 1).is_err());
    assert!(nearest_neighbours(&two, &two, 0).is_err());
    assert!(nearest_neighbours(&two, &two, 3).is_err());
    let none = RowMatrix::new(2, vec![]).expect("matrix");
    assert!(
        nearest_neighbours(&none, &two, 1)
            .expect("empty")
            .is_empty()
    );
}
