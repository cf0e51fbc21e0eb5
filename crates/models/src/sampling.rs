//! Generation for every model: seeded batches of bounded size, and conditions met natively
//! (models that implement [`Synthesizer::sample_conditioned`]) or by rejection.
//!
//! Draw round `k` of a generation uses a ChaCha8 stream seeded from `(seed, k)`, so the
//! same seed and batch size always give the same rows. With conditions, each round draws
//! candidates, keeps the rows that satisfy all conditions, and stops with
//! [`ModelError::HopelessConditions`] when the observed acceptance rate says the request
//! would need more draws than the limit. Rows from a model that conditions natively are
//! verified the same way, so a row that misses a condition is never emitted.
//! [`sample_rebalanced`] tops a class up to a wanted count with conditioned rows.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray};
use arrow::compute::{concat_batches, filter_record_batch};
use mirage_core::schema::{ColumnKind, PhysicalType, Schema};
use mirage_core::{Condition, ConditionOp, Value};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::columns::value_at;
use crate::error::{ModelError, Result};
use crate::synthesizer::Synthesizer;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleRequest {
    /// Rows wanted.
    pub rows: usize,
    /// Seed; the same seed and batch size give the same rows.
    pub seed: u64,
    /// Rows per emitted batch (memory stays proportional to this).
    pub batch_size: usize,
    /// Constraints every row must satisfy.
    pub conditions: Vec<Condition>,
    /// Most candidate rows to draw before giving up; `None` = 100 × rows + 1,000,000.
    pub max_draws: Option<u64>,
    /// Index of the first generated row within a larger generation, so that keys stay
    /// unique when one generation continues another (0 for a fresh one).
    pub first_row: u64,
}

impl SampleRequest {
    /// `rows` unconditional rows with this seed in batches of 10,000.
    pub fn new(rows: usize, seed: u64) -> Self {
        Self {
            rows,
            seed,
            batch_size: 10_000,
            conditions: Vec::new(),
            max_draws: None,
            first_row: 0,
        }
    }
}

/// A condition checked against the model's schema, with operands in the column's units.
#[derive(Debug, Clone)]
struct ResolvedCondition {
    index: usize,
    condition: Condition,
}

impl ResolvedCondition {
    fn mask(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        let array = batch.column(self.index);
        if let Some(strings) = array.as_any().downcast_ref::<StringArray>() {
            // Fast path: compare the strings in place.
            return Ok(strings
                .iter()
                .map(|v| {
                    let value = v.map_or(Value::Null, |s| Value::Str(s.to_string()));
                    Some(self.condition.matches(&value))
                })
                .collect());
        }
        (0..array.len())
            .map(|row| {
                let value = value_at(&self.condition.column, array.as_ref(), row)?;
                Ok(Some(self.condition.matches(&value)))
            })
            .collect()
    }
}

fn invalid(condition: &Condition, message: impl Into<String>) -> ModelError {
    ModelError::InvalidCondition {
        condition: condition.to_string(),
        message: message.into(),
    }
}

/// `condition` with its operands in the units of its column of `schema` (dates in the
/// column's format as milliseconds, `"yes"` as a boolean, numbers on text columns as
/// text), and that column's index; an unknown column or an operand of the wrong type is
/// refused.
fn in_column_units(schema: &Schema, condition: &Condition) -> Result<(usize, Condition)> {
    let index = schema.index_of(&condition.column).ok_or_else(|| {
        let names: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
        invalid(
            condition,
            format!(
                "the model has no column {:?}; columns: {}",
                condition.column,
                names.join(", ")
            ),
        )
    })?;
    let column = &schema.columns[index];
    let convert = |value: &Value| -> Result<Value> {
        Ok(match (value, column.physical, &column.kind) {
            (Value::Null, _, _) => Value::Null,
            (Value::Str(text), PhysicalType::TimestampMillis, ColumnKind::Datetime { format }) => {
                Value::Int(parse_datetime(text, format).ok_or_else(|| {
                    invalid(
                        condition,
                        format!("{text:?} is not a date in the column's format {format}"),
                    )
                })?)
            }
            (Value::Str(text), PhysicalType::Int64 | PhysicalType::Float64, _) => {
                return Err(invalid(
                    condition,
                    format!("{:?} is numeric; {text:?} is not a number", column.name),
                ));
            }
            (Value::Str(text), PhysicalType::Boolean, _) => {
                match text.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" => Value::Bool(true),
                    "false" | "no" | "0" => Value::Bool(false),
                    _ => {
                        return Err(invalid(
                            condition,
                            format!("{:?} is boolean; use true or false", column.name),
                        ));
                    }
                }
            }
            (Value::Int(_) | Value::Float(_) | Value::Bool(_), PhysicalType::Utf8, _) => {
                Value::Str(value.to_string())
            }
            (other, _, _) => other.clone(),
        })
    };
    let op = match &condition.op {
        ConditionOp::Eq(v) => ConditionOp::Eq(convert(v)?),
        ConditionOp::Gt(v) => ConditionOp::Gt(convert(v)?),
        ConditionOp::Ge(v) => ConditionOp::Ge(convert(v)?),
        ConditionOp::Lt(v) => ConditionOp::Lt(convert(v)?),
        ConditionOp::Le(v) => ConditionOp::Le(convert(v)?),
        ConditionOp::In(vs) => ConditionOp::In(vs.iter().map(convert).collect::<Result<_>>()?),
        ConditionOp::Between(lo, hi) => ConditionOp::Between(convert(lo)?, convert(hi)?),
    };
    Ok((index, Condition::new(condition.column.clone(), op)))
}

/// Which rows of `batch` (laid out as `schema`) meet every one of `conditions`, with the
/// operands read in the columns' units as the sampler reads them.
pub fn rows_meeting(
    schema: &Schema,
    batch: &RecordBatch,
    conditions: &[Condition],
) -> Result<BooleanArray> {
    let mut keep = BooleanArray::from(vec![true; batch.num_rows()]);
    for condition in conditions {
        let (index, condition) = in_column_units(schema, condition)?;
        let mask = ResolvedCondition { index, condition }.mask(batch)?;
        keep = arrow::compute::and(&keep, &mask)?;
    }
    Ok(keep)
}

/// Converts operands to the column's units and refuses conditions that cannot hold.
fn resolve(model: &dyn Synthesizer, condition: &Condition) -> Result<ResolvedCondition> {
    let (index, resolved) = in_column_units(model.schema(), condition)?;
    let column = &model.schema().columns[index];

    if let Some(categories) = model.category_set(&column.name)
        && let ConditionOp::Eq(_) | ConditionOp::In(_) = resolved.op
    {
        let any = categories
            .iter()
            .chain([&Value::Null])
            .any(|c| resolved.matches(c));
        if !any {
            let shown: Vec<String> = categories.iter().take(12).map(Value::to_string).collect();
            return Err(invalid(
                condition,
                format!(
                    "no such value in column {:?}; it takes {}{}",
                    column.name,
                    shown.join(", "),
                    if categories.len() > 12 { ", …" } else { "" }
                ),
            ));
        }
    }

    if let Some((min, max)) = model.numeric_range(&column.name) {
        let probes = [Value::Float(min), Value::Float(max)];
        let reachable = match &resolved.op {
            ConditionOp::Gt(v) | ConditionOp::Ge(v) => {
                resolved.matches(&probes[1]) || v.as_f64().is_none()
            }
            ConditionOp::Lt(v) | ConditionOp::Le(v) => {
                resolved.matches(&probes[0]) || v.as_f64().is_none()
            }
            ConditionOp::Between(lo, hi) => match (lo.as_f64(), hi.as_f64()) {
                (Some(lo), Some(hi)) => lo <= hi && hi >= min && lo <= max,
                _ => true,
            },
            _ => true,
        };
        if !reachable {
            return Err(invalid(
                condition,
                format!(
                    "column {:?} ranges over [{min}, {max}] in this model, so no row can satisfy it",
                    column.name
                ),
            ));
        }
    }
    Ok(ResolvedCondition {
        index,
        condition: resolved,
    })
}

fn parse_datetime(text: &str, format: &str) -> Option<i64> {
    use chrono::{NaiveDate, NaiveDateTime};
    NaiveDateTime::parse_from_str(text.trim(), format)
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text.trim(), format)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .map(|dt| dt.and_utc().timestamp_millis())
}

/// Rows produced batch by batch; see [`sample`].
#[derive(Debug)]
pub struct SampleIter<'a> {
    model: &'a dyn Synthesizer,
    request: SampleRequest,
    conditions: Vec<ResolvedCondition>,
    emitted: usize,
    round: u64,
    drawn: u64,
    accepted: u64,
    pending: VecDeque<RecordBatch>,
    pending_rows: usize,
    failed: bool,
}

/// Starts a generation: checks the request and conditions now, then yields batches of at
/// most `batch_size` rows until `rows` rows were produced.
pub fn sample<'a>(model: &'a dyn Synthesizer, request: &SampleRequest) -> Result<SampleIter<'a>> {
    if request.batch_size == 0 {
        return Err(ModelError::InvalidConfig {
            model: model.kind().name().to_string(),
            field: "batch_size".into(),
            message: "must be at least 1".into(),
        });
    }
    let conditions = request
        .conditions
        .iter()
        .map(|c| resolve(model, c))
        .collect::<Result<Vec<_>>>()?;
    Ok(SampleIter {
        model,
        request: request.clone(),
        conditions,
        emitted: 0,
        round: 0,
        drawn: 0,
        accepted: 0,
        pending: VecDeque::new(),
        pending_rows: 0,
        failed: false,
    })
}

/// Generates every row at once (convenient for small requests and tests).
pub fn sample_all(model: &dyn Synthesizer, request: &SampleRequest) -> Result<Vec<RecordBatch>> {
    sample(model, request)?.collect()
}

impl SampleIter<'_> {
    /// Candidate rows drawn so far (accepted or not): the next free row index for keys.
    pub fn rows_drawn(&self) -> u64 {
        self.drawn
    }

    fn max_draws(&self) -> u64 {
        self.request
            .max_draws
            .unwrap_or(100 * self.request.rows as u64 + 1_000_000)
    }

    fn round_rng(&self) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.request.seed);
        rng.set_stream(self.round);
        rng
    }

    /// Draws one round of candidates and keeps those meeting the conditions.
    fn draw_round(&mut self) -> Result<()> {
        let wanted = self.request.rows - self.emitted - self.pending_rows;
        let batch = self.request.batch_size;
        let resolved: Vec<Condition> = self
            .conditions
            .iter()
            .map(|c| c.condition.clone())
            .collect();
        if !resolved.is_empty() {
            let mut rng = self.round_rng();
            let draw = wanted.min(batch);
            if let Some(native) = self.model.sample_conditioned(
                draw,
                self.request.first_row + self.drawn,
                &resolved,
                &mut rng,
            ) {
                let candidates = native?;
                self.round += 1;
                self.drawn += draw as u64;
                return self.keep(candidates, wanted);
            }
        }
        let draw = if self.conditions.is_empty() {
            wanted.min(batch)
        } else {
            // Draw enough to likely fill the batch at the observed rate, within 8 batches.
            let rate = if self.drawn == 0 {
                1.0
            } else {
                (self.accepted.max(1) as f64) / self.drawn as f64
            };
            (((wanted.min(batch) as f64) / rate * 1.2).ceil() as usize)
                .clamp(batch.clamp(1, 1024), batch * 8)
        };
        let mut rng = self.round_rng();
        let candidates =
            self.model
                .sample_batch(draw, self.request.first_row + self.drawn, &mut rng)?;
        self.round += 1;
        self.drawn += draw as u64;
        self.keep(candidates, wanted)
    }

    /// Keeps the candidates that meet every condition, up to `wanted` rows.
    fn keep(&mut self, candidates: RecordBatch, wanted: usize) -> Result<()> {
        let kept = if self.conditions.is_empty() {
            candidates
        } else {
            let mut keep = BooleanArray::from(vec![true; candidates.num_rows()]);
            for condition in &self.conditions {
                let mask = condition.mask(&candidates)?;
                keep = arrow::compute::and(&keep, &mask)?;
            }
            filter_record_batch(&candidates, &keep)?
        };
        self.accepted += kept.num_rows() as u64;
        let take = kept.num_rows().min(wanted);
        if take > 0 {
            self.pending_rows += take;
            self.pending.push_back(kept.slice(0, take));
        }
        self.check_hopeless()
    }

    fn check_hopeless(&self) -> Result<()> {
        if self.conditions.is_empty() || self.drawn < 10_000 {
            return Ok(());
        }
        let rate = self.accepted as f64 / self.drawn as f64;
        let rows = self.request.rows as u64;
        let needed = if self.accepted == 0 {
            f64::INFINITY
        } else {
            rows as f64 / rate
        };
        let limit = self.max_draws();
        if needed > limit as f64
            || (self.drawn >= limit && self.emitted + self.pending_rows < self.request.rows)
        {
            let text: Vec<String> = self
                .request
                .conditions
                .iter()
                .map(Condition::to_string)
                .collect();
            return Err(ModelError::HopelessConditions {
                conditions: text.join(", "),
                accepted: self.accepted,
                drawn: self.drawn,
                rate: rate * 100.0,
                rows,
                needed,
                limit,
            });
        }
        Ok(())
    }

    fn take_batch(&mut self) -> Result<RecordBatch> {
        let size = self.request.batch_size.min(self.pending_rows);
        let mut parts = Vec::new();
        let mut have = 0;
        while have < size {
            let Some(front) = self.pending.pop_front() else {
                break;
            };
            let need = size - have;
            if front.num_rows() > need {
                parts.push(front.slice(0, need));
                self.pending
                    .push_front(front.slice(need, front.num_rows() - need));
                have += need;
            } else {
                have += front.num_rows();
                parts.push(front);
            }
        }
        self.pending_rows -= have;
        self.emitted += have;
        let schema = Arc::clone(&self.model.schema().arrow_schema());
        Ok(concat_batches(&schema, &parts)?)
    }
}

impl Iterator for SampleIter<'_> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.emitted >= self.request.rows {
            return None;
        }
        while self.pending_rows < self.request.batch_size
            && self.emitted + self.pending_rows < self.request.rows
        {
            if let Err(e) = self.draw_round() {
                self.failed = true;
                return Some(Err(e));
            }
        }
        Some(self.take_batch())
    }
}

/// Generates `request` and then, while the rows hold fewer than `count` rows whose
/// `column` equals `class`, more rows conditioned on that class (native conditioning where
/// the model has it), appended after the others: "generate until class C has N rows".
/// The extra rows use the seed `request.seed + 1`, so the whole result is reproducible;
/// their generated keys start again from the first key, so key columns may repeat.
pub fn sample_rebalanced(
    model: &dyn Synthesizer,
    request: &SampleRequest,
    column: &str,
    class: Value,
    count: usize,
) -> Result<Vec<RecordBatch>> {
    let mut first = sample(model, request)?;
    let mut batches = Vec::new();
    for batch in first.by_ref() {
        batches.push(batch?);
    }
    let drawn = first.rows_drawn();
    let condition = Condition::new(column, ConditionOp::Eq(class));
    let resolved = resolve(model, &condition)?;
    let mut have = 0;
    for batch in &batches {
        have += resolved
            .mask(batch)?
            .iter()
            .filter(|m| m.unwrap_or(false))
            .count();
    }
    if have < count {
        let mut extra = request.clone();
        extra.rows = count - have;
        extra.seed = request.seed.wrapping_add(1);
        // Continue the key sequence after every row the first pass drew.
        extra.first_row = request.first_row + drawn;
        extra.conditions.push(condition);
        let more = sample_all(model, &extra)?;
        batches.extend(more);
    }
    Ok(batches)
}
