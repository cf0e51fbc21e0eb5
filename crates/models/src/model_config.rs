//! Reading a model's JSON config: the one rule every model shares.

use serde::de::DeserializeOwned;

use crate::error::{ModelError, Result};

/// `value` parsed as `T`, or `T::default()` when it is `null`; a parse error (an unknown
/// field, a wrong type) names the model. Each model validates the ranges afterwards.
pub fn parse_config<T: DeserializeOwned + Default>(
    model: &str,
    value: &serde_json::Value,
) -> Result<T> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(value.clone()).map_err(|e| ModelError::InvalidConfig {
        model: model.into(),
        field: "config".into(),
        message: e.to_string(),
    })
}
