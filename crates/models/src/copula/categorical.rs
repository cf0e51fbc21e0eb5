//! The marginal of a discrete column: each category, and null, owns an interval of [0, 1]
//! as wide as its frequency, most frequent first.

use rand::Rng;
use serde::{Deserialize, Serialize};

use mirage_core::Value;

/// How a discrete column is modelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalMarginal {
    /// Categories (including `Null` when the column has nulls), most frequent first.
    pub categories: Vec<Value>,
    /// Upper ends of the categories' intervals; the last is 1.
    pub cumulative: Vec<f64>,
}

impl CategoricalMarginal {
    /// Fits the marginal from category codes; returns it and each row's uniform position,
    /// drawn inside its category's interval. With a `reference` (one normal score per row,
    /// NaN = missing) the categories are ordered by their mean reference score, otherwise
    /// by frequency.
    pub fn fit(
        categories: &[Value],
        codes: &[Option<u32>],
        reference: Option<&[f64]>,
        rng: &mut impl Rng,
    ) -> Option<(Self, Vec<f64>)> {
        if codes.is_empty() {
            return None;
        }
        // Slot `categories.len()` counts nulls.
        let null_slot = categories.len();
        let mut counts = vec![0u64; categories.len() + 1];
        for code in codes {
            counts[code.map_or(null_slot, |c| c as usize)] += 1;
        }
        let mut order: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
        order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
        if let Some(reference) = reference {
            let means = slot_means(codes, null_slot, reference);
            order.sort_by(|&a, &b| means[a].total_cmp(&means[b]));
        }
        let total = codes.len() as f64;
        let mut lower = vec![0.0; counts.len()];
        let mut ordered = Vec::with_capacity(order.len());
        let mut cumulative = Vec::with_capacity(order.len());
        let mut acc = 0u64;
        for &slot in &order {
            lower[slot] = acc as f64 / total;
            acc += counts[slot];
            ordered.push(categories.get(slot).cloned().unwrap_or(Value::Null));
            cumulative.push(acc as f64 / total);
        }
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        let uniforms = codes
            .iter()
            .map(|code| {
                let slot = code.map_or(null_slot, |c| c as usize);
                let width = counts[slot] as f64 / total;
                lower[slot] + rng.random::<f64>() * width
            })
            .collect();
        Some((
            Self {
                categories: ordered,
                cumulative,
            },
            uniforms,
        ))
    }

    /// The category at position `u`.
    pub fn value_at(&self, u: f64) -> &Value {
        let index = self
            .cumulative
            .partition_point(|&c| c <= u)
            .min(self.categories.len().saturating_sub(1));
        &self.categories[index]
    }

    /// The non-null categories.
    pub fn non_null(&self) -> Vec<Value> {
        self.categories
            .iter()
            .filter(|v| !matches!(v, Value::Null))
            .cloned()
            .collect()
    }
}

/// Mean of `reference` over each category's rows (slot `null_slot` = nulls); a category
/// whose rows all lack a reference gets 0, the overall mean of normal scores.
fn slot_means(codes: &[Option<u32>], null_slot: usize, reference: &[f64]) -> Vec<f64> {
    let mut sums = vec![(0.0, 0u64); null_slot + 1];
    for (code, r) in codes.iter().zip(reference) {
        if !r.is_nan() {
            let slot = &mut sums[code.map_or(null_slot, |c| c as usize)];
            slot.0 += r;
            slot.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(sum, n)| if n == 0 { 0.0 } else { sum / n as f64 })
        .collect()
}

/// Among the candidate score columns, the one the categories explain best, by the
/// correlation ratio η² = between-category variance / total variance; `None` when no
/// candidate has η² ≥ 0.01 (then frequency order is as good as any).
pub fn strongest_reference<'a>(
    categories: &[Value],
    codes: &[Option<u32>],
    candidates: &'a [Vec<f64>],
) -> Option<&'a [f64]> {
    let null_slot = categories.len();
    candidates
        .iter()
        .map(|reference| {
            let means = slot_means(codes, null_slot, reference);
            let (mut n, mut sum, mut total_ss, mut between_ss) = (0.0, 0.0, 0.0, 0.0);
            for r in reference.iter().filter(|r| !r.is_nan()) {
                n += 1.0;
                sum += r;
            }
            let mean = if n > 0.0 { sum / n } else { 0.0 };
            for (code, r) in codes.iter().zip(reference) {
                if !r.is_nan() {
                    total_ss += (r - mean).powi(2);
                    between_ss += (means[code.map_or(null_slot, |c| c as usize)] - mean).powi(2);
                }
            }
            let eta2 = if total_ss > 0.0 {
                between_ss / total_ss
            } else {
                0.0
            };
            (reference.as_slice(), eta2)
        })
        .filter(|(_, eta2)| *eta2 >= 0.01)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(reference, _)| reference)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn intervals_follow_frequencies() {
        let categories = vec![Value::from("a"), Value::from("b")];
        let codes = vec![Some(1), Some(0), Some(1), None];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (marginal, u) =
            CategoricalMarginal::fit(&categories, &codes, None, &mut rng).expect("fits");
        // b (2 of 4) first, then a and null (1 each, a first by code order).
        assert_eq!(
            marginal.categories,
            vec![Value::from("b"), Value::from("a"), Value::Null]
        );
        assert_eq!(marginal.cumulative, vec![0.5, 0.75, 1.0]);
        assert!(u[0] < 0.5 && u[2] < 0.5);
        assert!((0.5..0.75).contains(&u[1]));
        assert!(u[3] >= 0.75);
        assert_eq!(marginal.value_at(0.0), &Value::from("b"));
        assert_eq!(marginal.value_at(0.6), &Value::from("a"));
        assert_eq!(marginal.value_at(0.99), &Value::Null);
        assert_eq!(marginal.value_at(1.0), &Value::Null);
    }

    #[test]
    fn an_associated_score_orders_the_categories() {
        let categories = vec![Value::from("hi"), Value::from("lo"), Value::from("mid")];
        let codes = vec![Some(0), Some(1), Some(2), Some(0), Some(1)];
        let score = vec![2.0, -2.0, 0.1, 1.5, -1.0];
        let noise = vec![0.3, 0.3, -0.2, -0.4, 0.0];
        let candidates = vec![noise, score];
        let reference = strongest_reference(&categories, &codes, &candidates).expect("associated");
        assert_eq!(reference, candidates[1].as_slice());
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (marginal, _) =
            CategoricalMarginal::fit(&categories, &codes, Some(reference), &mut rng).expect("fits");
        assert_eq!(
            marginal.categories,
            vec![Value::from("lo"), Value::from("mid"), Value::from("hi")]
        );
    }
}
