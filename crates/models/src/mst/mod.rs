//! MST as a Mirage model: the DP column statistics turn every column into codes
//! (categories, OTHER and null for discrete columns; DP-quantile tokens and null for
//! numbers), [`mirage_privacy::MstModel`] measures and fits the marginals on the codes
//! with the rest of the budget, and sampling decodes codes back into values. Identifier
//! columns get fresh keys; text columns cannot be learned with DP.
//!
//! The budget splits by zCDP ρ (the ρ that converts to the target (ε, δ)): the column
//! statistics take `privacy.preprocessing_share` of it, MST the rest; every measurement
//! is charged to the run's tracker, so the reported ε is the RDP composition of all.

mod config;
#[cfg(test)]
mod tests;

use arrow::array::{ArrayRef, RecordBatch};
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, PhysicalType};
use mirage_core::{Schema, Table, Value};
use mirage_privacy::{Mechanism, MstMeasurementKind, MstModel, PrivacyReport};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use config::MstConfig;

use crate::columns::{build_numeric, build_values, numeric_values, value_at};
use crate::copula::KeyGenerator;
use crate::dp::{self, ColumnStats, DpStatistics, NumericBins, OTHER_LABEL};
use crate::error::{ModelError, Result};
use crate::progress::{FitContext, ProgressEvent};
use crate::synthesizer::{Synthesizer, ensure_not_empty};

/// How one modelled column maps to MST codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "coding", rename_all = "snake_case")]
enum ColumnCoding {
    /// Fresh keys, not modelled.
    Key,
    /// Categories, then OTHER (when the statistics found values outside them), then
    /// null (when the schema allows nulls).
    Discrete {
        /// The categories.
        categories: Vec<Value>,
        /// Whether OTHER has a code.
        other: bool,
        /// Whether null has a code.
        nullable: bool,
        /// The code values outside the categories get when OTHER has none: the most
        /// frequent category by the noisy counts.
        fallback: u32,
        /// Index among the MST columns.
        mst: usize,
    },
    /// DP-quantile tokens, then null (when the schema allows nulls).
    Numeric {
        /// The tokens.
        bins: NumericBins,
        /// Whether null has a code.
        nullable: bool,
        /// Index among the MST columns.
        mst: usize,
    },
}

impl ColumnCoding {
    /// The code of a discrete value.
    fn discrete_code(&self, value: &Value) -> u32 {
        let ColumnCoding::Discrete {
            categories,
            other,
            nullable,
            fallback,
            ..
        } = self
        else {
            return 0;
        };
        let k = categories.len() as u32;
        if matches!(value, Value::Null) {
            return if *nullable {
                k + u32::from(*other)
            } else {
                *fallback
            };
        }
        let key = value.to_string();
        match categories.iter().position(|c| c.to_string() == key) {
            Some(i) => i as u32,
            None if *other => k,
            None => *fallback,
        }
    }
}

/// What the model learned; saved as its parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Parameters {
    codings: Vec<ColumnCoding>,
    model: Option<MstModel>,
    report: PrivacyReport,
}

/// A fitted MST model.
#[derive(Debug)]
pub struct Mst {
    config: MstConfig,
    schema: Schema,
    parameters: Parameters,
}

fn domain(coding: &ColumnCoding) -> Option<usize> {
    match coding {
        ColumnCoding::Key => None,
        ColumnCoding::Discrete {
            categories,
            other,
            nullable,
            ..
        } => Some((categories.len() + usize::from(*other) + usize::from(*nullable)).max(1)),
        ColumnCoding::Numeric { bins, nullable, .. } => Some(bins.len() + usize::from(*nullable)),
    }
}

impl Mst {
    /// Measures, fits and keeps the model; the config must carry a privacy budget.
    pub fn fit(table: &Table, config: MstConfig, context: &mut FitContext) -> Result<Self> {
        ensure_not_empty(table)?;
        let settings = config.privacy.clone();
        let mut tracker = settings.tracker()?;
        // Every draw of the fit is noise: from the OS, never from the saved seed.
        let mut rng = dp::secret_rng()?;
        let source = table.schema();
        let mut kept = Vec::new();
        for (i, column) in source.columns.iter().enumerate() {
            if column.kind == ColumnKind::Text {
                tracker.mark_not_dp(format!(
                    "column {:?}: text columns are learned from the raw values, which DP \
                     cannot protect; drop the column",
                    column.name
                ));
            } else {
                kept.push(i);
            }
        }
        dp::finish(&tracker, &settings)?;
        context.report(ProgressEvent {
            stage: "statistics",
            step: 0,
            total: 2,
            message: "measuring column statistics with DP".into(),
            ..ProgressEvent::default()
        });
        let stats = DpStatistics::measure(table, &kept, &settings, &mut tracker, &mut rng)?;
        let mut codings = Vec::with_capacity(kept.len());
        let mut codes: Vec<Vec<u32>> = Vec::new();
        for &index in &kept {
            let column = &source.columns[index];
            if column.kind == ColumnKind::Identifier {
                codings.push(ColumnCoding::Key);
                continue;
            }
            let Some(column_stats) = stats.column(&column.name) else {
                return Err(ModelError::UnsupportedColumn {
                    column: column.name.clone(),
                    message: "no DP statistics were measured for it".into(),
                });
            };
            let array = table.column(index)?;
            let mst = codes.len();
            if let Some(bins) = NumericBins::from_stats(column_stats) {
                let null = bins.len() as u32;
                let values = numeric_values(&column.name, array.as_ref())?;
                codes.push(
                    values
                        .iter()
                        .map(|v| v.map_or(null, |x| bins.encode(x)))
                        .collect(),
                );
                codings.push(ColumnCoding::Numeric {
                    bins,
                    nullable: column.nullable,
                    mst,
                });
            } else {
                let ColumnStats::Discrete {
                    categories,
                    counts,
                    other,
                    ..
                } = column_stats
                else {
                    return Err(ModelError::UnsupportedColumn {
                        column: column.name.clone(),
                        message: "numeric statistics without a quantile grid".into(),
                    });
                };
                let fallback = counts
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(i, _)| i as u32);
                let coding = ColumnCoding::Discrete {
                    categories: categories.clone(),
                    // With no category at all, OTHER carries every value.
                    other: *other || categories.is_empty(),
                    nullable: column.nullable,
                    fallback,
                    mst,
                };
                let mut column_codes = Vec::with_capacity(array.len());
                for row in 0..array.len() {
                    let value = value_at(&column.name, array.as_ref(), row)?;
                    column_codes.push(coding.discrete_code(&value));
                }
                codes.push(column_codes);
                codings.push(coding);
            }
        }
        let domains: Vec<usize> = codings.iter().filter_map(domain).collect();
        let model = if codes.is_empty() {
            None
        } else {
            context.report(ProgressEvent {
                stage: "marginals",
                step: 1,
                total: 2,
                message: "measuring marginals and fitting the tree model".into(),
                ..ProgressEvent::default()
            });
            let rho = tracker.rho_for_share(1.0 - settings.preprocessing_share);
            let model = MstModel::fit(&codes, &domains, rho, &config.options(), &mut rng)?;
            for m in model.measurements() {
                let names: Vec<&str> = m
                    .columns
                    .iter()
                    .filter_map(|&c| mst_column_name(&codings, &kept, source, c))
                    .collect();
                let label = format!("mst {} {}", m.kind.as_str(), names.join(" × "));
                let mechanism = match (m.kind, m.sigma, m.epsilon) {
                    (MstMeasurementKind::Selection, _, Some(epsilon)) => {
                        Mechanism::Exponential { epsilon, count: 1 }
                    }
                    (_, Some(sigma), _) => Mechanism::Gaussian {
                        sigma,
                        sensitivity: 1.0,
                    },
                    _ => Mechanism::Zcdp { rho: m.rho },
                };
                tracker.charge(label, mechanism)?;
            }
            Some(model)
        };
        let report = dp::finish(&tracker, &settings)?;
        let schema = source.project(
            &kept
                .iter()
                .map(|&i| source.columns[i].name.as_str())
                .collect::<Vec<_>>(),
        );
        Ok(Self {
            config,
            schema,
            parameters: Parameters {
                codings,
                model,
                report,
            },
        })
    }

    /// Rebuilds a saved model.
    pub fn restore(
        schema: Schema,
        config: &serde_json::Value,
        parameters: serde_json::Value,
    ) -> Result<Self> {
        let config = MstConfig::from_json(config)?;
        let corrupt = |message: String| ModelError::InvalidConfig {
            model: "mst".into(),
            field: "parameters".into(),
            message,
        };
        let parameters: Parameters =
            serde_json::from_value(parameters).map_err(|e| corrupt(e.to_string()))?;
        if parameters.codings.len() != schema.len() {
            return Err(corrupt(format!(
                "{} column codings for {} schema columns",
                parameters.codings.len(),
                schema.len()
            )));
        }
        let mst_columns = parameters
            .codings
            .iter()
            .filter(|c| !matches!(c, ColumnCoding::Key))
            .count();
        match &parameters.model {
            Some(model) => {
                model.validate().map_err(|e| corrupt(e.to_string()))?;
                if model.domains().len() != mst_columns {
                    return Err(corrupt("the MST model and the codings disagree".into()));
                }
            }
            None if mst_columns > 0 => return Err(corrupt("the MST model is missing".into())),
            None => {}
        }
        Ok(Self {
            config,
            schema,
            parameters,
        })
    }
}

fn mst_column_name<'a>(
    codings: &[ColumnCoding],
    kept: &[usize],
    source: &'a Schema,
    mst: usize,
) -> Option<&'a str> {
    codings
        .iter()
        .zip(kept)
        .find_map(|(coding, &i)| match coding {
            ColumnCoding::Discrete { mst: m, .. } | ColumnCoding::Numeric { mst: m, .. }
                if *m == mst =>
            {
                Some(source.columns[i].name.as_str())
            }
            _ => None,
        })
}

impl Synthesizer for Mst {
    fn kind(&self) -> ModelKind {
        ModelKind::Mst
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn sample_batch(
        &self,
        rows: usize,
        first_row: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<RecordBatch> {
        let codes = match &self.parameters.model {
            Some(model) => model.sample(rows, rng),
            None => Vec::new(),
        };
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.schema.len());
        for (coding, column) in self.parameters.codings.iter().zip(&self.schema.columns) {
            let array = match coding {
                ColumnCoding::Key => {
                    KeyGenerator::fresh(column.physical).array(column.physical, rows, first_row)
                }
                ColumnCoding::Numeric { bins, mst, .. } => {
                    let null = bins.len() as u32;
                    let values: Vec<Option<f64>> = codes[*mst]
                        .iter()
                        .map(|&c| (c != null).then(|| bins.decode(c, rng)))
                        .collect();
                    build_numeric(column.physical, &values)
                }
                ColumnCoding::Discrete {
                    categories,
                    other,
                    nullable,
                    fallback,
                    mst,
                } => {
                    // OTHER is a label in string columns; elsewhere null, or the most
                    // frequent category where nulls are not allowed.
                    let other_value = if column.physical == PhysicalType::Utf8 {
                        Some(Value::Str(OTHER_LABEL.to_string()))
                    } else if *nullable {
                        None
                    } else {
                        categories.get(*fallback as usize).cloned()
                    };
                    let values: Vec<Option<&Value>> = codes[*mst]
                        .iter()
                        .map(|&c| {
                            let c = c as usize;
                            if c < categories.len() {
                                Some(&categories[c])
                            } else if c == categories.len() && *other {
                                other_value.as_ref()
                            } else {
                                None
                            }
                        })
                        .collect();
                    build_values(&column.name, column.physical, &values)?
                }
            };
            arrays.push(array);
        }
        Ok(RecordBatch::try_new(self.schema.arrow_schema(), arrays)?)
    }

    fn category_set(&self, column: &str) -> Option<Vec<Value>> {
        let index = self.schema.columns.iter().position(|c| c.name == column)?;
        match &self.parameters.codings[index] {
            ColumnCoding::Discrete { categories, .. } => Some(categories.clone()),
            _ => None,
        }
    }

    fn numeric_range(&self, column: &str) -> Option<(f64, f64)> {
        let index = self.schema.columns.iter().position(|c| c.name == column)?;
        match &self.parameters.codings[index] {
            ColumnCoding::Numeric { bins, .. } => Some(bins.range()),
            _ => None,
        }
    }

    fn privacy_report(&self) -> Option<PrivacyReport> {
        Some(self.parameters.report.clone())
    }

    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or(serde_json::Value::Null)
    }

    fn parameters_json(&self) -> Result<serde_json::Value> {
        serde_json::to_value(&self.parameters).map_err(|e| ModelError::InvalidConfig {
            model: "mst".into(),
            field: "parameters".into(),
            message: e.to_string(),
        })
    }
}
