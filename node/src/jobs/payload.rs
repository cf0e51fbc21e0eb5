//! Reading a job's JSON payload into its typed struct, with errors that name the field.

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

/// Parses the payload of a `kind` job. serde names unknown and missing fields itself;
/// for a value of the wrong type it does not, so the field is found by parsing again
/// without each field in turn (payloads have a handful of fields): the field whose
/// absence cures the error, or turns it into "missing field", is the one at fault.
pub fn parse<T: DeserializeOwned>(kind: &str, payload: &serde_json::Value) -> anyhow::Result<T> {
    let Some(fields) = payload.as_object() else {
        bail!(
            "{kind} payload: expected a JSON object with the job's fields, found {}",
            json_type(payload)
        );
    };
    let error = match serde_json::from_value::<T>(payload.clone()) {
        Ok(parsed) => return Ok(parsed),
        Err(error) => error.to_string(),
    };
    if error.contains("field `") {
        bail!("{kind} payload: {error}");
    }
    for name in fields.keys() {
        let mut without = fields.clone();
        without.remove(name);
        let cured = match serde_json::from_value::<T>(serde_json::Value::Object(without)) {
            Ok(_) => true,
            Err(e) => e.to_string().contains(&format!("missing field `{name}`")),
        };
        if cured {
            bail!("{kind} payload: field `{name}`: {error}");
        }
    }
    bail!("{kind} payload: {error}")
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Checks that `value` (an id a job names its output by) can be one segment of an object
/// key: 1 to 128 letters, digits, `-`, `_` or `.`, not `.` or `..`.
pub fn check_id(kind: &str, field: &str, value: &str) -> anyhow::Result<()> {
    let valid = !value.is_empty()
        && value.len() <= 128
        && value != "."
        && value != ".."
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        bail!(
            "{kind} payload: field `{field}`: {value:?} is not a valid id; use 1 to 128 letters, digits, '-', '_' or '.'"
        );
    }
    Ok(())
}

/// Checks that `value` (an object key a job reads) is not empty.
pub fn check_key(kind: &str, field: &str, value: &str) -> anyhow::Result<()> {
    if value.trim().is_empty() {
        bail!("{kind} payload: field `{field}`: must name an object key or a file");
    }
    Ok(())
}

/// The result of a job as JSON.
pub fn result_json<T: serde::Serialize>(
    kind: &str,
    result: &T,
) -> anyhow::Result<serde_json::Value> {
    serde_json::to_value(result).with_context(|| format!("cannot encode the {kind} result"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Example {
        name: String,
        #[serde(default)]
        rows: Option<u64>,
    }

    fn error(payload: serde_json::Value) -> String {
        format!(
            "{:#}",
            parse::<Example>("example", &payload).expect_err("fails")
        )
    }

    #[test]
    fn every_kind_of_bad_field_is_named() {
        let message = error(serde_json::json!({"name": "a", "rows": "many"}));
        assert!(message.contains("field `rows`"), "{message}");
        let message = error(serde_json::json!({"name": 3}));
        assert!(message.contains("field `name`"), "{message}");
        let message = error(serde_json::json!({"name": "a", "colour": 1}));
        assert!(message.contains("unknown field `colour`"), "{message}");
        let message = error(serde_json::json!({"rows": 1}));
        assert!(message.contains("missing field `name`"), "{message}");
        let message = error(serde_json::json!([1]));
        assert!(message.contains("expected a JSON object"), "{message}");
    }

    #[test]
    fn ids_are_single_key_segments() {
        check_id("x", "id", "adult-2024_v1.0").expect("valid");
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(129)] {
            let message = check_id("x", "id", bad).expect_err(bad).to_string();
            assert!(message.contains("field `id`"), "{message}");
        }
    }
}
