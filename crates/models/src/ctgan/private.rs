//! DP-CTGAN: the critic is trained with DP-SGD (Abadi et al., 2016); the generator sees
//! the data only through the critic and is private by post-processing.
//!
//! - Preprocessing: DP column statistics ([`DpStatistics::measure`]) build the
//!   transformer ([`DataTransformer::fit_dp`]); the conditional vector's frequencies are
//!   the noisy counts.
//! - Each critic step Poisson-samples real rows (rate `q = batch / noisy rows`, as the
//!   accountant assumes), gives each real row the conditional vector of its own value in
//!   a uniformly chosen discrete column, and generates `batch` fake rows whose conditions
//!   are drawn the same way from the noisy frequencies. Packing is off (`pac = 1`: a
//!   pack's score would make one row's influence depend on its pack-mates), and there is
//!   no gradient penalty (its double backward does not clip per row): each real row's
//!   whole critic gradient is clipped to `clip_norm` instead, which also bounds the
//!   critic's pull from any one row. The fake rows' gradients are clipped the same way
//!   (privacy does not need it, they depend on the data only through the private critic,
//!   but unclipped they swamp the real rows' and the critic learns little about the
//!   data). `N(0, σ²C²)` is added to the summed gradients, which are divided by the
//!   expected batch.
//! - After every `discriminator_steps` critic steps, one generator step as in CTGAN
//!   (conditions from the noisy frequencies).
//! - σ is set so the plan's critic steps land on the target ε; they are charged once at
//!   the end. No loss is recorded.

use mirage_core::Table;
use mirage_core::records::ModelKind;
use mirage_privacy::dpsgd::clip_factors;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{Ctgan, CtganConfig, Trainer, calibrate};
use crate::dp::{self, DpEncoding, DpSettings, noise_gradients, noisy_targets};
use crate::error::Result;
use crate::progress::FitContext;

/// What one DP critic step needs besides the trainer.
struct CriticPlan<'a> {
    codes: &'a [Vec<u32>],
    clip_norm: f64,
    noise_std: f64,
    expected_batch: f64,
}

impl Trainer<'_> {
    /// One DP-SGD critic update on the real rows `real`.
    fn dp_critic_step(
        &mut self,
        real: &[u32],
        plan: &CriticPlan<'_>,
        rng: &mut ChaCha8Rng,
    ) -> Result<()> {
        let (w, fakes) = (self.width, self.batch);
        let m = real.len();
        self.draw_inputs(rng);
        self.generator.forward(&mut self.gen_pass, true, rng);
        // Conditions: a real row's own category in a uniformly chosen discrete column.
        let discrete = self.sampler.columns();
        let hot = &mut self.critic_pass.hot;
        hot.clear();
        if discrete > 0 {
            for &r in real {
                let d = rng.random_range(0..discrete);
                let code = plan.codes[d][r as usize] as usize;
                hot.push((self.sampler.offset(d) + code) as u32);
            }
            hot.extend_from_slice(&self.gen_pass.hot[..fakes]);
        }
        let input = &mut self.critic_pass.input;
        input.resize(m + fakes, w);
        let (real_part, fake_part) = input.data.split_at_mut(m * w);
        for (dst, &r) in real_part.chunks_mut(w.max(1)).zip(real) {
            let r = r as usize;
            dst.copy_from_slice(&self.data[r * w..(r + 1) * w]);
        }
        fake_part.copy_from_slice(&self.gen_pass.output.data[..fakes * w]);
        self.discriminator
            .forward(&mut self.critic_pass, Some(&mut *rng));
        // The critic minimises mean D(fake) − mean D(real): a real row's own loss is
        // −D(x), a fake row's D(x) (scaled so that dividing by the expected batch gives
        // the fakes' mean). Every row is clipped: unclipped fake gradients would swamp
        // the clipped real ones and the critic would learn little about the data.
        let rows = m + fakes;
        let fake_weight = (plan.expected_batch / fakes as f64) as f32;
        self.dy.resize(rows, 1);
        self.dy.data[..m].fill(-1.0);
        self.dy.data[m..].fill(fake_weight);
        let mut norms = vec![0.0f64; rows];
        self.discriminator
            .per_sample_sq_norms(&mut self.critic_pass, &self.dy, rows, &mut norms);
        let factors = clip_factors(&norms, plan.clip_norm);
        for (d, f) in self.dy.data.iter_mut().zip(&factors) {
            *d *= f;
        }
        self.discriminator.params.zero_grads();
        self.discriminator
            .backward(&mut self.critic_pass, &self.dy, m + fakes, true, false);
        noise_gradients(
            &mut self.discriminator.params,
            plan.noise_std,
            plan.expected_batch,
            rng,
        )?;
        self.d_adam.step(&mut self.discriminator.params);
        Ok(())
    }
}

/// Fits DP-CTGAN (or DP-CopulaGAN: the DP transformer's normal scores are the copula
/// transform already) on `table` under `settings`.
pub(super) fn fit(
    kind: ModelKind,
    table: &Table,
    config: CtganConfig,
    settings: &DpSettings,
    context: &mut FitContext,
) -> Result<Ctgan> {
    let mut dp = DpEncoding::new(table, settings, &config.transformer, context, |t| {
        format!(", {} conditional columns", t.discrete_columns().len())
    })?;
    let (transformer, encoded) = (&dp.transformer, &dp.encoded);
    let (sampler, mut trainer) = Trainer::for_table(&config, transformer, encoded);
    trainer.frequency_conditions = true;
    let training = if transformer.width() == 0 {
        None
    } else {
        let critic_every = config.discriminator_steps as u64;
        let schedule = dp.schedule(settings, &config.training, critic_every)?;
        trainer.batch = schedule.batch;
        let critic = CriticPlan {
            codes: &encoded.codes,
            clip_norm: settings.clip_norm,
            noise_std: schedule.plan.noise_std(),
            expected_batch: schedule.plan.expected_batch,
        };
        Some(schedule.run(
            encoded.rows,
            "critic step",
            format!("dp-sgd of the {} critic", kind.name()),
            &mut dp.tracker,
            context,
            &mut dp.rng,
            |real, n, rng| {
                trainer.dp_critic_step(real, &critic, rng)?;
                if n.is_multiple_of(critic_every) {
                    trainer.generator_step(rng);
                }
                Ok(())
            },
        )?)
    };
    let mut generator = trainer.generator;
    if config.calibrate && training.is_some() {
        let (spans, targets) = noisy_targets(transformer);
        calibrate(&mut generator, &sampler, &spans, &targets, &mut dp.rng);
    }
    let report = dp::finish(&dp.tracker, settings)?;
    Ok(Ctgan {
        kind,
        schema: table.schema().clone(),
        config,
        transformer: dp.transformer,
        generator,
        discriminator: trainer.discriminator,
        sampler,
        training,
        privacy: Some(report),
    })
}
