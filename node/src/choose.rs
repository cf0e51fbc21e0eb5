//! Picking a model when `mirage synth` is given none: a pure function of the table's shape,
//! the time budget and the models this build has, with a rough cost model.
//!
//! TabularARGN gives the best quality but trains in epochs; the GaussianCopula fits in one
//! pass over the data in well under a second per 100,000 rows. So TabularARGN is chosen when
//! its estimated training time for [`ARGN_EPOCHS_FOR_QUALITY`] epochs fits the share of the
//! budget left for training, and the GaussianCopula otherwise.

use std::time::Duration;

use anyhow::bail;
use mirage_core::records::ModelKind;
use mirage_core::{ColumnKind, DatasetProfile, Schema};

/// Sub-column cells (rows × sub-columns) TabularARGN trains per second on this machine's
/// 2 CPU cores, one epoch's forward and backward passes included.
///
/// Measured 2026-11-26 on this machine under load (load average 6–8, other builds beside
/// it), release build, Adult's 15 sub-columns: `target/release/mirage synth --rows 1000000`
/// trained 12 epochs of 32,561 rows in a 23.0 s fit stage (255,000 cells/s); and
/// `cargo run --release -p mirage-models --example argn_adult -- 10 1` (and `-- 20 1`)
/// trained 7 (16) epochs of 26,049 rows in 10 (20) s (273,000–312,000 cells/s; see
/// BENCHMARKS.md). The lower end is taken, so a loaded machine still meets the budget.
pub const ARGN_CELLS_PER_SECOND: f64 = 250_000.0;

/// Epochs TabularARGN needs for good quality: 7 epochs reach 0.975–0.977 on Adult and
/// about 20 converge (BENCHMARKS.md, "TabularARGN on Adult within a training budget").
pub const ARGN_EPOCHS_FOR_QUALITY: f64 = 8.0;

/// Share of the end-to-end budget left for training: ingest, profiling, sampling and the
/// assessment take the rest (about 2–3 s of 30 on Adult).
pub const TRAINING_SHARE: f64 = 0.8;

/// The shape of the table a model would learn, as the cost model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableShape {
    /// Training rows.
    pub rows: u64,
    /// Modelled columns.
    pub columns: usize,
    /// The discrete sub-columns TabularARGN learns them as.
    pub sub_columns: u64,
}

impl TableShape {
    /// The shape of `rows` training rows of the modelled `schema`. TabularARGN turns every
    /// learned column into one sub-column of tokens (categories, exact values or quantile
    /// bins; see `mirage_models::argn::encoding`); identifiers, free text and constants are
    /// generated without training. The `profile` marks columns that are all null as
    /// constant too.
    pub fn of(schema: &Schema, profile: &DatasetProfile, rows: u64) -> Self {
        let sub_columns = schema
            .columns
            .iter()
            .filter(|column| {
                let empty = profile
                    .column(&column.name)
                    .is_some_and(|c| c.count > 0 && c.null_count == c.count);
                !empty
                    && !matches!(
                        column.kind,
                        ColumnKind::Identifier | ColumnKind::Text | ColumnKind::Constant
                    )
            })
            .count() as u64;
        Self {
            rows,
            columns: schema.len(),
            sub_columns,
        }
    }

    /// TabularARGN's estimated training seconds to good quality.
    pub fn argn_training_seconds(&self) -> f64 {
        self.rows as f64 * self.sub_columns.max(1) as f64 * ARGN_EPOCHS_FOR_QUALITY
            / ARGN_CELLS_PER_SECOND
    }
}

/// The model to use and why, in words for the summary.
pub fn choose_model(
    shape: TableShape,
    budget: Duration,
    available: &[ModelKind],
) -> (ModelKind, String) {
    let size = format!("{} rows × {} columns", thousands(shape.rows), shape.columns);
    let budget_text = seconds_text(budget);
    if !available.contains(&ModelKind::TabularArgn) {
        return (
            ModelKind::GaussianCopula,
            format!("auto: tabular-argn is not available in this build; {size}"),
        );
    }
    let estimate = shape.argn_training_seconds();
    let allowed = training_seconds(budget);
    if estimate <= allowed {
        let epochs = BudgetSettings::new(shape, budget).max_epochs;
        let seconds = epochs as f64 * shape.rows as f64 * shape.sub_columns.max(1) as f64
            / ARGN_CELLS_PER_SECOND;
        (
            ModelKind::TabularArgn,
            format!(
                "auto: {size} fit the {budget_text} budget: {epochs} epochs, about {seconds:.0} s of training"
            ),
        )
    } else {
        (
            ModelKind::GaussianCopula,
            format!(
                "auto: {size} would need about {estimate:.0} s of tabular-argn training, more than the {budget_text} budget allows; raise --time-budget for higher quality"
            ),
        )
    }
}

/// The seconds of the end-to-end `budget` left for training.
pub fn training_seconds(budget: Duration) -> f64 {
    budget.as_secs_f64() * TRAINING_SHARE
}

/// A budget turned into model settings, each set only where the user's config has none.
///
/// The budget becomes an epoch count from the cost model rather than a wall-clock stop, so
/// the same seed still gives the same rows whatever the machine's load: a wall-clock stop
/// would end training after a different number of batches on every run. A wall-clock stop
/// at twice the training time stays as a safety net for a machine far slower than the
/// cost model assumes (only then does the output depend on timing).
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetSettings {
    /// Epochs that fit the training time by the cost model (at least 1).
    pub max_epochs: u64,
    /// The safety-net wall-clock stop in seconds.
    pub time_budget: f64,
}

impl BudgetSettings {
    /// The settings for training `shape` in `budget`.
    pub fn new(shape: TableShape, budget: Duration) -> Self {
        let seconds = training_seconds(budget);
        let cells = shape.rows.max(1) as f64 * shape.sub_columns.max(1) as f64;
        let max_epochs = (seconds * ARGN_CELLS_PER_SECOND / cells).floor().max(1.0) as u64;
        Self {
            max_epochs,
            time_budget: 2.0 * seconds,
        }
    }
}

/// Where a model's config takes the budget's settings, if it takes them: the path of the
/// epoch limit and of the wall-clock stop. The GaussianCopula fits in one pass and its
/// config refuses unknown fields, so it gets none.
pub fn budget_fields(kind: ModelKind) -> Option<[&'static [&'static str]; 2]> {
    match kind {
        ModelKind::TabularArgn => Some([&["training", "max_epochs"], &["training", "time_budget"]]),
        _ => None,
    }
}

/// `config` with the budget's settings where `kind` takes them, keeping any the user set;
/// `config` unchanged for models without a budget or when it is not a JSON object.
pub fn with_time_budget(
    kind: ModelKind,
    config: serde_json::Value,
    settings: &BudgetSettings,
) -> serde_json::Value {
    let Some([epochs_path, time_path]) = budget_fields(kind) else {
        return config;
    };
    let mut config = if config.is_null() {
        serde_json::Value::Object(serde_json::Map::new())
    } else {
        config
    };
    set_default(
        &mut config,
        epochs_path,
        serde_json::json!(settings.max_epochs),
    );
    set_default(
        &mut config,
        time_path,
        serde_json::json!(settings.time_budget),
    );
    config
}

/// Sets `path` in `config` to `value` unless it is set already.
fn set_default(config: &mut serde_json::Value, path: &[&str], value: serde_json::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = config;
    for key in parents {
        let Some(object) = node.as_object_mut() else {
            return;
        };
        node = object
            .entry(*key)
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    }
    if let Some(object) = node.as_object_mut() {
        object.entry(*last).or_insert(value);
    }
}

/// Parses `--time-budget`: `30s`, `2m`, `1h`, `1.5m` or plain seconds (`90`).
pub fn parse_budget(text: &str) -> anyhow::Result<Duration> {
    let trimmed = text.trim();
    let (number, unit) = match trimmed.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => trimmed.split_at(at),
        None => (trimmed, "s"),
    };
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        _ => bail!("--time-budget {text:?}: give seconds (90, 30s), minutes (2m) or hours (1h)"),
    };
    let value: f64 = number.trim().parse().map_err(|_| {
        anyhow::anyhow!(
            "--time-budget {text:?}: give seconds (90, 30s), minutes (2m) or hours (1h)"
        )
    })?;
    if !(value.is_finite() && value > 0.0) {
        bail!("--time-budget {text:?}: the budget must be more than zero");
    }
    Ok(Duration::from_secs_f64(value * scale))
}

fn seconds_text(budget: Duration) -> String {
    let seconds = budget.as_secs_f64();
    if seconds.fract() == 0.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{seconds:.1} s")
    }
}

/// `32561` → `32,561`.
fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: [ModelKind; 2] = [ModelKind::GaussianCopula, ModelKind::TabularArgn];

    fn adult() -> TableShape {
        TableShape {
            rows: 32_561,
            columns: 15,
            sub_columns: 15,
        }
    }

    #[test]
    fn adult_fits_thirty_seconds_with_argn() {
        let (kind, reason) = choose_model(adult(), Duration::from_secs(30), &BOTH);
        assert_eq!(kind, ModelKind::TabularArgn);
        assert!(reason.contains("32,561 rows × 15 columns"), "{reason}");
        assert!(reason.contains("30 s budget"), "{reason}");
    }

    #[test]
    fn big_tables_or_small_budgets_get_the_copula() {
        let big = TableShape {
            rows: 5_000_000,
            ..adult()
        };
        let (kind, reason) = choose_model(big, Duration::from_secs(30), &BOTH);
        assert_eq!(kind, ModelKind::GaussianCopula);
        assert!(reason.contains("raise --time-budget"), "{reason}");
        let (kind, _) = choose_model(adult(), Duration::from_secs(5), &BOTH);
        assert_eq!(kind, ModelKind::GaussianCopula);
        // The same big table fits a long enough budget.
        let (kind, _) = choose_model(big, Duration::from_secs(3 * 3600), &BOTH);
        assert_eq!(kind, ModelKind::TabularArgn);
    }

    #[test]
    fn without_argn_the_copula_is_chosen_and_the_reason_says_so() {
        let (kind, reason) = choose_model(
            adult(),
            Duration::from_secs(600),
            &[ModelKind::GaussianCopula],
        );
        assert_eq!(kind, ModelKind::GaussianCopula);
        assert!(reason.contains("not available"), "{reason}");
    }

    #[test]
    fn budgets_parse_in_seconds_minutes_and_hours() {
        assert_eq!(parse_budget("30s").ok(), Some(Duration::from_secs(30)));
        assert_eq!(parse_budget("2m").ok(), Some(Duration::from_secs(120)));
        assert_eq!(parse_budget("90").ok(), Some(Duration::from_secs(90)));
        assert_eq!(parse_budget("1.5m").ok(), Some(Duration::from_secs(90)));
        assert_eq!(parse_budget("1h").ok(), Some(Duration::from_secs(3600)));
        for bad in ["", "0", "-3s", "ten", "5 parsecs"] {
            assert!(parse_budget(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_models_that_take_a_budget_get_one() {
        let settings = BudgetSettings {
            max_epochs: 12,
            time_budget: 51.0,
        };
        let copula = with_time_budget(
            ModelKind::GaussianCopula,
            serde_json::Value::Null,
            &settings,
        );
        assert!(copula.is_null());
        let argn = with_time_budget(ModelKind::TabularArgn, serde_json::Value::Null, &settings);
        assert_eq!(
            argn,
            serde_json::json!({"training": {"max_epochs": 12, "time_budget": 51.0}})
        );
        // The user's own settings stay.
        let mine = serde_json::json!({"hidden": 64, "training": {"time_budget": 5.0}});
        assert_eq!(
            with_time_budget(ModelKind::TabularArgn, mine, &settings),
            serde_json::json!({"hidden": 64, "training": {"max_epochs": 12, "time_budget": 5.0}})
        );
    }

    #[test]
    fn budgets_become_epochs_by_the_cost_model() {
        let settings = BudgetSettings::new(adult(), Duration::from_secs(30));
        // 24 s × 250,000 cells/s ÷ (32,561 × 15) cells per epoch = 12.3.
        assert_eq!(settings.max_epochs, 12);
        assert!((settings.time_budget - 48.0).abs() < 1e-9);
        let tiny = BudgetSettings::new(adult(), Duration::from_secs(1));
        assert_eq!(tiny.max_epochs, 1);
    }

    #[test]
    fn shapes_count_sub_columns_by_kind() {
        use mirage_core::schema::{ColumnSchema, PhysicalType};
        use mirage_core::{ColumnProfile, DatasetProfile};
        let schema = Schema::new(vec![
            ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Int64),
            ColumnSchema::new("age", ColumnKind::Integer, PhysicalType::Int64),
            ColumnSchema::new("income", ColumnKind::Float, PhysicalType::Float64),
            ColumnSchema::new("city", ColumnKind::Categorical, PhysicalType::Utf8),
            ColumnSchema::new(
                "day",
                ColumnKind::Datetime {
                    format: "%Y-%m-%d".into(),
                },
                PhysicalType::TimestampMillis,
            ),
        ])
        .expect("schema");
        let column = |name: &str, nulls: u64| ColumnProfile {
            name: name.into(),
            kind: ColumnKind::Integer,
            count: 10,
            null_count: nulls,
            null_rate: 0.0,
            cardinality: 10 - nulls,
            cardinality_exact: true,
            min: None,
            max: None,
            mean: None,
            std: None,
            quantiles: vec![],
            histogram: vec![],
            top_values: vec![],
            mean_length: None,
            pii: vec![],
        };
        let profile = DatasetProfile {
            rows: 10,
            sample_rate: 1.0,
            columns: vec![
                column("id", 0),
                column("age", 2),
                column("income", 0),
                column("city", 10),
                column("day", 0),
            ],
        };
        let shape = TableShape::of(&schema, &profile, 10);
        // Not the key, not the all-null city.
        assert_eq!(shape.sub_columns, 3);
        assert_eq!(shape.columns, 5);
    }
}
