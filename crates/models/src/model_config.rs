//! Reading a model's JSON config: the one rule every model shares.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ModelError, Result};

/// `value` laid over `T::default()` and parsed as `T`; `null` gives the defaults. Objects
/// merge field by field at every depth, so `{"training": {"max_epochs": 5}}` keeps the
/// model's own training defaults (its batch size, learning rate, …) for every other
/// training field, rather than the generic training loop's. A parse error (an unknown
/// field, a wrong type) names the model. Each model validates the ranges afterwards.
pub fn parse_config<T: DeserializeOwned + Serialize + Default>(
    model: &str,
    value: &serde_json::Value,
) -> Result<T> {
    parse_config_over(model, value, T::default())
}

/// `value` laid over `base` (a model's defaults for one of its variants or presets), as
/// [`parse_config`] does over `T::default()`.
pub fn parse_config_over<T: DeserializeOwned + Serialize>(
    model: &str,
    value: &serde_json::Value,
    base: T,
) -> Result<T> {
    if value.is_null() {
        return Ok(base);
    }
    let invalid = |message: String| ModelError::InvalidConfig {
        model: model.into(),
        field: "config".into(),
        message,
    };
    if !value.is_object() {
        return Err(invalid(format!("must be a JSON object, not {value}")));
    }
    let mut merged = serde_json::to_value(base).map_err(|e| invalid(e.to_string()))?;
    merge(&mut merged, value);
    serde_json::from_value(merged).map_err(|e| invalid(e.to_string()))
}

/// Lays `overlay` over `base`: objects merge key by key, anything else replaces.
fn merge(base: &mut serde_json::Value, overlay: &serde_json::Value) {
    match (base, overlay) {
        (serde_json::Value::Object(base), serde_json::Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tvae::TvaeConfig;

    #[test]
    fn nested_fields_keep_the_models_own_defaults() {
        let config: TvaeConfig =
            parse_config("tvae", &serde_json::json!({"training": {"max_epochs": 5}}))
                .expect("parses");
        let defaults = TvaeConfig::default();
        assert_eq!(config.training.max_epochs, 5);
        assert_eq!(config.training.batch_size, defaults.training.batch_size);
        assert_eq!(
            config.training.learning_rate,
            defaults.training.learning_rate
        );
        assert_eq!(config.latent_dim, defaults.latent_dim);
    }

    #[test]
    fn unknown_fields_and_non_objects_are_refused() {
        for bad in [
            serde_json::json!({"training": {"max_epoch": 5}}),
            serde_json::json!({"latent": 3}),
            serde_json::json!([1, 2]),
            serde_json::json!("tvae"),
        ] {
            assert!(
                matches!(
                    parse_config::<TvaeConfig>("tvae", &bad),
                    Err(ModelError::InvalidConfig { .. })
                ),
                "{bad}"
            );
        }
    }
}
