//! Categorical and boolean columns: a one-hot over the categories (null is a category of
//! its own), or for high-cardinality columns the category's frequency rank written in
//! base-B digits, each digit a softmax group of width B, so the width grows with log N.

use std::borrow::Cow;
use std::collections::HashMap;

use arrow::array::Array;
use mirage_core::Value;
use serde::{Deserialize, Serialize};

use super::Activation;
use crate::columns::encode_categories;
use crate::error::Result;
use crate::nn::layers::argmax;

/// How the categories are laid out in the encoded row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "layout", rename_all = "snake_case")]
pub enum CategoryLayout {
    /// One softmax group with one slot per category.
    OneHot,
    /// `digits` softmax groups of width `base`: the rank's digits, most significant first.
    Digits {
        /// The base.
        base: usize,
        /// How many digits.
        digits: usize,
    },
}

/// The fitted encoding of one discrete column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscreteEncoding {
    /// The categories, most frequent first (ties in first-seen order); `Value::Null` is
    /// one of them when the column had nulls.
    pub categories: Vec<Value>,
    /// The layout.
    pub layout: CategoryLayout,
    /// For a DP fit: the index of the OTHER slot that values outside `categories` (and
    /// nulls, when there is no null category) encode as. `None`: such values take the
    /// most frequent category (index 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<u32>,
}

/// A value's key for matching categories; nulls are matched separately.
fn key(value: &Value) -> Cow<'_, str> {
    match value {
        Value::Str(s) => Cow::Borrowed(s.as_str()),
        other => Cow::Owned(other.to_string()),
    }
}

impl DiscreteEncoding {
    /// Fits the encoding; also returns each category's training count and each row's
    /// category index. `compact` forces the digit layout.
    pub(super) fn fit(
        column: &str,
        array: &dyn Array,
        compact: bool,
        threshold: usize,
        base: usize,
    ) -> Result<(Self, Vec<u64>, Vec<u32>)> {
        let (seen, codes) = encode_categories(column, array)?;
        // Slot `seen.len()` counts the nulls.
        let mut counts = vec![0u64; seen.len() + 1];
        for code in &codes {
            counts[code.map_or(seen.len(), |c| c as usize)] += 1;
        }
        let mut order: Vec<usize> = (0..=seen.len()).filter(|&i| counts[i] > 0).collect();
        order.sort_by(|a, b| counts[*b].cmp(&counts[*a]));
        let mut rank = vec![0u32; seen.len() + 1];
        for (position, &i) in order.iter().enumerate() {
            rank[i] = position as u32;
        }
        let frequencies: Vec<u64> = order.iter().map(|&i| counts[i]).collect();
        let mut seen: Vec<Option<Value>> = seen.into_iter().map(Some).collect();
        let categories: Vec<Value> = order
            .iter()
            .map(|&i| {
                seen.get_mut(i)
                    .and_then(Option::take)
                    .unwrap_or(Value::Null)
            })
            .collect();
        let distinct = categories.iter().filter(|v| **v != Value::Null).count();
        let layout = if compact || distinct > threshold {
            CategoryLayout::Digits {
                base,
                digits: digits_for(categories.len(), base),
            }
        } else {
            CategoryLayout::OneHot
        };
        let null_code = rank[rank.len() - 1];
        let rows = codes
            .iter()
            .map(|c| c.map_or(null_code, |c| rank[c as usize]))
            .collect();
        Ok((
            Self {
                categories,
                layout,
                other: None,
            },
            frequencies,
            rows,
        ))
    }

    /// Each row's category index for another table's column. Values never seen while
    /// fitting get the OTHER slot of a DP fit, else the most frequent category (index 0).
    pub(super) fn codes(&self, column: &str, array: &dyn Array) -> Result<Vec<u32>> {
        let (seen, codes) = encode_categories(column, array)?;
        let null_index = self.categories.iter().position(|v| *v == Value::Null);
        let index: HashMap<Cow<'_, str>, u32> = self
            .categories
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != Value::Null)
            .map(|(i, v)| (key(v), i as u32))
            .collect();
        let unknown = self.other.unwrap_or(0);
        let mapped: Vec<u32> = seen
            .iter()
            .map(|v| index.get(&key(v)).copied().unwrap_or(unknown))
            .collect();
        let null_code = null_index.map_or(unknown, |i| i as u32);
        Ok(codes
            .into_iter()
            .map(|c| c.map_or(null_code, |c| mapped[c as usize]))
            .collect())
    }

    /// The widths and activations of the column's spans, in order.
    pub(super) fn spans(&self) -> Vec<(usize, Activation)> {
        match self.layout {
            CategoryLayout::OneHot => vec![(self.categories.len(), Activation::Softmax)],
            CategoryLayout::Digits { base, digits } => vec![(base, Activation::Softmax); digits],
        }
    }

    /// The encoded width.
    pub(super) fn width(&self) -> usize {
        match self.layout {
            CategoryLayout::OneHot => self.categories.len(),
            CategoryLayout::Digits { base, digits } => base * digits,
        }
    }

    /// Writes category `code` into `out` (the column's slice of a zeroed row).
    #[inline]
    pub(super) fn encode(&self, code: u32, out: &mut [f32]) {
        match self.layout {
            CategoryLayout::OneHot => out[code as usize] = 1.0,
            CategoryLayout::Digits { base, digits } => {
                let mut rest = code as usize;
                for group in (0..digits).rev() {
                    out[group * base + rest % base] = 1.0;
                    rest /= base;
                }
            }
        }
    }

    /// The category index of the column's slice of an output row (argmax per group). A
    /// digit code past the last category wraps around (modulo the count).
    pub(super) fn decode(&self, row: &[f32]) -> usize {
        match self.layout {
            CategoryLayout::OneHot => argmax(row),
            CategoryLayout::Digits { base, digits } => {
                let rank = (0..digits).fold(0u64, |acc, group| {
                    acc * base as u64 + argmax(&row[group * base..(group + 1) * base]) as u64
                });
                (rank % self.categories.len() as u64) as usize
            }
        }
    }

    /// The non-null categories.
    pub(super) fn non_null(&self) -> Vec<Value> {
        self.categories
            .iter()
            .filter(|v| **v != Value::Null)
            .cloned()
            .collect()
    }
}

/// The fewest base-`base` digits that can write every rank below `count` (at least one).
pub(super) fn digits_for(count: usize, base: usize) -> usize {
    let mut digits = 1;
    let mut capacity = base;
    while capacity < count {
        digits += 1;
        capacity = capacity.saturating_mul(base);
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    #[test]
    fn digit_counts() {
        assert_eq!(digits_for(1, 16), 1);
        assert_eq!(digits_for(16, 16), 1);
        assert_eq!(digits_for(17, 16), 2);
        assert_eq!(digits_for(100_000, 16), 5);
        assert_eq!(digits_for(300_000, 16), 5);
    }

    #[test]
    fn categories_are_ranked_by_frequency_with_null_as_a_category() {
        let array = StringArray::from(vec![Some("b"), None, Some("a"), Some("a"), None, None]);
        let (encoding, frequencies, codes) =
            DiscreteEncoding::fit("c", &array, false, 500, 16).expect("strings");
        assert_eq!(
            encoding.categories,
            vec![Value::Null, Value::from("a"), Value::from("b")]
        );
        assert_eq!(frequencies, vec![3, 2, 1]);
        assert_eq!(codes, vec![2, 0, 1, 1, 0, 0]);
        assert_eq!(encoding.layout, CategoryLayout::OneHot);
        let other = StringArray::from(vec![Some("a"), Some("zzz"), None]);
        assert_eq!(encoding.codes("c", &other).expect("codes"), vec![1, 0, 0]);
    }

    #[test]
    fn digits_round_trip_and_wrap_out_of_range_codes() {
        let values: Vec<String> = (0..40).map(|i| format!("v{i}")).collect();
        let array = StringArray::from(values.iter().map(String::as_str).collect::<Vec<_>>());
        let (encoding, _, codes) =
            DiscreteEncoding::fit("c", &array, false, 10, 4).expect("strings");
        assert_eq!(
            encoding.layout,
            CategoryLayout::Digits { base: 4, digits: 3 }
        );
        for &code in &codes {
            let mut row = vec![0.0; encoding.width()];
            encoding.encode(code, &mut row);
            assert_eq!(encoding.decode(&row), code as usize);
        }
        // Rank 63 (digits 3,3,3) is past the 40 categories: it wraps to 63 mod 40.
        let mut row = vec![0.0; 12];
        encoding.encode(63, &mut row);
        assert_eq!(encoding.decode(&row), 23);
    }
}
