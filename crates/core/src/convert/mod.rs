//! Conversions between the domain types and the messages of the public API
//! (`mirage_proto::v1`, re-exported here as [`proto`]).
//!
//! Domain → proto is `From` and cannot fail. Proto → domain is `TryFrom<…, Error = CoreError>`
//! because a message from the wire can be wrong: an enum left unspecified or unknown to this
//! build, an id that does not parse, a required sub-message or string left unset. Such errors
//! are [`CoreError::MissingField`] or [`CoreError::InvalidField`], whose `field` is a dotted
//! path relative to the message being converted (`schema.columns[2].kind`); a caller that
//! converts a field of a request adds its own prefix with [`CoreError::within_field`].
//!
//! One file per type family: `error` (error codes and details), `condition` (values and
//! conditions), `pii`, `schema`, `profile`, `records` (datasets, models, generations, quality,
//! budgets), `jobs` and `cluster`.

mod cluster;
mod condition;
mod error;
mod jobs;
mod pii;
mod profile;
mod records;
mod schema;
#[cfg(test)]
mod tests;

pub use mirage_proto::v1 as proto;

use std::fmt::Display;
use std::str::FromStr;

use crate::error::{CoreError, Result};

/// An error for a field that must be set and is not.
pub(crate) fn missing(field: impl Into<String>) -> CoreError {
    CoreError::MissingField {
        field: field.into(),
    }
}

/// An error for a field whose value cannot be used.
pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> CoreError {
    CoreError::InvalidField {
        field: field.into(),
        message: message.into(),
    }
}

/// The sub-message, or an error naming the field when it is unset.
pub(crate) fn required<T>(value: Option<T>, field: &str) -> Result<T> {
    value.ok_or_else(|| missing(field))
}

/// The string, or an error naming the field when it is empty (proto3 cannot tell an empty
/// string from an unset one).
pub(crate) fn required_text(text: String, field: &str) -> Result<String> {
    if text.is_empty() {
        return Err(missing(field));
    }
    Ok(text)
}

/// An id in its display form (`ds_…`) or bare; empty is an error naming the field.
pub(crate) fn parse_id<I>(text: &str, field: &str) -> Result<I>
where
    I: FromStr<Err = CoreError>,
{
    if text.is_empty() {
        return Err(missing(field));
    }
    text.parse()
        .map_err(|err: CoreError| invalid(field, err.to_string()))
}

/// An optional id, where the empty string means none.
pub(crate) fn parse_optional_id<I>(text: &str, field: &str) -> Result<Option<I>>
where
    I: FromStr<Err = CoreError>,
{
    if text.is_empty() {
        return Ok(None);
    }
    parse_id(text, field).map(Some)
}

/// The wire form of an optional id: its display form, or the empty string for none.
pub(crate) fn optional_id_text<I: Display>(id: Option<I>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

/// The last segment of a type's path (`ColumnKind` for `mirage_proto::…::v1::ColumnKind`).
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// Decodes an enum field stored as `i32` to the proto enum `P`, refusing values this build
/// does not know. Errors name `field`.
pub(crate) fn decode_proto_enum<P: TryFrom<i32>>(raw: i32, field: &str) -> Result<P> {
    P::try_from(raw).map_err(|_| {
        invalid(
            field,
            format!(
                "{raw} is not a {} value this server knows: use one from its mirage.v1 protos",
                short_type_name::<P>()
            ),
        )
    })
}

/// Decodes an enum field stored as `i32`: first to the proto enum `P` (values this build does
/// not know are refused), then to the domain enum `D` (which refuses `…_UNSPECIFIED` where it
/// has no meaning). Errors name `field`.
pub(crate) fn decode_enum<P, D>(raw: i32, field: &str) -> Result<D>
where
    P: TryFrom<i32>,
    D: TryFrom<P, Error = CoreError>,
{
    let proto = decode_proto_enum::<P>(raw, field)?;
    D::try_from(proto).map_err(|err| match err {
        CoreError::InvalidField { message, .. } => invalid(field, message),
        other => other,
    })
}

/// What is wrong with an `…_UNSPECIFIED` value of the proto enum `P`.
pub(crate) fn unspecified_message<P>(value_name: &str) -> String {
    let enum_name = short_type_name::<P>();
    format!("{value_name} is not allowed: set one of the other {enum_name} values")
}

/// The error `TryFrom<proto enum>` gives for an `…_UNSPECIFIED` value. Its field is the enum's
/// name; [`decode_enum`] replaces it with the field being decoded.
pub(crate) fn unspecified<P>(value_name: &str) -> CoreError {
    invalid(short_type_name::<P>(), unspecified_message::<P>(value_name))
}

/// Converts every item, naming a failing one by its index (`columns[3].kind`).
pub(crate) fn convert_all<P, D>(items: Vec<P>, field: &str) -> Result<Vec<D>>
where
    D: TryFrom<P, Error = CoreError>,
{
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            D::try_from(item).map_err(|err| err.within_field(&format!("{field}[{index}]")))
        })
        .collect()
}

/// Adds the parent's field path to the errors of converting a sub-message.
pub(crate) trait WithinField<T> {
    /// Prefixes the field named by a conversion error with `parent`.
    fn within(self, parent: &str) -> Result<T>;
}

impl<T> WithinField<T> for Result<T> {
    fn within(self, parent: &str) -> Result<T> {
        self.map_err(|err| err.within_field(parent))
    }
}
