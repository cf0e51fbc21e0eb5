//! Sequence-length truncation: each entity keeps at most `max_length` events.
//!
//! The DP subtlety: in a sequential table the unit of privacy is the entity (all its
//! events), so without a bound one entity can move a per-event statistic by any amount.
//! Truncating every sequence to `max_length` bounds each entity's contribution: a
//! per-event count or histogram computed afterwards has sensitivity at most
//! `max_length` (L1, and L2 too, since in the worst case all of an entity's events land
//! in the same cell), and per-event mechanisms must be calibrated to that. Which events
//! are kept (the first ones, say) must be decided per entity, never from other
//! entities' data. The length itself is a DP output, so using it is post-processing;
//! the lengths are one number per entity, so their quantile has the usual entity-level
//! sensitivity.

use rand::Rng;

use super::capping::charged_range;
use super::{Protection, check_rho, in_column, invalid, mark_plain};
use crate::error::Result;
use crate::mechanism::dp_quantiles;
use crate::tracker::{Mechanism, PrivacyTracker};

/// The usual percentile of sequence lengths that is kept whole.
pub const DEFAULT_PERCENTILE: f64 = 0.99;

/// The maximum number of events kept per entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    max_length: usize,
}

impl Truncation {
    /// Fits the maximum length of the sequences keyed by `column` from the per-entity
    /// `lengths`, at `percentile` in (0, 1] (usually [`DEFAULT_PERCENTILE`]).
    ///
    /// - [`Protection::Declared`]: the declared `max_length`, free; `lengths` is not read.
    /// - [`Protection::Dp`]: the DP percentile of the lengths in [1, declared
    ///   `max_length`] or, without one, in [1, top of a [`super::dp_range`]] (ρ split
    ///   evenly); charged as "range of lengths of …" (Gaussian) and "maximum length of
    ///   …" (zCDP).
    /// - [`Protection::Plain`]: the exact percentile (nearest rank, so at least that
    ///   share of entities keeps every event); the run is marked not DP.
    ///
    /// The result is at least 1. Errors name the column: percentile out of (0, 1], no
    /// lengths (when the data is read), ρ not positive, or no declared `max_length`.
    pub fn fit(
        column: &str,
        lengths: &[u64],
        percentile: f64,
        source: Protection<'_>,
        tracker: &mut PrivacyTracker,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        if !(percentile > 0.0 && percentile <= 1.0) {
            return Err(invalid(
                column,
                "percentile",
                format!("{percentile} is not in (0, 1]"),
            ));
        }
        let read = || -> Result<Vec<f64>> {
            if lengths.is_empty() {
                return Err(invalid(column, "lengths", "no sequence lengths were given"));
            }
            Ok(lengths.iter().map(|&n| n as f64).collect())
        };
        match source {
            Protection::Declared(declared) => match declared.max_length {
                Some(max_length) if max_length >= 1 => Ok(Self { max_length }),
                Some(_) => Err(invalid(column, "max_length", "must be at least 1")),
                None => Err(invalid(
                    column,
                    "max_length",
                    "no maximum length is declared; declare it or measure it with DP",
                )),
            },
            Protection::Dp { rho, declared } => {
                check_rho(column, rho)?;
                let lengths = read()?;
                let (upper, rho_quantile) = match declared.and_then(|d| d.max_length) {
                    Some(0) => return Err(invalid(column, "max_length", "must be at least 1")),
                    // Nothing left to measure.
                    Some(1) => return Ok(Self { max_length: 1 }),
                    Some(max_length) => (max_length as f64, rho),
                    None => {
                        let what = format!("lengths of {column}");
                        let (_, high) =
                            charged_range(column, &what, &lengths, rho / 2.0, tracker, rng)?;
                        (high.max(2.0), rho / 2.0)
                    }
                };
                tracker
                    .charge(
                        format!("maximum length of {column}"),
                        Mechanism::Zcdp { rho: rho_quantile },
                    )
                    .map_err(|e| in_column(column, e))?;
                let quantile = dp_quantiles(&lengths, 1.0, upper, &[percentile], rho_quantile, rng)
                    .map_err(|e| in_column(column, e))?;
                let length = quantile
                    .first()
                    .copied()
                    .unwrap_or(upper)
                    .ceil()
                    .clamp(1.0, upper);
                Ok(Self {
                    max_length: length as usize,
                })
            }
            Protection::Plain => {
                read()?;
                mark_plain(tracker, "sequence truncation", column);
                let mut sorted = lengths.to_vec();
                sorted.sort_unstable();
                let rank = (percentile * sorted.len() as f64).ceil() as usize;
                let length = sorted
                    .get(rank.clamp(1, sorted.len()) - 1)
                    .copied()
                    .unwrap_or(1)
                    .max(1);
                Ok(Self {
                    max_length: usize::try_from(length).unwrap_or(usize::MAX),
                })
            }
        }
    }

    /// A truncation to a known length (at least 1).
    pub fn new(max_length: usize) -> Self {
        Self {
            max_length: max_length.max(1),
        }
    }

    /// How many of an entity's `events` to keep.
    pub fn apply(&self, events: usize) -> usize {
        events.min(self.max_length)
    }

    /// The maximum number of events per entity: the sensitivity bound of per-event
    /// mechanisms applied after truncation.
    pub fn max_length(&self) -> usize {
        self.max_length
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public::PublicColumn;
    use crate::tracker::PrivacyBudget;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn tracker() -> PrivacyTracker {
        PrivacyTracker::new(PrivacyBudget::new(20.0, 1e-5).expect("budget"))
    }

    /// 10 000 entities with 1..=100 events, and one with a million.
    fn lengths() -> Vec<u64> {
        let mut lengths: Vec<u64> = (0..10_000u64).map(|i| i % 100 + 1).collect();
        lengths.push(1_000_000);
        lengths
    }

    #[test]
    fn dp_length_is_close_to_the_exact_one_and_charged() {
        let lengths = lengths();
        let mut plain = tracker();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let exact = Truncation::fit(
            "user_id",
            &lengths,
            DEFAULT_PERCENTILE,
            Protection::Plain,
            &mut plain,
            &mut rng,
        )
        .expect("plain");
        // Nearest rank 9 901 of 10 001: lengths 1..=100 a hundred times each.
        assert_eq!(exact.max_length(), 100);

        let mut tracker = tracker();
        let before = tracker.report().expect("report").epsilon_rdp;
        let truncation = Truncation::fit(
            "user_id",
            &lengths,
            DEFAULT_PERCENTILE,
            Protection::dp(1.0),
            &mut tracker,
            &mut rng,
        )
        .expect("dp");
        assert!(
            truncation.max_length().abs_diff(100) <= 3,
            "{}",
            truncation.max_length()
        );
        assert_eq!(truncation.apply(1_000_000), truncation.max_length());
        assert_eq!(truncation.apply(3), 3);
        let report = tracker.report().expect("report");
        assert!(report.differentially_private);
        assert!(report.epsilon_rdp > before);
        let labels: Vec<&str> = report.events.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(
            labels,
            vec!["range of lengths of user_id", "maximum length of user_id"]
        );
    }

    #[test]
    fn dp_within_a_declared_maximum_charges_only_the_quantile() {
        let declared = PublicColumn {
            max_length: Some(500),
            ..Default::default()
        };
        let mut tracker = tracker();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let truncation = Truncation::fit(
            "user_id",
            &lengths(),
            0.5,
            Protection::dp_with(1.0, &declared),
            &mut tracker,
            &mut rng,
        )
        .expect("dp");
        assert!(truncation.max_length().abs_diff(50) <= 3, "{truncation:?}");
        let report = tracker.report().expect("report");
        assert_eq!(report.events.len(), 1);
        assert!(matches!(report.events[0].mechanism, Mechanism::Zcdp { rho } if rho == 1.0));
    }

    #[test]
    fn declared_is_free_and_plain_is_not_dp() {
        let declared = PublicColumn {
            max_length: Some(64),
            ..Default::default()
        };
        let mut tracker = tracker();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let truncation = Truncation::fit(
            "user_id",
            &[],
            DEFAULT_PERCENTILE,
            Protection::Declared(&declared),
            &mut tracker,
            &mut rng,
        )
        .expect("declared");
        assert_eq!(truncation, Truncation::new(64));
        let report = tracker.report().expect("report");
        assert!(report.events.is_empty());
        assert!(report.differentially_private);

        let truncation = Truncation::fit(
            "user_id",
            &[0, 0, 0],
            1.0,
            Protection::Plain,
            &mut tracker,
            &mut rng,
        )
        .expect("plain");
        assert_eq!(truncation.max_length(), 1);
        let report = tracker.report().expect("report");
        assert!(!report.differentially_private);
        assert_eq!(
            report.not_dp_reasons,
            vec!["sequence truncation: user_id computed from the data without DP".to_string()]
        );
    }

    #[test]
    fn bad_parameters_are_refused_with_the_column() {
        let none = PublicColumn::default();
        let zero = PublicColumn {
            max_length: Some(0),
            ..Default::default()
        };
        let lengths = [3u64, 4, 5];
        let cases: Vec<(&[u64], f64, Protection<'_>)> = vec![
            (&lengths, 0.0, Protection::Plain),
            (&lengths, 1.5, Protection::Plain),
            (&lengths, f64::NAN, Protection::dp(1.0)),
            (&[], 0.99, Protection::Plain),
            (&[], 0.99, Protection::dp(1.0)),
            (&lengths, 0.99, Protection::dp(0.0)),
            (&lengths, 0.99, Protection::Declared(&none)),
            (&lengths, 0.99, Protection::Declared(&zero)),
            (&lengths, 0.99, Protection::dp_with(1.0, &zero)),
        ];
        for (lengths, percentile, source) in cases {
            let mut tracker = tracker();
            let mut rng = ChaCha8Rng::seed_from_u64(4);
            let err = Truncation::fit(
                "user_id",
                lengths,
                percentile,
                source,
                &mut tracker,
                &mut rng,
            )
            .expect_err("refused");
            assert!(err.to_string().contains("\"user_id\""), "{err}");
            assert!(tracker.events().is_empty());
        }
    }
}
