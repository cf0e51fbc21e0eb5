//! Columns as tokens.
//!
//! Every modelled column becomes one discrete sub-column of tokens:
//! - discrete columns (categorical, boolean, constant, high-cardinality): one token per
//!   category; categories seen fewer than max(`rare_min_count`, 0.0005·n) times, or beyond
//!   the `max_categories` most frequent, share one `<rare>` token that decodes to one of
//!   them drawn by frequency (so rare values neither vanish nor leak one by one);
//! - numbers and datetimes (epoch milliseconds): with at most `max_exact_values` distinct
//!   values, one token per value (exact round trip); otherwise every value holding at
//!   least 1/`bins` of the rows keeps its own token (point masses such as a capital gain of
//!   0) and the rest fall into quantile bins of the remaining values, decoded uniformly
//!   inside the bin and rounded to the column's precision (its decimal quantum, 1 for
//!   integers, the day/hour/minute/second granularity of datetimes), inside the source's
//!   [min, max];
//! - nulls: a token of their own when the source has nulls.
//!
//! A DP fit builds its encoders from DP statistics instead ([`super::dp`]): the DP
//! category set plus an [`Token::Other`] token for every value outside it, and numeric
//! tokens from the DP quantile grid with values capped to its ends (`private` encoders).

use std::collections::HashMap;

use mirage_core::{Condition, ConditionOp, Value};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::copula::numeric::{datetime_quantum, decimal_quantum};

/// One token of a column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "token", rename_all = "snake_case")]
pub enum Token {
    /// The null value.
    Null,
    /// A category.
    Category {
        /// The value.
        value: Value,
    },
    /// The pooled rare categories.
    Rare,
    /// One exact number.
    Number {
        /// The value.
        value: f64,
    },
    /// Numbers in `[low, high]`.
    Bin {
        /// Lower edge.
        low: f64,
        /// Upper edge.
        high: f64,
    },
    /// Every value outside a DP category set; decodes as `value` (the OTHER label of
    /// string columns; otherwise null, or the largest category where nulls are not
    /// allowed).
    Other {
        /// What the token decodes to.
        value: Value,
    },
}

/// How a numeric column's values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NumericShape {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Values are multiples of this.
    pub quantum: Option<f64>,
}

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncodingOptions {
    /// Categories seen fewer times are pooled.
    pub rare_min_count: u64,
    /// Categories kept individually at most.
    pub max_categories: usize,
    /// Numbers with at most this many distinct values get a token per value.
    pub max_exact_values: usize,
    /// Tokens of a binned numeric column.
    pub bins: usize,
}

/// A column's tokens and how to map values to them and back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenEncoder {
    /// The tokens; a token's index is its id.
    pub tokens: Vec<Token>,
    /// The pooled categories with their counts (empty without a rare token).
    pub rare: Vec<(Value, u64)>,
    /// Set for numeric columns.
    pub numeric: Option<NumericShape>,
    /// Built from DP statistics: numbers are capped to the shape's range before encoding
    /// and a value outside the category set encodes as the [`Token::Other`] token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

fn key(value: &Value) -> String {
    value.to_string()
}

impl TokenEncoder {
    pub(super) fn build(
        tokens: Vec<Token>,
        rare: Vec<(Value, u64)>,
        numeric: Option<NumericShape>,
    ) -> Self {
        let mut encoder = Self {
            tokens,
            rare,
            numeric,
            private: false,
            index: HashMap::new(),
        };
        encoder.rebuild_index();
        encoder
    }

    /// Rebuilds the lookup table (after deserialising).
    pub fn rebuild_index(&mut self) {
        let mut index = HashMap::new();
        for (id, token) in self.tokens.iter().enumerate() {
            match token {
                Token::Category { value } => {
                    index.insert(key(value), id as u32);
                }
                Token::Number { value } => {
                    index.insert(key(&Value::Float(value + 0.0)), id as u32);
                }
                _ => {}
            }
        }
        self.index = index;
    }

    /// Tokens in the column.
    pub fn cardinality(&self) -> usize {
        self.tokens.len()
    }

    /// The null token, when the column has one.
    pub fn null_token(&self) -> Option<u32> {
        self.tokens
            .iter()
            .position(|t| matches!(t, Token::Null))
            .map(|i| i as u32)
    }

    /// The token of a category or exact number, by its spelling.
    pub(super) fn lookup(&self, value: &Value) -> Option<u32> {
        self.index.get(&key(value)).copied()
    }

    /// The token of values outside a DP category set, when the column has one.
    pub fn other_token(&self) -> Option<u32> {
        self.tokens
            .iter()
            .position(|t| matches!(t, Token::Other { .. }))
            .map(|i| i as u32)
    }

    fn rare_token(&self) -> Option<u32> {
        self.tokens
            .iter()
            .position(|t| matches!(t, Token::Rare))
            .map(|i| i as u32)
    }

    /// Learns a discrete column from its values.
    pub fn fit_discrete(values: &[Value], options: &EncodingOptions) -> Self {
        let mut counts: HashMap<String, (Value, u64, usize)> = HashMap::new();
        let mut nulls = 0u64;
        for (row, value) in values.iter().enumerate() {
            if matches!(value, Value::Null) {
                nulls += 1;
                continue;
            }
            counts
                .entry(key(value))
                .or_insert_with(|| (value.clone(), 0, row))
                .1 += 1;
        }
        let mut ranked: Vec<(Value, u64, usize)> = counts.into_values().collect();
        // Most frequent first; ties in first-seen order, so the layout is deterministic.
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
        let threshold = options
            .rare_min_count
            .max((0.0005 * values.len() as f64).ceil() as u64);
        let mut tokens = Vec::new();
        if nulls > 0 {
            tokens.push(Token::Null);
        }
        let mut rare = Vec::new();
        for (rank, (value, count, _)) in ranked.into_iter().enumerate() {
            if count >= threshold && rank < options.max_categories {
                tokens.push(Token::Category { value });
            } else {
                rare.push((value, count));
            }
        }
        if !rare.is_empty() {
            tokens.push(Token::Rare);
        }
        if tokens.is_empty() {
            tokens.push(Token::Null);
        }
        Self::build(tokens, rare, None)
    }

    /// Learns a numeric column (`datetime` for epoch milliseconds).
    pub fn fit_numeric(
        values: &[Option<f64>],
        integer: bool,
        datetime: bool,
        options: &EncodingOptions,
    ) -> Self {
        // `+ 0.0` turns -0 into 0, so both spell the same token.
        let mut sorted: Vec<f64> = values.iter().flatten().map(|x| x + 0.0).collect();
        sorted.sort_by(f64::total_cmp);
        let mut tokens = Vec::new();
        if sorted.len() < values.len() || sorted.is_empty() {
            tokens.push(Token::Null);
        }
        if sorted.is_empty() {
            return Self::build(tokens, Vec::new(), None);
        }
        let quantum = if datetime {
            Some(datetime_quantum(&sorted))
        } else if integer {
            Some(1.0)
        } else {
            decimal_quantum(&sorted)
        };
        let shape = NumericShape {
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            quantum,
        };
        let mut distinct: Vec<(f64, usize)> = Vec::new();
        for &x in &sorted {
            match distinct.last_mut() {
                Some((v, c)) if *v == x => *c += 1,
                _ => distinct.push((x, 1)),
            }
        }
        if distinct.len() <= options.max_exact_values {
            tokens.extend(distinct.iter().map(|&(value, _)| Token::Number { value }));
            return Self::build(tokens, Vec::new(), Some(shape));
        }
        let heavy = (sorted.len() / options.bins.max(1)).max(1);
        let mut rest = Vec::with_capacity(sorted.len());
        for &(value, count) in &distinct {
            if count >= heavy {
                tokens.push(Token::Number { value });
            } else {
                rest.extend(std::iter::repeat_n(value, count));
            }
        }
        let bins = options.bins.saturating_sub(tokens.len()).max(8);
        if !rest.is_empty() {
            let mut edges: Vec<f64> = (0..=bins)
                .map(|k| rest[((k * (rest.len() - 1)) as f64 / bins as f64).round() as usize])
                .collect();
            edges.dedup();
            if edges.len() == 1 {
                tokens.push(Token::Bin {
                    low: edges[0],
                    high: edges[0],
                });
            }
            for pair in edges.windows(2) {
                tokens.push(Token::Bin {
                    low: pair[0],
                    high: pair[1],
                });
            }
        }
        Self::build(tokens, Vec::new(), Some(shape))
    }

    /// The token of a value; `None` when the value cannot be represented (a category
    /// never seen in training).
    pub fn encode(&self, value: &Value) -> Option<u32> {
        if self.private {
            return self.encode_private(value);
        }
        if matches!(value, Value::Null) {
            return self.null_token();
        }
        if self.numeric.is_some() {
            let x = value.as_f64()? + 0.0;
            if let Some(&id) = self.index.get(&key(&Value::Float(x))) {
                return Some(id);
            }
            // The bin whose range holds x (the nearest bin outside the range).
            let mut best: Option<(f64, u32)> = None;
            for (id, token) in self.tokens.iter().enumerate() {
                if let Token::Bin { low, high } = token {
                    let distance = if x < *low {
                        low - x
                    } else if x > *high {
                        x - high
                    } else {
                        0.0
                    };
                    if best.is_none_or(|(d, _)| distance < d) {
                        best = Some((distance, id as u32));
                    }
                }
            }
            return best.map(|(_, id)| id).or_else(|| self.nearest_number(x));
        }
        if let Some(&id) = self.index.get(&key(value)) {
            return Some(id);
        }
        let rare = self.rare_token()?;
        self.rare
            .iter()
            .any(|(v, _)| v.equals(value) || key(v) == key(value))
            .then_some(rare)
    }

    fn nearest_number(&self, x: f64) -> Option<u32> {
        self.tokens
            .iter()
            .enumerate()
            .filter_map(|(id, t)| match t {
                Token::Number { value } => Some(((value - x).abs(), id as u32)),
                _ => None,
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, id)| id)
    }

    /// Which tokens can produce a value satisfying every condition.
    pub fn allowed(&self, conditions: &[&Condition]) -> Vec<bool> {
        self.tokens
            .iter()
            .map(|token| match token {
                Token::Null => conditions.iter().all(|c| c.matches(&Value::Null)),
                Token::Category { value } => conditions.iter().all(|c| c.matches(value)),
                Token::Rare => self
                    .rare
                    .iter()
                    .any(|(v, _)| conditions.iter().all(|c| c.matches(v))),
                Token::Number { value } => {
                    conditions.iter().all(|c| c.matches(&Value::Float(*value)))
                }
                Token::Bin { low, high } => {
                    let (lo, hi) = feasible_range(conditions, *low, *high);
                    lo <= hi && self.bin_has_value(lo, hi, conditions)
                }
                Token::Other { value } => conditions.iter().all(|c| c.matches(value)),
            })
            .collect()
    }

    fn bin_has_value(&self, lo: f64, hi: f64, conditions: &[&Condition]) -> bool {
        let candidates = self.rounded_candidates((lo + hi) / 2.0, lo, hi);
        candidates
            .iter()
            .chain([lo, hi].iter())
            .any(|x| conditions.iter().all(|c| c.matches(&Value::Float(*x))))
    }

    fn rounded_candidates(&self, x: f64, lo: f64, hi: f64) -> Vec<f64> {
        match self.numeric.and_then(|s| s.quantum) {
            Some(q) if q > 0.0 => vec![
                (x / q).round() * q,
                (lo / q).ceil() * q,
                (hi / q).floor() * q,
            ],
            _ => vec![x],
        }
    }

    /// The value of `token`; `conditions` (on this column) narrow the draw inside a bin or
    /// the rare pool.
    pub fn decode(&self, token: u32, conditions: &[&Condition], rng: &mut impl Rng) -> Value {
        match &self.tokens[token as usize] {
            Token::Null => Value::Null,
            Token::Category { value } => value.clone(),
            Token::Rare => {
                let pool: Vec<&(Value, u64)> = self
                    .rare
                    .iter()
                    .filter(|(v, _)| conditions.iter().all(|c| c.matches(v)))
                    .collect();
                let total: u64 = pool.iter().map(|(_, c)| c).sum();
                if total == 0 {
                    return Value::Null;
                }
                let mut pick = rng.random_range(0..total);
                for (value, count) in &pool {
                    if pick < *count {
                        return value.clone();
                    }
                    pick -= count;
                }
                pool[pool.len() - 1].0.clone()
            }
            Token::Number { value } => Value::Float(*value),
            Token::Other { value } => value.clone(),
            Token::Bin { low, high } => {
                let (lo, hi) = feasible_range(conditions, *low, *high);
                let (lo, hi) = if lo <= hi { (lo, hi) } else { (*low, *high) };
                let x = if hi > lo {
                    rng.random_range(lo..=hi)
                } else {
                    lo
                };
                let shape = self.numeric.unwrap_or(NumericShape {
                    min: lo,
                    max: hi,
                    quantum: None,
                });
                let candidates = self.rounded_candidates(x, lo, hi);
                let chosen = candidates
                    .iter()
                    .copied()
                    .map(|v| v.clamp(shape.min, shape.max))
                    .find(|v| conditions.iter().all(|c| c.matches(&Value::Float(*v))))
                    .unwrap_or_else(|| x.clamp(shape.min, shape.max));
                Value::Float(chosen)
            }
        }
    }
}

/// The part of `[low, high]` the conditions allow, as a closed interval (strict bounds
/// are left to the rounding candidates and the caller's check).
fn feasible_range(conditions: &[&Condition], low: f64, high: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (low, high);
    for condition in conditions {
        let number = |v: &Value| v.as_f64();
        match &condition.op {
            ConditionOp::Eq(v) => {
                if let Some(x) = number(v) {
                    lo = lo.max(x);
                    hi = hi.min(x);
                }
            }
            ConditionOp::Gt(v) | ConditionOp::Ge(v) => {
                if let Some(x) = number(v) {
                    lo = lo.max(x);
                }
            }
            ConditionOp::Lt(v) | ConditionOp::Le(v) => {
                if let Some(x) = number(v) {
                    hi = hi.min(x);
                }
            }
            ConditionOp::Between(a, b) => {
                if let (Some(a), Some(b)) = (number(a), number(b)) {
                    lo = lo.max(a);
                    hi = hi.min(b);
                }
            }
            ConditionOp::In(vs) => {
                let inside: Vec<f64> = vs
                    .iter()
                    .filter_map(number)
                    .filter(|x| *x >= lo && *x <= hi)
                    .collect();
                if inside.is_empty() {
                    return (1.0, 0.0);
                }
                lo = inside.iter().copied().fold(f64::INFINITY, f64::min);
                hi = inside.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            }
        }
    }
    (lo, hi)
}
