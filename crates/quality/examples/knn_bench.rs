//! Times the exact nearest-neighbour search of the privacy metrics on 100,000 queries ×
//! 100,000 references × 15 columns (6 numeric, 9 categorical, encoded as the privacy
//! module encodes them).
//!
//! `cargo run --release -p mirage-quality --example knn_bench [rows]`
//!
//! Two data sets: "clustered" rows drawn around 200 latent profiles (the shape of real
//! tables such as Adult: a row's columns depend on each other), and "independent" rows
//! whose 15 columns are drawn independently (the worst case for pruning: every row is
//! about as far from every other).
//!
//! Measured on the 2-core development machine (AMD EPYC, baseline x86-64 code, i.e. SSE2;
//! other builds were running, about 1.5 cores free), k = 1 and 2:
//!
//! | data        | 100k × 100k × 15 |
//! |-------------|------------------|
//! | clustered   | 4.5 – 6.2 s      |
//! | independent | 14 – 28 s        |
//!
//! Brute force would be 10¹⁰ row pairs; the leaf bounding boxes and early abandoning cut
//! that to the equivalent of 0.35 – 2.2·10⁹ pairs per second.

use std::time::Instant;

use mirage_quality::privacy::rows::NULL_NUMBER;
use mirage_quality::privacy::{RowMatrix, nearest_neighbours};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const NUMERIC: usize = 6;
/// Levels of each categorical column.
const LEVELS: [u32; 9] = [2, 3, 5, 7, 8, 9, 14, 16, 41];
const PROFILES: usize = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = match std::env::args().nth(1) {
        Some(text) => text.parse()?,
        None => 100_000,
    };
    let columns = NUMERIC + LEVELS.len();
    println!(
        "{rows} queries x {rows} references x {columns} columns, {} threads",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    for (name, clustered) in [("clustered", true), ("independent", false)] {
        let mut generator = ChaCha8Rng::seed_from_u64(42);
        let profiles = profiles(&mut generator);
        let references = table(rows, clustered, &profiles, &mut generator)?;
        let queries = table(rows, clustered, &profiles, &mut generator)?;
        for k in [1, 2] {
            let started = Instant::now();
            let found = nearest_neighbours(&queries, &references, k)?;
            let seconds = started.elapsed().as_secs_f64();
            let mean = found.nearest_distances().iter().sum::<f64>() / found.len() as f64;
            println!(
                "{name:>11} k={k}: {seconds:6.2} s  ({:.2e} row pairs/s brute-force equivalent, \
                 mean nearest distance {mean:.4})",
                (rows * rows) as f64 / seconds
            );
        }
    }
    Ok(())
}

/// Latent profiles: a centre for each number and a favourite level for each label.
fn profiles(generator: &mut ChaCha8Rng) -> Vec<(Vec<f64>, Vec<u32>)> {
    (0..PROFILES)
        .map(|_| {
            let centres = (0..NUMERIC).map(|_| generator.random::<f64>()).collect();
            let favourites = LEVELS
                .iter()
                .map(|&l| generator.random_range(1..=l))
                .collect();
            (centres, favourites)
        })
        .collect()
}

/// Encoded rows, numeric columns first (they differ most), then labels by decreasing
/// number of levels.
fn table(
    rows: usize,
    clustered: bool,
    profiles: &[(Vec<f64>, Vec<u32>)],
    generator: &mut ChaCha8Rng,
) -> Result<RowMatrix, Box<dyn std::error::Error>> {
    let mut values = Vec::with_capacity(rows * (NUMERIC + LEVELS.len()));
    for _ in 0..rows {
        let (centres, favourites) = &profiles[generator.random_range(0..profiles.len())];
        for &centre in centres {
            let value = if !clustered {
                generator.random::<f64>()
            } else if generator.random_bool(0.02) {
                NULL_NUMBER
            } else {
                // A spread of about 0.1 around the centre (sum of uniforms).
                let noise: f64 = (0..4).map(|_| generator.random::<f64>() - 0.5).sum();
                (centre + 0.1 * noise).clamp(0.0, 1.0)
            };
            values.push(value);
        }
        for (&levels, &favourite) in LEVELS.iter().zip(favourites).rev() {
            let level = if clustered && generator.random_bool(0.7) {
                favourite
            } else {
                generator.random_range(1..=levels)
            };
            values.push(f64::from(level));
        }
    }
    Ok(RowMatrix::new(NUMERIC + LEVELS.len(), values)?)
}
