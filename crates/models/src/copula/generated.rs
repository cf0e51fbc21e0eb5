//! Columns that are generated rather than learned jointly: unique keys and free text.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray, StringBuilder};
use mirage_core::schema::PhysicalType;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::columns::{build_numeric, numeric_values};
use crate::error::{ModelError, Result};

/// The column's strings, or an error naming it when it holds something else.
pub fn string_column<'a>(column: &str, array: &'a dyn Array) -> Result<&'a StringArray> {
    array
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| ModelError::UnsupportedColumn {
            column: column.to_string(),
            message: format!("expected strings, found {}", array.data_type()),
        })
}

/// One character position of a key template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyChar {
    /// A decimal digit.
    Digit,
    /// An uppercase ASCII letter.
    Upper,
    /// A lowercase ASCII letter.
    Lower,
    /// This exact character.
    Literal(char),
}

impl KeyChar {
    fn radix(self) -> u64 {
        match self {
            KeyChar::Digit => 10,
            KeyChar::Upper | KeyChar::Lower => 26,
            KeyChar::Literal(_) => 1,
        }
    }

    fn render(self, digit: u64) -> char {
        match self {
            KeyChar::Digit => char::from(b'0' + digit as u8),
            KeyChar::Upper => char::from(b'A' + digit as u8),
            KeyChar::Lower => char::from(b'a' + digit as u8),
            KeyChar::Literal(c) => c,
        }
    }
}

/// Generates unique keys in the shape of the source's keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "generator", rename_all = "snake_case")]
pub enum KeyGenerator {
    /// Integers counting up from the source's smallest key.
    Sequence {
        /// The first key.
        start: i64,
    },
    /// Strings following the source's most common character pattern (e.g. `AB-1234`): the
    /// row's index fills the variable positions from the right, so keys are unique until
    /// the pattern's capacity is used up, then a numeric suffix keeps them unique.
    Template {
        /// The pattern.
        template: Vec<KeyChar>,
    },
}

impl KeyGenerator {
    /// Learns a key column's template: string keys by character class, others as
    /// integers.
    pub fn fit_column(column: &str, array: &dyn Array) -> Result<Self> {
        match array.as_any().downcast_ref::<StringArray>() {
            Some(strings) => Ok(Self::fit_strings(strings.iter().flatten())),
            None => Ok(Self::fit_integers(&numeric_values(column, array)?)),
        }
    }

    /// A generator that reads nothing of the source (for DP models): integers from 1, or
    /// strings `id-00000001`, `id-00000002`, ….
    pub fn fresh(physical: PhysicalType) -> Self {
        match physical {
            PhysicalType::Utf8 => {
                let mut template: Vec<KeyChar> = "id-".chars().map(KeyChar::Literal).collect();
                template.extend([KeyChar::Digit; 8]);
                KeyGenerator::Template { template }
            }
            _ => KeyGenerator::Sequence { start: 1 },
        }
    }

    /// Learns the generator from the source keys.
    pub fn fit_integers(values: &[Option<f64>]) -> Self {
        let start = values
            .iter()
            .flatten()
            .copied()
            .fold(f64::INFINITY, f64::min);
        KeyGenerator::Sequence {
            start: if start.is_finite() { start as i64 } else { 1 },
        }
    }

    /// Learns the template from string keys.
    pub fn fit_strings<'a>(values: impl Iterator<Item = &'a str>) -> Self {
        let mut shapes: HashMap<Vec<KeyChar>, usize> = HashMap::new();
        for value in values.take(5_000) {
            let shape: Vec<KeyChar> = value
                .chars()
                .map(|c| match c {
                    '0'..='9' => KeyChar::Digit,
                    'A'..='Z' => KeyChar::Upper,
                    'a'..='z' => KeyChar::Lower,
                    other => KeyChar::Literal(other),
                })
                .collect();
            *shapes.entry(shape).or_default() += 1;
        }
        let template = shapes
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map(|(shape, _)| shape)
            .filter(|shape| shape.iter().any(|c| c.radix() > 1))
            .unwrap_or_else(|| vec![KeyChar::Digit; 8]);
        KeyGenerator::Template { template }
    }

    /// The key of generated row `index`.
    pub fn integer_key(&self, index: u64) -> Option<i64> {
        match self {
            KeyGenerator::Sequence { start } => Some(start.saturating_add(index as i64)),
            KeyGenerator::Template { .. } => None,
        }
    }

    /// The keys of generated rows `first_row .. first_row + rows` as an array of `physical`
    /// type (strings for text keys, numbers otherwise).
    pub fn array(&self, physical: PhysicalType, rows: usize, first_row: u64) -> ArrayRef {
        let indices = first_row..first_row + rows as u64;
        match physical {
            PhysicalType::Utf8 => {
                let mut b = StringBuilder::with_capacity(rows, rows * 8);
                indices.for_each(|i| b.append_value(self.string_key(i)));
                Arc::new(b.finish())
            }
            _ => {
                let values: Vec<Option<f64>> = indices
                    .map(|i| self.integer_key(i).map(|k| k as f64))
                    .collect();
                build_numeric(physical, &values)
            }
        }
    }

    /// The string key of generated row `index`.
    pub fn string_key(&self, index: u64) -> String {
        match self {
            KeyGenerator::Sequence { start } => start.saturating_add(index as i64).to_string(),
            KeyGenerator::Template { template } => {
                let mut rest = index;
                let mut chars: Vec<char> = vec![' '; template.len()];
                for (slot, key_char) in template.iter().enumerate().rev() {
                    let radix = key_char.radix();
                    chars[slot] = key_char.render(rest % radix);
                    rest /= radix;
                }
                let mut key: String = chars.into_iter().collect();
                if rest > 0 {
                    key.push_str(&format!("-{rest}"));
                }
                key
            }
        }
    }
}

/// Free text as a bag of words: a vocabulary with frequencies and the distribution of
/// words per value. It keeps vocabulary and length, not meaning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextGenerator {
    /// Share of nulls.
    pub null_rate: f64,
    /// The most frequent words.
    pub words: Vec<String>,
    /// Upper ends of the words' probability intervals.
    pub cumulative: Vec<f64>,
    /// Sorted sample of words-per-value counts.
    pub lengths: Vec<u32>,
}

impl TextGenerator {
    /// Words kept in the vocabulary of a column fitted by [`Self::fit_column`].
    pub const VOCABULARY: usize = 5_000;

    /// Learns a string column's vocabulary and lengths.
    pub fn fit_column(column: &str, array: &dyn Array) -> Result<Self> {
        Ok(Self::fit(
            string_column(column, array)?.iter(),
            Self::VOCABULARY,
        ))
    }

    /// `rows` generated values.
    pub fn array(&self, rows: usize, rng: &mut impl Rng) -> ArrayRef {
        let mut builder = StringBuilder::with_capacity(rows, rows * 16);
        (0..rows).for_each(|_| builder.append_option(self.sample(rng)));
        Arc::new(builder.finish())
    }

    /// Learns vocabulary and lengths from the values (`None` = null).
    pub fn fit<'a>(values: impl Iterator<Item = Option<&'a str>>, max_words: usize) -> Self {
        let mut counts: HashMap<&str, u64> = HashMap::new();
        let mut lengths = Vec::new();
        let (mut total, mut nulls) = (0u64, 0u64);
        for value in values {
            total += 1;
            let Some(text) = value else {
                nulls += 1;
                continue;
            };
            let mut words = 0;
            for word in text.split_whitespace() {
                *counts.entry(word).or_default() += 1;
                words += 1;
            }
            if lengths.len() < 10_000 {
                lengths.push(words);
            }
        }
        let mut ranked: Vec<(&str, u64)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        ranked.truncate(max_words);
        let mass: u64 = ranked.iter().map(|(_, c)| c).sum();
        let mut acc = 0;
        let cumulative = ranked
            .iter()
            .map(|(_, c)| {
                acc += c;
                acc as f64 / mass.max(1) as f64
            })
            .collect();
        lengths.sort_unstable();
        Self {
            null_rate: if total == 0 {
                0.0
            } else {
                nulls as f64 / total as f64
            },
            words: ranked.into_iter().map(|(w, _)| w.to_string()).collect(),
            cumulative,
            lengths,
        }
    }

    /// Draws one value.
    pub fn sample(&self, rng: &mut impl Rng) -> Option<String> {
        if rng.random::<f64>() < self.null_rate || self.words.is_empty() {
            return None;
        }
        let count = if self.lengths.is_empty() {
            1
        } else {
            self.lengths[rng.random_range(0..self.lengths.len())].max(1)
        };
        let words: Vec<&str> = (0..count)
            .map(|_| {
                let u = rng.random::<f64>();
                let i = self
                    .cumulative
                    .partition_point(|&c| c <= u)
                    .min(self.words.len() - 1);
                self.words[i].as_str()
            })
            .collect();
        Some(words.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn template_keys_follow_the_source_shape_and_are_unique() {
        let generator = KeyGenerator::fit_strings(["AB-12", "CD-34", "x"].into_iter());
        let keys: Vec<String> = (0..2000).map(|i| generator.string_key(i)).collect();
        assert_eq!(keys[0], "AA-00");
        assert_eq!(keys[123], "AB-23");
        let unique: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len());
        // Past the pattern's capacity (26·26·10·10) a suffix keeps keys unique.
        assert_ne!(generator.string_key(0), generator.string_key(67_600));
    }

    #[test]
    fn integer_keys_count_up_from_the_source_minimum() {
        let generator = KeyGenerator::fit_integers(&[Some(7.0), Some(3.0), None]);
        assert_eq!(generator.integer_key(0), Some(3));
        assert_eq!(generator.integer_key(5), Some(8));
    }

    #[test]
    fn text_uses_the_source_vocabulary() {
        let text = TextGenerator::fit(
            [Some("the cat sat"), Some("the dog"), None].into_iter(),
            100,
        );
        assert!((text.null_rate - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(text.words[0], "the");
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..50 {
            if let Some(value) = text.sample(&mut rng) {
                assert!(value.split(' ').all(|w| text.words.iter().any(|k| k == w)));
            }
        }
    }
}
