//! Cell values and conditions on generated rows.

use super::{WithinField, convert_all, missing, proto, required, required_text};
use crate::condition::{Condition, ConditionOp};
use crate::error::CoreError;
use crate::rebalance::{ClassShare, Rebalance};
use crate::value::Value;

use proto::condition::Op;
use proto::value::Kind;

impl From<Value> for proto::Value {
    fn from(value: Value) -> Self {
        let kind = match value {
            Value::Null => Kind::NullValue(true),
            Value::Bool(v) => Kind::BoolValue(v),
            Value::Int(v) => Kind::IntValue(v),
            Value::Float(v) => Kind::FloatValue(v),
            Value::Str(v) => Kind::StringValue(v),
        };
        proto::Value { kind: Some(kind) }
    }
}

impl TryFrom<proto::Value> for Value {
    type Error = CoreError;

    /// An unset `kind` is refused rather than read as null: it is also what a value of a
    /// type added to the protocol later looks like to this build.
    fn try_from(value: proto::Value) -> Result<Self, Self::Error> {
        Ok(match value.kind.ok_or_else(|| missing("kind"))? {
            Kind::NullValue(_) => Value::Null,
            Kind::BoolValue(v) => Value::Bool(v),
            Kind::IntValue(v) => Value::Int(v),
            Kind::FloatValue(v) => Value::Float(v),
            Kind::StringValue(v) => Value::Str(v),
        })
    }
}

impl From<Condition> for proto::Condition {
    fn from(condition: Condition) -> Self {
        let op = match condition.op {
            ConditionOp::Eq(v) => Op::Eq(v.into()),
            ConditionOp::Gt(v) => Op::Gt(v.into()),
            ConditionOp::Ge(v) => Op::Ge(v.into()),
            ConditionOp::Lt(v) => Op::Lt(v.into()),
            ConditionOp::Le(v) => Op::Le(v.into()),
            ConditionOp::In(values) => Op::AnyOf(proto::ValueList {
                values: values.into_iter().map(Into::into).collect(),
            }),
            ConditionOp::Between(lower, upper) => Op::Between(proto::ValueRange {
                lower: Some(lower.into()),
                upper: Some(upper.into()),
            }),
        };
        proto::Condition {
            column: condition.column,
            op: Some(op),
        }
    }
}

impl TryFrom<proto::Condition> for Condition {
    type Error = CoreError;

    fn try_from(condition: proto::Condition) -> Result<Self, Self::Error> {
        let column = required_text(condition.column, "column")?;
        let op = match required(condition.op, "op")? {
            Op::Eq(v) => ConditionOp::Eq(Value::try_from(v).within("eq")?),
            Op::Gt(v) => ConditionOp::Gt(Value::try_from(v).within("gt")?),
            Op::Ge(v) => ConditionOp::Ge(Value::try_from(v).within("ge")?),
            Op::Lt(v) => ConditionOp::Lt(Value::try_from(v).within("lt")?),
            Op::Le(v) => ConditionOp::Le(Value::try_from(v).within("le")?),
            Op::AnyOf(list) => ConditionOp::In(convert_all(list.values, "any_of.values")?),
            Op::Between(range) => {
                let lower = required(range.lower, "between.lower")?;
                let upper = required(range.upper, "between.upper")?;
                ConditionOp::Between(
                    Value::try_from(lower).within("between.lower")?,
                    Value::try_from(upper).within("between.upper")?,
                )
            }
        };
        Ok(Condition { column, op })
    }
}

impl From<Rebalance> for proto::Rebalance {
    fn from(rebalance: Rebalance) -> Self {
        proto::Rebalance {
            column: rebalance.column,
            shares: rebalance
                .shares
                .into_iter()
                .map(|class| proto::ClassShare {
                    value: Some(class.value.into()),
                    share: class.share,
                })
                .collect(),
        }
    }
}

impl TryFrom<proto::Rebalance> for Rebalance {
    type Error = CoreError;

    /// Also validates the shares ([`Rebalance::validate`]).
    fn try_from(rebalance: proto::Rebalance) -> Result<Self, Self::Error> {
        let column = required_text(rebalance.column, "column")?;
        let shares = rebalance
            .shares
            .into_iter()
            .enumerate()
            .map(|(index, class)| {
                let field = format!("shares[{index}].value");
                let value = Value::try_from(required(class.value, &field)?).within(&field)?;
                Ok(ClassShare {
                    value,
                    share: class.share,
                })
            })
            .collect::<Result<Vec<_>, CoreError>>()?;
        let rebalance = Rebalance { column, shares };
        rebalance.validate()?;
        Ok(rebalance)
    }
}
