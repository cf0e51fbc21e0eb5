//! DP-TabularARGN: the whole fit under one privacy account.
//!
//! [`fit`] runs the tracker → [`DpStatistics::measure`] over every column (text columns
//! are marked not DP there; keys are generated fresh, reading nothing) → encoders from the statistics only
//! ([`encoders`]) → DP-SGD for the plan's fixed steps ([`sgd`]) → [`crate::dp::finish`].
//! The batches and the noise come from a generator seeded by the operating system, so
//! the noise cannot be recomputed from the config's seed; the seed still fixes the
//! initial weights and the column orders. The report is kept in the model's parameters.

pub mod encoders;
pub mod sgd;

use mirage_core::Table;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tracing::info;

use super::network::Network;
use super::{
    ArgnConfig, ColumnCodec, TabularArgn, encode_tokens, fit_codec, layout_of, network_columns,
};
use crate::dp::{DpSettings, DpStatistics};
use crate::error::Result;
use crate::progress::{FitContext, ProgressEvent};

/// Fits TabularARGN with differential privacy.
pub fn fit(
    table: &Table,
    config: ArgnConfig,
    settings: DpSettings,
    context: &mut FitContext,
) -> Result<TabularArgn> {
    let schema = table.schema().clone();
    let mut tracker = settings.tracker()?;
    let mut secret = crate::dp::secret_rng()?;
    let all: Vec<usize> = (0..schema.len()).collect();
    let stats = DpStatistics::measure(table, &all, &settings, &mut tracker, &mut secret)?;
    crate::dp::ensure_private(&tracker, &settings)?;
    let mut columns = Vec::with_capacity(schema.len());
    for (index, column) in schema.columns.iter().enumerate() {
        context.check_cancelled()?;
        columns.push(match stats.column(&column.name) {
            Some(column_stats) => ColumnCodec::Tokens(encoders::encoder_from_stats(
                column,
                column_stats,
                &settings,
                stats.rows,
            )),
            // Keys: fresh ones that read nothing of the source.
            None if column.kind == mirage_core::schema::ColumnKind::Identifier => {
                ColumnCodec::Key(crate::copula::KeyGenerator::fresh(column.physical))
            }
            // Text: learned from the raw values, already marked not DP.
            None => {
                let array = table.column(index)?;
                fit_codec(
                    &column.kind,
                    column.physical,
                    &column.name,
                    array.as_ref(),
                    &config,
                )?
            }
        });
    }
    let network_columns = network_columns(&columns);
    // What has no token (a null where the statistics found too few nulls for a token of
    // their own) trains as OTHER, or as the first token.
    let tokens = encode_tokens(table, &columns, &network_columns, |encoder| {
        encoder.other_token().unwrap_or(0)
    })?;
    context.report(ProgressEvent {
        stage: "encoding",
        step: 1,
        total: 1,
        message: format!(
            "{} columns as tokens from DP statistics",
            network_columns.len()
        ),
        ..Default::default()
    });
    let mut seeded = ChaCha8Rng::seed_from_u64(config.training.seed);
    let network = Network::new(layout_of(&columns, &config), &mut seeded)?;
    if !network_columns.is_empty() {
        let run = sgd::train(
            &network,
            &tokens,
            stats.rows,
            &settings,
            &config,
            &mut tracker,
            context,
            &mut seeded,
            &mut secret,
        )?;
        info!(
            steps = run.steps,
            noise_multiplier = run.plan.noise_multiplier,
            sample_rate = run.plan.sample_rate,
            seconds = run.seconds,
            "dp-sgd done"
        );
    }
    let report = crate::dp::finish(&tracker, &settings)?;
    TabularArgn::assemble(config, schema, columns, network, None, Some(report))
}
