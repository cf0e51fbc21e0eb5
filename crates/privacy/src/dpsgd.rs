//! The parts of DP-SGD that do not depend on the network (Abadi et al., 2016): Poisson
//! sampling of batches, per-sample clipping factors, and the Gaussian noise on the sum of
//! clipped gradients. Models compute per-sample gradient norms themselves (for a linear
//! layer, ‖x‖·‖g‖ of its input and output gradient) and call these.

use rand::Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::error::{PrivacyError, Result};
use crate::tracker::{Mechanism, PrivacyTracker};

/// DP-SGD settings of one training run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DpSgdPlan {
    /// Poisson sampling rate q = expected batch / rows.
    pub sample_rate: f64,
    /// σ, in units of the clipping norm.
    pub noise_multiplier: f64,
    /// Clipping norm C.
    pub clip_norm: f64,
    /// Steps the plan allows.
    pub steps: u64,
    /// Expected batch size q·n: the clipped, noised sum is divided by it.
    pub expected_batch: f64,
}

impl DpSgdPlan {
    /// The plan for `steps` steps of expected batch `batch` over `rows` rows whose noise
    /// brings `tracker`'s spend to its target exactly.
    pub fn for_target(
        tracker: &PrivacyTracker,
        rows: usize,
        batch: usize,
        steps: u64,
        clip_norm: f64,
    ) -> Result<Self> {
        if rows == 0 || batch == 0 || steps == 0 {
            return Err(PrivacyError::InvalidParameter {
                field: "batch",
                message: format!("{rows} rows, batch {batch}, {steps} steps"),
            });
        }
        if !(clip_norm > 0.0 && clip_norm.is_finite()) {
            return Err(PrivacyError::InvalidParameter {
                field: "clip_norm",
                message: format!("{clip_norm} is not a positive number"),
            });
        }
        let sample_rate = (batch as f64 / rows as f64).min(1.0);
        let noise_multiplier = tracker.noise_multiplier_for(sample_rate, steps)?;
        Ok(Self {
            sample_rate,
            noise_multiplier,
            clip_norm,
            steps,
            expected_batch: sample_rate * rows as f64,
        })
    }

    /// The event to charge for `steps` steps of this plan.
    pub fn mechanism(&self, steps: u64) -> Mechanism {
        Mechanism::SubsampledGaussian {
            sample_rate: self.sample_rate,
            noise_multiplier: self.noise_multiplier,
            steps,
        }
    }

    /// Standard deviation of the noise added to the summed clipped gradients: σ·C.
    pub fn noise_std(&self) -> f64 {
        self.noise_multiplier * self.clip_norm
    }
}

/// A Poisson sample: each of `rows` indices independently with probability `q`, drawn
/// by geometric skips (O(q·n) work).
pub fn poisson_sample(rows: usize, q: f64, rng: &mut impl Rng) -> Vec<u32> {
    let mut out = Vec::with_capacity((rows as f64 * q * 1.2) as usize + 8);
    if q >= 1.0 {
        out.extend((0..rows).map(|i| i as u32));
        return out;
    }
    if q <= 0.0 {
        return out;
    }
    let log_keep = (1.0 - q).ln();
    let mut index: f64 = -1.0;
    loop {
        let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        index += 1.0 + (u.ln() / log_keep).floor();
        if index >= rows as f64 {
            break;
        }
        out.push(index as u32);
    }
    out
}

/// Per-sample scale factors min(1, C/‖g_i‖) from squared per-sample gradient norms.
pub fn clip_factors(squared_norms: &[f64], clip_norm: f64) -> Vec<f32> {
    squared_norms
        .iter()
        .map(|&s| {
            let norm = s.max(0.0).sqrt();
            if norm > clip_norm {
                (clip_norm / norm) as f32
            } else {
                1.0
            }
        })
        .collect()
}

/// Adds N(0, std²) to every summed gradient entry, then divides by the expected batch
/// size (the mean of DP-SGD).
pub fn noise_and_average(
    gradient: &mut [f32],
    std: f64,
    expected_batch: f64,
    rng: &mut impl Rng,
) -> Result<()> {
    let normal = Normal::new(0.0, std).map_err(|e| PrivacyError::InvalidParameter {
        field: "noise",
        message: format!("{std}: {e}"),
    })?;
    let scale = 1.0 / expected_batch.max(1.0);
    for g in gradient.iter_mut() {
        *g = ((f64::from(*g) + normal.sample(rng)) * scale) as f32;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::PrivacyBudget;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn poisson_sample_has_the_right_rate_and_no_duplicates() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut total = 0usize;
        for _ in 0..200 {
            let s = poisson_sample(10_000, 0.02, &mut rng);
            assert!(s.windows(2).all(|w| w[0] < w[1]));
            assert!(s.iter().all(|&i| i < 10_000));
            total += s.len();
        }
        let mean = total as f64 / 200.0;
        assert!((mean - 200.0).abs() < 5.0, "{mean}");
        assert_eq!(poisson_sample(5, 1.0, &mut rng), vec![0, 1, 2, 3, 4]);
        assert!(poisson_sample(5, 0.0, &mut rng).is_empty());
    }

    #[test]
    fn clipping_caps_norms() {
        let f = clip_factors(&[0.25, 4.0, 100.0], 1.0);
        assert_eq!(f[0], 1.0);
        assert!((f[1] - 0.5).abs() < 1e-7);
        assert!((f[2] - 0.1).abs() < 1e-7);
    }

    #[test]
    fn plan_meets_the_target() {
        let tracker = PrivacyTracker::new(PrivacyBudget::new(3.0, 1e-5).expect("budget"));
        let plan = DpSgdPlan::for_target(&tracker, 30_000, 300, 3_000, 1.0).expect("plan");
        assert!((plan.sample_rate - 0.01).abs() < 1e-12);
        let mut after = tracker.clone();
        after
            .charge("dp-sgd", plan.mechanism(plan.steps))
            .expect("charge");
        let (eps, _) = after.epsilon_spent().expect("eps");
        assert!(eps <= 3.0 + 1e-6 && eps > 2.99, "{eps}");
        assert!(DpSgdPlan::for_target(&tracker, 0, 300, 3_000, 1.0).is_err());
        assert!(DpSgdPlan::for_target(&tracker, 10, 300, 3_000, 0.0).is_err());
    }
}
