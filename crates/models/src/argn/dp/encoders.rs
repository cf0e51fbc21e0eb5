//! Token encoders built from DP statistics only, never from the rows.
//!
//! - discrete: the DP (or declared) category set, one token each, and an OTHER token for
//!   every value outside it when the statistics say such values may exist;
//! - numeric: the DP quantile grid, as [`crate::dp::NumericBins`] lays it out: an exact
//!   token per distinct grid value (rounded to the column's quantum) and an interval
//!   token per gap that can hold a value; numbers are capped to the grid's ends;
//! - nulls: a token when the schema allows nulls and the column is declared nullable, or
//!   (undeclared) when the noisy null count clears both `rare_min_count` and
//!   [`crate::dp::NULL_SHARE`] of the noisy rows. The schema is public to a DP fit (its kinds choose
//!   the mechanisms too); a column it marks non-nullable must not generate nulls, so its
//!   OTHER token, outside string columns, decodes as the category with the largest noisy
//!   count instead of null.

use mirage_core::Value;
use mirage_core::schema::{ColumnSchema, PhysicalType};

use crate::argn::encoding::{NumericShape, Token, TokenEncoder};
use crate::dp::{ColumnStats, DpSettings, NumericBins, OTHER_LABEL, has_null_slot};

/// The encoder of `column` from its DP statistics (`rows`: the noisy row count). The
/// OTHER token of a string column decodes as [`OTHER_LABEL`]; of another type, as null
/// when the schema allows nulls, else as the category with the largest noisy count.
pub fn encoder_from_stats(
    column: &ColumnSchema,
    stats: &ColumnStats,
    settings: &DpSettings,
    rows: f64,
) -> TokenEncoder {
    let mut tokens = Vec::new();
    if has_null_slot(column, stats.null_count(), settings, rows) {
        tokens.push(Token::Null);
    }
    let numeric = match stats {
        ColumnStats::Discrete {
            categories,
            counts,
            other,
            ..
        } => {
            tokens.extend(categories.iter().map(|value| Token::Category {
                value: value.clone(),
            }));
            if *other || tokens.is_empty() {
                let largest = counts
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .and_then(|(i, _)| categories.get(i));
                let value = match (column.physical, largest) {
                    (PhysicalType::Utf8, _) => Value::Str(OTHER_LABEL.to_string()),
                    (_, Some(value)) if !column.nullable => value.clone(),
                    _ => Value::Null,
                };
                tokens.push(Token::Other { value });
            }
            None
        }
        ColumnStats::Numeric {
            quantiles, quantum, ..
        } => numeric_tokens(quantiles, *quantum, &mut tokens),
    };
    if tokens.is_empty() {
        tokens.push(Token::Null);
    }
    let mut encoder = TokenEncoder::build(tokens, Vec::new(), numeric);
    encoder.private = true;
    encoder
}

/// Appends the grid's tokens, in [`NumericBins`]' order; the shape, or `None` for an
/// empty grid.
fn numeric_tokens(
    quantiles: &[f64],
    quantum: Option<f64>,
    tokens: &mut Vec<Token>,
) -> Option<NumericShape> {
    let quantum = quantum.filter(|q| *q > 0.0 && q.is_finite());
    let bins = NumericBins::from_grid(quantiles, quantum)?;
    // `+ 0.0`: a grid value of −0 is kept as 0.
    tokens.extend(bins.tokens().iter().map(|&(low, high)| {
        if low == high {
            Token::Number { value: low + 0.0 }
        } else {
            let (low, high) = bins.interval(low, high);
            Token::Bin {
                low: low + 0.0,
                high: high + 0.0,
            }
        }
    }));
    let (min, max) = bins.range();
    Some(NumericShape {
        min: min + 0.0,
        max: max + 0.0,
        quantum,
    })
}

impl TokenEncoder {
    /// [`Self::encode`] for encoders built from DP statistics.
    pub(in crate::argn) fn encode_private(&self, value: &Value) -> Option<u32> {
        if matches!(value, Value::Null) {
            return self.null_token();
        }
        let Some(shape) = self.numeric else {
            return self.lookup(value).or_else(|| self.other_token());
        };
        let x = value.as_f64()?.clamp(shape.min, shape.max) + 0.0;
        let tolerance = shape.quantum.map_or(1e-9 * x.abs().max(1.0), |q| q / 2.0);
        let mut best: Option<(f64, u32)> = None;
        for (id, token) in self.tokens.iter().enumerate() {
            match token {
                Token::Number { value } if (x - value).abs() <= tolerance => {
                    return Some(id as u32);
                }
                Token::Number { value } => {
                    let distance = (x - value).abs();
                    if best.is_none_or(|(d, _)| distance < d) {
                        best = Some((distance, id as u32));
                    }
                }
                Token::Bin { low, high } => {
                    let distance = (low - tolerance - x).max(x - high - tolerance).max(0.0);
                    if best.is_none_or(|(d, _)| distance < d) {
                        best = Some((distance, id as u32));
                    }
                }
                _ => {}
            }
        }
        best.map(|(_, id)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mirage_core::schema::ColumnKind;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn settings() -> DpSettings {
        DpSettings::from_config(
            "tabular-argn",
            &serde_json::json!({"privacy": {"epsilon": 1.0, "delta": 1e-5}}),
        )
        .expect("settings")
        .expect("some")
    }

    fn stats_with_nulls() -> ColumnStats {
        ColumnStats::Discrete {
            categories: vec![Value::Int(1), Value::Int(2)],
            counts: vec![10.0, 80.0],
            other: true,
            null_count: 50.0,
        }
    }

    #[test]
    fn discrete_tokens_come_from_the_dp_category_set() {
        let stats = ColumnStats::Discrete {
            categories: vec![Value::Str("a".into()), Value::Str("b".into())],
            counts: vec![50.0, 40.0],
            other: true,
            null_count: 30.0,
        };
        let colour = ColumnSchema::new("c", ColumnKind::Categorical, PhysicalType::Utf8);
        let encoder = encoder_from_stats(&colour, &stats, &settings(), 120.0);
        assert_eq!(encoder.tokens[0], Token::Null);
        assert_eq!(encoder.cardinality(), 4);
        let other = encoder.other_token().expect("other");
        assert_eq!(encoder.encode(&Value::Str("a".into())), Some(1));
        assert_eq!(encoder.encode(&Value::Str("zzz".into())), Some(other));
        assert_eq!(encoder.encode(&Value::Null), Some(0));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            encoder.decode(other, &[], &mut rng),
            Value::Str(OTHER_LABEL.into())
        );
        // A noisy null count under the threshold gives no null token (a DP fit trains
        // such nulls as OTHER; imputation fills them).
        let quiet = ColumnStats::Discrete {
            categories: vec![Value::Int(1)],
            counts: vec![90.0],
            other: true,
            null_count: 0.2,
        };
        let code = ColumnSchema::new("c", ColumnKind::Categorical, PhysicalType::Int64);
        let encoder = encoder_from_stats(&code, &quiet, &settings(), 100.0);
        assert_eq!(encoder.null_token(), None);
        assert_eq!(encoder.encode(&Value::Null), None);
        assert_eq!(encoder.decode(1, &[], &mut rng), Value::Null);
        // A column the schema marks non-nullable never gets a null token, and its OTHER
        // decodes as the largest category rather than null.
        let strict = ColumnSchema {
            nullable: false,
            ..code
        };
        let encoder = encoder_from_stats(&strict, &stats_with_nulls(), &settings(), 100.0);
        assert_eq!(encoder.null_token(), None);
        let other = encoder.other_token().expect("other");
        assert_eq!(encoder.decode(other, &[], &mut rng), Value::Int(2));
    }

    #[test]
    fn numeric_tokens_follow_the_dp_grid() {
        let stats = ColumnStats::Numeric {
            quantiles: vec![0.0, 0.0, 0.0, 7.0, 8.0, 100.0],
            count: 100.0,
            null_count: 0.0,
            quantum: Some(1.0),
        };
        let age = ColumnSchema::new("n", ColumnKind::Integer, PhysicalType::Int64);
        let encoder = encoder_from_stats(&age, &stats, &settings(), 100.0);
        let bins = NumericBins::from_stats(&stats).expect("bins");
        assert_eq!(encoder.cardinality(), bins.len());
        assert_eq!(encoder.null_token(), None);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for x in [0.0, 3.0, 7.0, 8.0, 50.0, 100.0, -5.0, 500.0] {
            let token = encoder.encode(&Value::Float(x)).expect("token");
            assert_eq!(token, bins.encode(x), "{x}");
            for _ in 0..20 {
                let Value::Float(back) = encoder.decode(token, &[], &mut rng) else {
                    panic!("not a number");
                };
                let capped = x.clamp(0.0, 100.0);
                if [0.0, 7.0, 8.0, 100.0].contains(&capped) {
                    assert_eq!(back, capped);
                } else {
                    assert!(
                        back > 0.0 && back < 100.0 && back.fract() == 0.0,
                        "{x} {back}"
                    );
                    assert!(back != 7.0 && back != 8.0);
                }
            }
        }
    }
}
