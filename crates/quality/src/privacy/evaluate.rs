//! [`evaluate_privacy`]: encodes the tables once, samples them, and runs every metric.

use mirage_core::{ColumnKind, Table};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::anonymeter::AttackData;
use super::anonymeter::inference::attribute_inference;
use super::anonymeter::linkability::linkability;
use super::anonymeter::singling_out::singling_out;
use super::columns::{EncodedTables, encode_tables};
use super::dcr::distance_to_closest_records;
use super::error::{PrivacyError, TableRole};
use super::membership::membership_inference;
use super::options::PrivacyOptions;
use super::report::{PrivacyReport, RowsUsed};
use super::sample::random_rows;
use crate::error::Result;

/// Measures how much `synthetic` gives away about `train`, using `holdout` (real rows the
/// generator never saw) as the yardstick.
///
/// The compared columns are the training table's columns except identifiers and free
/// text; the holdout and synthetic tables must have each of them. The training and holdout
/// tables are sampled to the same `n = min(train, holdout, max_rows)` rows, the synthetic
/// table to at most `max_rows`, all with `options.seed`. Then:
///
/// - [`DcrReport`](super::DcrReport): distances of synthetic and holdout rows to their
///   closest training rows, the closer-to-train share, identical matches and NNDR;
/// - [`MembershipReport`](super::MembershipReport): the density-ratio attack, the holdout
///   sample split into a reference half and a non-member half, as many training rows as
///   members;
/// - singling out, linkability and attribute inference as
///   [`RiskEstimate`](super::RiskEstimate)s, `options.attacks` attacks each.
///
/// # Errors
///
/// [`PrivacyError::TooFewRows`] for a training or holdout table under 2 rows or an empty
/// synthetic table, [`PrivacyError::MissingColumn`] / [`PrivacyError::IncompatibleColumn`]
/// when the holdout or synthetic table lacks or retypes a compared column,
/// [`PrivacyError::NoComparableColumns`], [`PrivacyError::UnknownColumn`] for a `secret` or
/// `aux_columns` entry that is not compared, and [`PrivacyError::InvalidOptions`].
pub fn evaluate_privacy(
    train: &Table,
    holdout: &Table,
    synthetic: &Table,
    options: &PrivacyOptions,
) -> Result<PrivacyReport> {
    options.validate()?;
    for (table, role, needed) in [
        (train, TableRole::Train, 2),
        (holdout, TableRole::Holdout, 2),
        (synthetic, TableRole::Synthetic, 1),
    ] {
        if table.num_rows() < needed {
            return Err(PrivacyError::TooFewRows {
                table: role,
                rows: table.num_rows(),
                needed,
            }
            .into());
        }
    }
    let encoded = encode_tables(train, holdout, synthetic)?;
    let secret = secret_column(&encoded, options)?;
    let (first, second) = link_columns(&encoded, options)?;

    let mut generator = ChaCha8Rng::seed_from_u64(options.seed);
    let n = encoded
        .train
        .rows()
        .min(encoded.holdout.rows())
        .min(options.max_rows);
    let train_sample =
        encoded
            .train
            .select_rows(&random_rows(encoded.train.rows(), n, &mut generator));
    let holdout_sample =
        encoded
            .holdout
            .select_rows(&random_rows(encoded.holdout.rows(), n, &mut generator));
    let synthetic_rows = random_rows(encoded.synthetic.rows(), options.max_rows, &mut generator);
    let synthetic_sample = encoded.synthetic.select_rows(&synthetic_rows);

    let dcr = distance_to_closest_records(
        &encoded.train,
        &train_sample,
        &holdout_sample,
        &synthetic_sample,
    )?;

    // The samples are in random order, so halves and prefixes are random too.
    let half = n / 2;
    let reference: Vec<usize> = (0..half).collect();
    let tested: Vec<usize> = (half..n).collect();
    let members: Vec<usize> = (0..n - half).collect();
    let membership = membership_inference(
        &train_sample.select_rows(&members),
        &holdout_sample.select_rows(&tested),
        &holdout_sample.select_rows(&reference),
        &synthetic_sample,
    )?;

    let numeric: Vec<bool> = encoded.columns.iter().map(|c| c.is_numeric()).collect();
    let data = AttackData {
        train: &train_sample,
        control: &holdout_sample,
        synthetic: &synthetic_sample,
        numeric: &numeric,
        attacks: options.attacks,
        seed: options.seed,
    };
    let names = |columns: &[usize]| -> Vec<String> {
        let mut columns = columns.to_vec();
        columns.sort_by_key(|&c| encoded.schema_order.iter().position(|&s| s == c));
        columns
            .iter()
            .map(|&c| encoded.columns[c].name.clone())
            .collect()
    };
    Ok(PrivacyReport {
        dcr,
        membership,
        singling_out: singling_out(&data),
        linkability: linkability(&data, &first, &second)?,
        attribute_inference: attribute_inference(&data, secret)?,
        rows: RowsUsed {
            train_total: train.num_rows(),
            holdout_total: holdout.num_rows(),
            synthetic_total: synthetic.num_rows(),
            train: n,
            holdout: n,
            synthetic: synthetic_sample.rows(),
        },
        columns: names(&encoded.schema_order),
        skipped: encoded.skipped.clone(),
        secret: encoded.columns[secret].name.clone(),
        link_columns: (names(&first), names(&second)),
    })
}

/// The matrix column of the attribute-inference target.
fn secret_column(encoded: &EncodedTables, options: &PrivacyOptions) -> Result<usize> {
    if let Some(name) = &options.secret {
        return Ok(position(encoded, "secret", name)?);
    }
    let last_categorical = encoded
        .schema_order
        .iter()
        .rev()
        .copied()
        .find(|&c| encoded.columns[c].kind == ColumnKind::Categorical);
    // `encode_tables` guarantees at least one column, so the fallback is never used.
    Ok(last_categorical
        .or_else(|| encoded.schema_order.last().copied())
        .unwrap_or(0))
}

/// The matrix columns of the two linkability sets.
fn link_columns(
    encoded: &EncodedTables,
    options: &PrivacyOptions,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if let Some((first, second)) = &options.aux_columns {
        let resolve = |names: &[String]| -> Result<Vec<usize>, PrivacyError> {
            names
                .iter()
                .map(|name| position(encoded, "aux_columns", name))
                .collect()
        };
        return Ok((resolve(first)?, resolve(second)?));
    }
    let columns = &encoded.schema_order;
    if columns.len() < 2 {
        return Ok((Vec::new(), Vec::new()));
    }
    let (first, second) = columns.split_at(columns.len() / 2);
    Ok((first.to_vec(), second.to_vec()))
}

/// The matrix column of a compared column named by an option.
fn position(
    encoded: &EncodedTables,
    option: &'static str,
    name: &str,
) -> Result<usize, PrivacyError> {
    encoded
        .position(name)
        .ok_or_else(|| PrivacyError::UnknownColumn {
            option,
            column: name.to_string(),
            available: encoded.names(),
        })
}
