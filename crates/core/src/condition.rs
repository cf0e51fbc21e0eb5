//! Constraints on generated rows: `age > 65`, `sex = Female`, `workclass in (A, B)`,
//! `hours between 20 and 40`.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

use crate::error::{CoreError, Result};
use crate::value::Value;

/// How a column's value is constrained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "value", rename_all = "snake_case")]
pub enum ConditionOp {
    /// Equal to the value.
    Eq(Value),
    /// Strictly greater.
    Gt(Value),
    /// Greater or equal.
    Ge(Value),
    /// Strictly less.
    Lt(Value),
    /// Less or equal.
    Le(Value),
    /// Equal to one of the values.
    In(Vec<Value>),
    /// Inside the closed interval.
    Between(Value, Value),
}

/// A constraint on one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The constrained column.
    pub column: String,
    /// The constraint.
    #[serde(flatten)]
    pub op: ConditionOp,
}

impl Condition {
    /// A condition on `column`.
    pub fn new(column: impl Into<String>, op: ConditionOp) -> Self {
        Self {
            column: column.into(),
            op,
        }
    }

    /// Whether a value satisfies the condition. Nulls satisfy only `= null`.
    pub fn matches(&self, value: &Value) -> bool {
        let cmp = |bound: &Value| value.compare(bound);
        match &self.op {
            ConditionOp::Eq(v) => value.equals(v),
            ConditionOp::Gt(v) => cmp(v) == Some(Ordering::Greater),
            ConditionOp::Ge(v) => matches!(cmp(v), Some(Ordering::Greater | Ordering::Equal)),
            ConditionOp::Lt(v) => cmp(v) == Some(Ordering::Less),
            ConditionOp::Le(v) => matches!(cmp(v), Some(Ordering::Less | Ordering::Equal)),
            ConditionOp::In(vs) => vs.iter().any(|v| value.equals(v)),
            ConditionOp::Between(lo, hi) => {
                matches!(cmp(lo), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(cmp(hi), Some(Ordering::Less | Ordering::Equal))
            }
        }
    }

    /// The values named by the condition, for checking them against the column's type.
    pub fn operands(&self) -> Vec<&Value> {
        match &self.op {
            ConditionOp::Eq(v)
            | ConditionOp::Gt(v)
            | ConditionOp::Ge(v)
            | ConditionOp::Lt(v)
            | ConditionOp::Le(v) => vec![v],
            ConditionOp::In(vs) => vs.iter().collect(),
            ConditionOp::Between(lo, hi) => vec![lo, hi],
        }
    }

    /// Parses the command-line form: `col=v`, `col>v`, `col>=v`, `col<v`, `col<=v`,
    /// `col in (a, b)`, `col between a and b`. Numbers become numbers, `null` null,
    /// anything else a string (quotes optional).
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |message: &str| CoreError::InvalidValue {
            column: text.to_string(),
            message: format!(
                "{message}; write col=v, col>v, col>=v, col<v, col<=v, \"col in (a, b)\" or \"col between a and b\""
            ),
        };
        let lower = text.to_ascii_lowercase();
        if let Some(at) = lower.find(" between ") {
            let column = text[..at].trim();
            let rest = &text[at + " between ".len()..];
            let and = rest
                .to_ascii_lowercase()
                .find(" and ")
                .ok_or_else(|| invalid("between needs two bounds joined by 'and'"))?;
            let lo = parse_value(&rest[..and]);
            let hi = parse_value(&rest[and + " and ".len()..]);
            return Self::named(column, ConditionOp::Between(lo, hi), &invalid);
        }
        if let Some(at) = lower.find(" in ") {
            let column = text[..at].trim();
            let list = text[at + " in ".len()..].trim();
            let inner = list
                .strip_prefix('(')
                .and_then(|l| l.strip_suffix(')'))
                .ok_or_else(|| invalid("in needs a list in parentheses"))?;
            let values = inner.split(',').map(parse_value).collect::<Vec<_>>();
            return Self::named(column, ConditionOp::In(values), &invalid);
        }
        for (token, make) in [
            (">=", ConditionOp::Ge as fn(Value) -> ConditionOp),
            ("<=", ConditionOp::Le),
            ("!=", |_| ConditionOp::In(Vec::new())),
            (">", ConditionOp::Gt),
            ("<", ConditionOp::Lt),
            ("=", ConditionOp::Eq),
        ] {
            if let Some(at) = text.find(token) {
                if token == "!=" {
                    return Err(invalid("!= is not supported"));
                }
                let column = text[..at].trim();
                let value = parse_value(&text[at + token.len()..]);
                return Self::named(column, make(value), &invalid);
            }
        }
        Err(invalid("no operator found"))
    }

    fn named(column: &str, op: ConditionOp, invalid: &dyn Fn(&str) -> CoreError) -> Result<Self> {
        if column.is_empty() {
            return Err(invalid("the column name is empty"));
        }
        Ok(Self::new(column, op))
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.column;
        match &self.op {
            ConditionOp::Eq(v) => write!(f, "{c} = {v}"),
            ConditionOp::Gt(v) => write!(f, "{c} > {v}"),
            ConditionOp::Ge(v) => write!(f, "{c} >= {v}"),
            ConditionOp::Lt(v) => write!(f, "{c} < {v}"),
            ConditionOp::Le(v) => write!(f, "{c} <= {v}"),
            ConditionOp::In(vs) => {
                let list = vs.iter().map(Value::to_string).collect::<Vec<_>>();
                write!(f, "{c} in ({})", list.join(", "))
            }
            ConditionOp::Between(lo, hi) => write!(f, "{c} between {lo} and {hi}"),
        }
    }
}

/// A literal from the command line: integer, float, `true`/`false`, `null`, or a string.
fn parse_value(text: &str) -> Value {
    let trimmed = text.trim();
    let unquoted = trimmed
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .or_else(|| {
            trimmed
                .strip_prefix('\'')
                .and_then(|t| t.strip_suffix('\''))
        });
    if let Some(s) = unquoted {
        return Value::Str(s.to_string());
    }
    if trimmed.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if let Ok(v) = trimmed.parse::<i64>() {
        return Value::Int(v);
    }
    if let Ok(v) = trimmed.parse::<f64>() {
        return Value::Float(v);
    }
    match trimmed {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        other => Value::Str(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Condition {
        Condition::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_every_operator() {
        assert_eq!(parse("age>65").op, ConditionOp::Gt(Value::Int(65)));
        assert_eq!(parse("age >= 65").op, ConditionOp::Ge(Value::Int(65)));
        assert_eq!(parse("age<2.5").op, ConditionOp::Lt(Value::Float(2.5)));
        assert_eq!(parse("age<=3").op, ConditionOp::Le(Value::Int(3)));
        assert_eq!(parse("sex=Female").op, ConditionOp::Eq("Female".into()));
        assert_eq!(
            parse("work in (Private, 'State-gov')").op,
            ConditionOp::In(vec!["Private".into(), "State-gov".into()])
        );
        let between = parse("hours between 20 and 40");
        assert_eq!(between.column, "hours");
        assert_eq!(
            between.op,
            ConditionOp::Between(Value::Int(20), Value::Int(40))
        );
    }

    #[test]
    fn matching_follows_the_operator() {
        assert!(parse("age>65").matches(&Value::Int(66)));
        assert!(!parse("age>65").matches(&Value::Int(65)));
        assert!(parse("age>=65").matches(&Value::Int(65)));
        assert!(parse("a between 1 and 2").matches(&Value::Float(2.0)));
        assert!(!parse("a between 1 and 2").matches(&Value::Float(2.01)));
        assert!(parse("s in (x, y)").matches(&"y".into()));
        assert!(!parse("age>65").matches(&Value::Null));
        assert!(parse("age=null").matches(&Value::Null));
    }

    #[test]
    fn bad_conditions_say_how_to_write_one() {
        for text in ["age", "=5", "a in 1,2", "a between 1", "a != 3"] {
            let err = Condition::parse(text).expect_err(text);
            assert!(err.to_string().contains("col=v"), "{text}: {err}");
        }
    }
}
