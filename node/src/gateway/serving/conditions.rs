//! Conditions of a row request: from the wire to the domain, then checked against the
//! model they will constrain. Every refusal names the field at fault
//! (`conditions[2].column`, `conditions[0].between.lower`).

use mirage_core::{Condition, Rebalance};
use mirage_models::{SampleRequest, Synthesizer};
use mirage_proto::v1;
use tonic::Status;

use crate::gateway::status;

/// The request's conditions as domain conditions.
pub fn from_proto(conditions: Vec<v1::Condition>) -> Result<Vec<Condition>, Status> {
    conditions
        .into_iter()
        .enumerate()
        .map(|(index, condition)| {
            Condition::try_from(condition).map_err(|error| {
                let error = error.within_field(&format!("conditions[{index}]"));
                status::error(v1::ErrorCode::InvalidArgument, error.to_string())
            })
        })
        .collect()
}

/// The request's augmentation as a domain [`Rebalance`], each error naming
/// `rebalance.…`; `None` when unset.
pub fn rebalance_from_proto(rebalance: Option<v1::Rebalance>) -> Result<Option<Rebalance>, Status> {
    rebalance
        .map(|wire| {
            Rebalance::try_from(wire).map_err(|error| {
                let error = error.within_field("rebalance");
                status::error(v1::ErrorCode::InvalidArgument, error.to_string())
            })
        })
        .transpose()
}

/// Refuses an augmentation `model` cannot follow for `request` (an unknown column or
/// class, a column without classes, a column the conditions already constrain). Nothing
/// is drawn.
pub fn check_rebalance(
    model: &dyn Synthesizer,
    request: &SampleRequest,
    rebalance: &Rebalance,
) -> Result<(), Status> {
    mirage_models::sample_by_class(model, request, rebalance)
        .map(drop)
        .map_err(|error| status::error(error.code().into(), error.to_string()))
}

/// Refuses conditions that `model` cannot meet: an unknown column, an operand of the
/// wrong type, a category the column never takes, a range outside the column's.
pub fn check_against(model: &dyn Synthesizer, conditions: &[Condition]) -> Result<(), Status> {
    let schema = model.schema();
    for (index, condition) in conditions.iter().enumerate() {
        if schema.index_of(&condition.column).is_none() {
            let names: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
            return Err(status::invalid(
                &format!("conditions[{index}].column"),
                format!(
                    "the model has no column {:?}; use one of: {}",
                    condition.column,
                    names.join(", ")
                ),
            ));
        }
        // The sampler resolves conditions when it starts (no rows drawn): one at a time,
        // so the refusal names the condition at fault.
        let probe = SampleRequest {
            conditions: vec![condition.clone()],
            ..SampleRequest::new(1, 0)
        };
        if let Err(error) = mirage_models::sample(model, &probe) {
            return Err(status::invalid(&format!("conditions[{index}]"), error));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mirage_core::{ConditionOp, Value};
    use v1::condition::Op;
    use v1::value::Kind;

    fn value(kind: Kind) -> v1::Value {
        v1::Value { kind: Some(kind) }
    }

    fn refusal(conditions: Vec<v1::Condition>) -> Status {
        from_proto(conditions).expect_err("refused")
    }

    #[test]
    fn wire_conditions_become_domain_conditions() -> anyhow::Result<()> {
        let converted = from_proto(vec![
            v1::Condition {
                column: "age".into(),
                op: Some(Op::Gt(value(Kind::IntValue(65)))),
            },
            v1::Condition {
                column: "sex".into(),
                op: Some(Op::AnyOf(v1::ValueList {
                    values: vec![value(Kind::StringValue("Female".into()))],
                })),
            },
        ])?;
        assert_eq!(
            converted,
            vec![
                Condition::new("age", ConditionOp::Gt(Value::Int(65))),
                Condition::new("sex", ConditionOp::In(vec![Value::Str("Female".into())])),
            ]
        );
        assert!(from_proto(Vec::new())?.is_empty());
        Ok(())
    }

    #[test]
    fn bad_wire_conditions_name_their_field() {
        let good = v1::Condition {
            column: "age".into(),
            op: Some(Op::Gt(value(Kind::IntValue(65)))),
        };
        let cases = [
            (
                v1::Condition {
                    column: String::new(),
                    ..good.clone()
                },
                "conditions[1].column",
            ),
            (
                v1::Condition {
                    op: None,
                    ..good.clone()
                },
                "conditions[1].op",
            ),
            (
                v1::Condition {
                    op: Some(Op::Eq(v1::Value { kind: None })),
                    ..good.clone()
                },
                "conditions[1].eq",
            ),
            (
                v1::Condition {
                    op: Some(Op::Between(v1::ValueRange {
                        lower: Some(value(Kind::IntValue(1))),
                        upper: None,
                    })),
                    ..good.clone()
                },
                "conditions[1].between.upper",
            ),
        ];
        for (bad, field) in cases {
            let status = refusal(vec![good.clone(), bad]);
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{field}");
            assert!(
                status.message().starts_with(field),
                "{field} not named first in {:?}",
                status.message()
            );
        }
    }
}
