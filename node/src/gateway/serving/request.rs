//! [`SamplePlan`]: a `SampleRowsRequest` checked field by field against the node's limits.

use std::str::FromStr;

use mirage_core::config::ServingConfig;
use mirage_core::{Condition, ModelId, Rebalance};
use mirage_proto::v1;
use tonic::Status;

use super::conditions;
use crate::gateway::status;

/// What to sample, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplePlan {
    /// The model.
    pub model: ModelId,
    /// Rows wanted (at least 1, at most `serving.max_stream_rows`).
    pub rows: u64,
    /// The seed (the request's, or one picked here).
    pub seed: u64,
    /// Constraints on every row (not yet checked against the model).
    pub conditions: Vec<Condition>,
    /// Rows per streamed batch (at least 1, at most `serving.max_batch_rows`).
    pub batch_rows: usize,
    /// How the rows divide among the classes of one column (not yet checked against the
    /// model).
    pub rebalance: Option<Rebalance>,
}

impl SamplePlan {
    /// Checks `request`; a refusal is `INVALID_ARGUMENT` naming the field.
    pub fn from_request(
        config: &ServingConfig,
        request: v1::SampleRowsRequest,
    ) -> Result<Self, Status> {
        if request.model_id.is_empty() {
            return Err(status::invalid(
                "model_id",
                "is required: set it to a model id (mdl_…)",
            ));
        }
        let model = ModelId::from_str(&request.model_id)
            .map_err(|error| status::invalid("model_id", error))?;
        if request.rows == 0 {
            return Err(status::invalid("rows", "must be at least 1"));
        }
        if request.rows > config.max_stream_rows {
            return Err(status::invalid(
                "rows",
                format!(
                    "{} is more than one call may stream ({}): ask in several calls with \
                     different seeds, or submit a batch generation",
                    request.rows, config.max_stream_rows
                ),
            ));
        }
        if usize::try_from(request.rows).is_err() {
            return Err(status::invalid("rows", "is too large for this server"));
        }
        let conditions = conditions::from_proto(request.conditions)?;
        let rebalance = conditions::rebalance_from_proto(request.rebalance)?;
        let batch_rows = match request.batch_rows {
            0 => config.default_batch_rows,
            asked => asked.min(config.max_batch_rows),
        };
        Ok(Self {
            model,
            rows: request.rows,
            seed: request.seed.unwrap_or_else(rand::random),
            conditions,
            batch_rows: usize::try_from(batch_rows).unwrap_or(usize::MAX).max(1),
            rebalance,
        })
    }
}

impl SamplePlan {
    /// What the sampler draws for this plan.
    pub fn request(&self) -> mirage_models::SampleRequest {
        mirage_models::SampleRequest {
            rows: usize::try_from(self.rows).unwrap_or(usize::MAX),
            seed: self.seed,
            batch_size: self.batch_rows,
            conditions: self.conditions.clone(),
            max_draws: None,
            first_row: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(rows: u64) -> v1::SampleRowsRequest {
        v1::SampleRowsRequest {
            model_id: ModelId::from_uuid(uuid::Uuid::from_u128(9)).to_string(),
            rows,
            seed: Some(7),
            conditions: Vec::new(),
            batch_rows: 0,
            rebalance: None,
        }
    }

    fn refused_field(config: &ServingConfig, request: v1::SampleRowsRequest) -> String {
        let status = SamplePlan::from_request(config, request).expect_err("refused");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        status.message().to_string()
    }

    #[test]
    fn a_good_request_is_planned_within_the_limits() -> anyhow::Result<()> {
        let config = ServingConfig::default();
        let plan = SamplePlan::from_request(&config, request(10))?;
        assert_eq!((plan.rows, plan.seed), (10, 7));
        assert_eq!(plan.batch_rows, config.default_batch_rows as usize);
        let big = v1::SampleRowsRequest {
            batch_rows: u32::MAX,
            seed: None,
            ..request(10)
        };
        let plan = SamplePlan::from_request(&config, big)?;
        assert_eq!(plan.batch_rows, config.max_batch_rows as usize, "capped");
        Ok(())
    }

    #[test]
    fn bad_fields_are_named() {
        let config = ServingConfig {
            max_stream_rows: 1000,
            ..ServingConfig::default()
        };
        assert!(refused_field(&config, request(0)).starts_with("rows: must be at least 1"));
        let too_many = refused_field(&config, request(1001));
        assert!(
            too_many.starts_with("rows: 1001 is more than"),
            "{too_many}"
        );
        let no_model = v1::SampleRowsRequest {
            model_id: String::new(),
            ..request(1)
        };
        assert!(refused_field(&config, no_model).starts_with("model_id: is required"));
        let bad_model = v1::SampleRowsRequest {
            model_id: "mdl_nope".into(),
            ..request(1)
        };
        assert!(refused_field(&config, bad_model).starts_with("model_id: "));
        let bad_condition = v1::SampleRowsRequest {
            conditions: vec![v1::Condition {
                column: "age".into(),
                op: None,
            }],
            ..request(1)
        };
        assert!(refused_field(&config, bad_condition).starts_with("conditions[0].op"));
    }
}
