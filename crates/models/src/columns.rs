//! Moving values between Arrow arrays and the plain vectors the models work on.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Float64Array, Float64Builder, Int64Array,
    Int64Builder, StringArray, StringBuilder, TimestampMillisecondArray,
    TimestampMillisecondBuilder,
};
use mirage_core::Value;
use mirage_core::schema::PhysicalType;

use crate::error::{ModelError, Result};

fn unsupported(column: &str, array: &dyn Array) -> ModelError {
    ModelError::UnsupportedColumn {
        column: column.to_string(),
        message: format!("arrow type {} is not supported here", array.data_type()),
    }
}

/// The column's values as numbers (`None` for nulls). Booleans become 0/1, timestamps
/// epoch milliseconds.
pub fn numeric_values(column: &str, array: &dyn Array) -> Result<Vec<Option<f64>>> {
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<Int64Array>() {
        return Ok(a.iter().map(|v| v.map(|v| v as f64)).collect());
    }
    if let Some(a) = any.downcast_ref::<Float64Array>() {
        return Ok(a.iter().map(|v| v.filter(|x| x.is_finite())).collect());
    }
    if let Some(a) = any.downcast_ref::<TimestampMillisecondArray>() {
        return Ok(a.iter().map(|v| v.map(|v| v as f64)).collect());
    }
    if let Some(a) = any.downcast_ref::<BooleanArray>() {
        return Ok(a
            .iter()
            .map(|v| v.map(|b| f64::from(u8::from(b))))
            .collect());
    }
    Err(unsupported(column, array))
}

/// The column's distinct non-null values in first-seen order, and each row's code into them.
pub fn encode_categories(
    column: &str,
    array: &dyn Array,
) -> Result<(Vec<Value>, Vec<Option<u32>>)> {
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<StringArray>() {
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut categories = Vec::new();
        let codes = a
            .iter()
            .map(|v| {
                v.map(|s| {
                    *index.entry(s).or_insert_with(|| {
                        categories.push(Value::Str(s.to_string()));
                        (categories.len() - 1) as u32
                    })
                })
            })
            .collect();
        return Ok((categories, codes));
    }
    // Non-string columns: go through Value, keyed by its display form.
    let values = (0..array.len())
        .map(|i| value_at(column, array, i))
        .collect::<Result<Vec<_>>>()?;
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut categories = Vec::new();
    let codes = values
        .into_iter()
        .map(|v| match v {
            Value::Null => None,
            v => Some(*index.entry(v.to_string()).or_insert_with(|| {
                categories.push(v.clone());
                (categories.len() - 1) as u32
            })),
        })
        .collect();
    Ok((categories, codes))
}

/// The value in row `row`.
pub fn value_at(column: &str, array: &dyn Array, row: usize) -> Result<Value> {
    if array.is_null(row) {
        return Ok(Value::Null);
    }
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<StringArray>() {
        return Ok(Value::Str(a.value(row).to_string()));
    }
    if let Some(a) = any.downcast_ref::<Int64Array>() {
        return Ok(Value::Int(a.value(row)));
    }
    if let Some(a) = any.downcast_ref::<Float64Array>() {
        return Ok(Value::Float(a.value(row)));
    }
    if let Some(a) = any.downcast_ref::<TimestampMillisecondArray>() {
        return Ok(Value::Int(a.value(row)));
    }
    if let Some(a) = any.downcast_ref::<BooleanArray>() {
        return Ok(Value::Bool(a.value(row)));
    }
    Err(unsupported(column, array))
}

/// An array of `physical` type from numbers (rounded for integer types).
pub fn build_numeric(physical: PhysicalType, values: &[Option<f64>]) -> ArrayRef {
    match physical {
        PhysicalType::Int64 => {
            let mut b = Int64Builder::with_capacity(values.len());
            values
                .iter()
                .for_each(|v| b.append_option(v.map(|x| x.round() as i64)));
            Arc::new(b.finish())
        }
        PhysicalType::TimestampMillis => {
            let mut b = TimestampMillisecondBuilder::with_capacity(values.len());
            values
                .iter()
                .for_each(|v| b.append_option(v.map(|x| x.round() as i64)));
            Arc::new(b.finish())
        }
        PhysicalType::Boolean => {
            let mut b = BooleanBuilder::with_capacity(values.len());
            values
                .iter()
                .for_each(|v| b.append_option(v.map(|x| x >= 0.5)));
            Arc::new(b.finish())
        }
        PhysicalType::Utf8 => {
            let mut b = StringBuilder::with_capacity(values.len(), values.len() * 8);
            values
                .iter()
                .for_each(|v| b.append_option(v.map(|x| x.to_string())));
            Arc::new(b.finish())
        }
        PhysicalType::Float64 => {
            let mut b = Float64Builder::with_capacity(values.len());
            values.iter().for_each(|v| b.append_option(*v));
            Arc::new(b.finish())
        }
    }
}

/// An array of `physical` type from values (`None` for nulls).
pub fn build_values(
    column: &str,
    physical: PhysicalType,
    values: &[Option<&Value>],
) -> Result<ArrayRef> {
    let mismatch = |v: &Value| ModelError::UnsupportedColumn {
        column: column.to_string(),
        message: format!("value {v} does not fit a {physical:?} column"),
    };
    Ok(match physical {
        PhysicalType::Utf8 => {
            let mut b = StringBuilder::with_capacity(values.len(), values.len() * 8);
            for v in values {
                match v {
                    None | Some(Value::Null) => b.append_null(),
                    Some(Value::Str(s)) => b.append_value(s),
                    Some(other) => b.append_value(other.to_string()),
                }
            }
            Arc::new(b.finish())
        }
        PhysicalType::Boolean => {
            let mut b = BooleanBuilder::with_capacity(values.len());
            for v in values {
                match v {
                    None | Some(Value::Null) => b.append_null(),
                    Some(Value::Bool(x)) => b.append_value(*x),
                    Some(other) => return Err(mismatch(other)),
                }
            }
            Arc::new(b.finish())
        }
        PhysicalType::Int64 | PhysicalType::TimestampMillis | PhysicalType::Float64 => {
            let numbers = values
                .iter()
                .map(|v| match v {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => v.as_f64().map(Some).ok_or_else(|| mismatch(v)),
                })
                .collect::<Result<Vec<_>>>()?;
            build_numeric(physical, &numbers)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_coded_in_first_seen_order() {
        let array = StringArray::from(vec![Some("b"), None, Some("a"), Some("b")]);
        let (cats, codes) = encode_categories("c", &array).expect("strings");
        assert_eq!(cats, vec![Value::from("b"), Value::from("a")]);
        assert_eq!(codes, vec![Some(0), None, Some(1), Some(0)]);
    }

    #[test]
    fn numbers_round_trip_through_integer_arrays() {
        let built = build_numeric(PhysicalType::Int64, &[Some(1.4), None, Some(2.6)]);
        let back = numeric_values("n", built.as_ref()).expect("ints");
        assert_eq!(back, vec![Some(1.0), None, Some(3.0)]);
    }
}
