//! Domain compression: the values of a column whose noisy count is too small to be told
//! from noise are merged into one value, so that two-way tables stay small and their noise
//! is not spread over cells that are empty anyway (MST, McKenna et al. 2021, §4).

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::sample::Categorical;

/// How one column's original codes map to its compressed codes and back.
///
/// Kept values get the compressed codes `0..kept.len()` in their original order; when any
/// value is rare, all rare values share the one compressed code `kept.len()`. Decoding
/// that code draws one of the merged original values in proportion to its noisy count
/// clipped at zero (uniformly when all are zero).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnCompression {
    /// The compressed code of each original code.
    encode: Vec<u32>,
    /// The original code of each kept compressed code.
    kept: Vec<u32>,
    /// The original codes merged into the last compressed code (empty when none is).
    merged: Vec<u32>,
    /// The noisy counts of `merged`, clipped at zero: the decoding weights.
    merged_weights: Vec<f64>,
}

impl ColumnCompression {
    /// Merges the values whose noisy count is below `threshold`.
    pub(crate) fn from_noisy_counts(noisy: &[f64], threshold: f64) -> Self {
        let mut encode = vec![0_u32; noisy.len()];
        let mut kept = Vec::new();
        let mut merged = Vec::new();
        let mut merged_weights = Vec::new();
        for (code, &count) in noisy.iter().enumerate() {
            if count >= threshold {
                kept.push(code as u32);
            } else {
                merged.push(code as u32);
                merged_weights.push(count.max(0.0));
            }
        }
        for (compressed, &code) in kept.iter().enumerate() {
            encode[code as usize] = compressed as u32;
        }
        let merged_code = kept.len() as u32;
        for &code in &merged {
            encode[code as usize] = merged_code;
        }
        Self {
            encode,
            kept,
            merged,
            merged_weights,
        }
    }

    /// The number of original values.
    pub fn original_domain(&self) -> usize {
        self.encode.len()
    }

    /// The number of compressed values.
    pub fn compressed_domain(&self) -> usize {
        self.kept.len() + usize::from(!self.merged.is_empty())
    }

    /// The original codes merged into one compressed value (empty when none is).
    pub fn merged(&self) -> &[u32] {
        &self.merged
    }

    /// Whether the maps are consistent with each other and with `domain` original values.
    pub(crate) fn is_consistent(&self, domain: usize) -> bool {
        if self.encode.len() != domain
            || self.kept.len() + self.merged.len() != domain
            || self.merged.len() != self.merged_weights.len()
        {
            return false;
        }
        let kept_ok = self
            .kept
            .iter()
            .enumerate()
            .all(|(c, &code)| self.encode.get(code as usize) == Some(&(c as u32)));
        let merged_code = self.kept.len() as u32;
        let merged_ok = self
            .merged
            .iter()
            .all(|&code| self.encode.get(code as usize) == Some(&merged_code));
        kept_ok && merged_ok && self.merged_weights.iter().all(|w| w.is_finite())
    }

    /// Maps a column of (validated) original codes to compressed codes.
    pub(crate) fn encode_column(&self, column: &[u32]) -> Vec<u32> {
        column
            .iter()
            .map(|&code| self.encode.get(code as usize).copied().unwrap_or(0))
            .collect()
    }

    /// The compressed noisy one-way table and the inverse variance of each of its cells:
    /// a merged cell is the sum of `merged.len()` cells of variance σ² each.
    pub(crate) fn compress_counts(&self, noisy: &[f64], sigma: f64) -> (Vec<f64>, Vec<f64>) {
        let variance = sigma * sigma;
        let mut values: Vec<f64> = self
            .kept
            .iter()
            .map(|&code| noisy.get(code as usize).copied().unwrap_or(0.0))
            .collect();
        let mut weights = vec![1.0 / variance; values.len()];
        if !self.merged.is_empty() {
            values.push(
                self.merged
                    .iter()
                    .map(|&code| noisy.get(code as usize).copied().unwrap_or(0.0))
                    .sum(),
            );
            weights.push(1.0 / (variance * self.merged.len() as f64));
        }
        (values, weights)
    }

    /// A decoder from compressed codes to original codes.
    pub(crate) fn decoder(&self) -> Decoder<'_> {
        Decoder {
            compression: self,
            merged: Categorical::new(&self.merged_weights),
        }
    }
}

/// Decodes compressed codes of one column, drawing within the merged group.
#[derive(Debug)]
pub(crate) struct Decoder<'a> {
    compression: &'a ColumnCompression,
    merged: Categorical,
}

impl Decoder<'_> {
    /// The original code of compressed code `code` (out-of-range codes decode as merged).
    pub(crate) fn decode(&self, code: usize, rng: &mut ChaCha8Rng) -> u32 {
        if let Some(&original) = self.compression.kept.get(code) {
            return original;
        }
        let index = self.merged.draw(rng);
        self.compression
            .merged
            .get(index)
            .or(self.compression.kept.last())
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rare_values_are_merged_and_decode_within_their_group() {
        let noisy = [100.0, 2.0, 50.0, -3.0, 1.0];
        let c = ColumnCompression::from_noisy_counts(&noisy, 10.0);
        assert_eq!(c.compressed_domain(), 3);
        assert_eq!(c.merged(), &[1, 3, 4]);
        assert!(c.is_consistent(5));
        assert_eq!(c.encode_column(&[0, 1, 2, 3, 4]), vec![0, 2, 1, 2, 2]);
        let (values, weights) = c.compress_counts(&noisy, 2.0);
        assert_eq!(values, vec![100.0, 50.0, 0.0]);
        assert!((weights[2] - 1.0 / 12.0).abs() < 1e-15);

        let decoder = c.decoder();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut seen = [0_usize; 5];
        for _ in 0..3_000 {
            seen[decoder.decode(2, &mut rng) as usize] += 1;
        }
        // Weights 2 : 0 : 1 (the negative count is clipped).
        assert_eq!(seen[0] + seen[2] + seen[3], 0);
        let share = seen[1] as f64 / 3_000.0;
        assert!((share - 2.0 / 3.0).abs() < 0.04, "share {share}");
        assert_eq!(decoder.decode(0, &mut rng), 0);
        assert_eq!(decoder.decode(1, &mut rng), 2);
    }

    #[test]
    fn nothing_merged_when_all_values_are_frequent() {
        let c = ColumnCompression::from_noisy_counts(&[10.0, 20.0], 3.0);
        assert_eq!(c.compressed_domain(), 2);
        assert!(c.merged().is_empty());
        let c = ColumnCompression::from_noisy_counts(&[0.0, -1.0], 3.0);
        assert_eq!(c.compressed_domain(), 1);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // All weights zero: uniform.
        let d = c.decoder();
        let ones = (0..2_000).filter(|_| d.decode(0, &mut rng) == 1).count();
        assert!((ones as f64 / 2_000.0 - 0.5).abs() < 0.05);
    }
}
