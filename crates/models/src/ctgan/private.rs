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

use std::time::Instant;

use mirage_core::Table;
use mirage_core::records::ModelKind;
use mirage_privacy::dpsgd::{DpSgdPlan, clip_factors, poisson_sample};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{Ctgan, CtganConfig, Trainer, calibrate, cond_sampler, networks};
use crate::dp::{self, DpSettings, DpStatistics};
use crate::dp::{ensure_private, measured_columns, noise_gradients, noisy_targets};
use crate::error::Result;
use crate::progress::{FitContext, ProgressEvent};
use crate::training::{StopReason, TrainingOutcome};
use crate::transformer::DataTransformer;

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
    let mut tracker = settings.tracker()?;
    // Every draw of the fit may feed the noise: from the OS, never from the saved seed.
    let mut rng = crate::dp::secret_rng()?;
    let stats = DpStatistics::measure(
        table,
        &measured_columns(table),
        settings,
        &mut tracker,
        &mut rng,
    )?;
    ensure_private(&tracker, settings)?;
    let transformer = DataTransformer::fit_dp(
        table.schema(),
        &stats,
        settings,
        &config.transformer,
        (!settings.strict).then_some(table),
    )?;
    let encoded = transformer.transform(table, &mut rng)?;
    context.report(ProgressEvent {
        stage: "encoding",
        step: 1,
        total: 1,
        message: format!(
            "{} encoded values per row from DP statistics, {} conditional columns",
            encoded.width,
            transformer.discrete_columns().len()
        ),
        ..Default::default()
    });
    let sampler = cond_sampler(&transformer);
    let (generator, discriminator) =
        networks(&transformer, &sampler, &config, config.training.seed);
    let noisy_rows = stats.rows.round().max(1.0) as usize;
    let batch = config.training.batch_size.min(noisy_rows);
    let mut trainer = Trainer::new(
        generator,
        discriminator,
        &config,
        &transformer,
        sampler.clone(),
        &encoded.data,
        &encoded.codes,
        encoded.rows,
    );
    trainer.batch = batch;
    trainer.frequency_conditions = true;
    let training = if transformer.width() == 0 {
        None
    } else {
        let start = Instant::now();
        let steps_per_epoch = noisy_rows.div_ceil(batch).max(1) as u64;
        let critic_every = config.discriminator_steps as u64;
        let steps = config.training.max_epochs as u64 * steps_per_epoch * critic_every;
        let plan = DpSgdPlan::for_target(&tracker, noisy_rows, batch, steps, settings.clip_norm)?;
        let critic = CriticPlan {
            codes: &encoded.codes,
            clip_norm: settings.clip_norm,
            noise_std: plan.noise_std(),
            expected_batch: plan.expected_batch,
        };
        let mut done = 0u64;
        let mut stop = StopReason::MaxEpochs;
        while done < plan.steps {
            context.check_cancelled()?;
            if config
                .training
                .time_budget
                .is_some_and(|budget| start.elapsed().as_secs_f64() > budget)
            {
                stop = StopReason::TimeBudget;
                break;
            }
            let real = poisson_sample(encoded.rows, plan.sample_rate, &mut rng);
            trainer.dp_critic_step(&real, &critic, &mut rng)?;
            done += 1;
            if done.is_multiple_of(critic_every) {
                trainer.generator_step(&mut rng);
            }
            let per_epoch = steps_per_epoch * critic_every;
            if done.is_multiple_of(per_epoch) || done == plan.steps {
                context.report(ProgressEvent {
                    stage: "epoch",
                    step: done,
                    total: plan.steps,
                    message: format!(
                        "DP-SGD critic step {done} of {} (σ = {:.3}, q = {:.4})",
                        plan.steps, plan.noise_multiplier, plan.sample_rate
                    ),
                    epoch: Some(done.div_ceil(per_epoch)),
                    ..Default::default()
                });
            }
        }
        if done > 0 {
            tracker.charge(
                format!("dp-sgd of the {} critic", kind.name()),
                plan.mechanism(done),
            )?;
        }
        let epochs = done.div_ceil(steps_per_epoch * critic_every) as usize;
        Some(TrainingOutcome {
            epochs,
            best_epoch: epochs,
            // A DP fit records no loss: it would be a statistic of the data left
            // unaccounted.
            best_loss: 0.0,
            stop,
            seconds: start.elapsed().as_secs_f64(),
            history: Vec::new(),
        })
    };
    let mut generator = trainer.generator;
    if config.calibrate && training.is_some() {
        let (spans, targets) = noisy_targets(&transformer);
        calibrate(&mut generator, &sampler, &spans, &targets, &mut rng);
    }
    let report = dp::finish(&tracker, settings)?;
    Ok(Ctgan {
        kind,
        schema: table.schema().clone(),
        config,
        transformer,
        generator,
        discriminator: trainer.discriminator,
        sampler,
        training,
        privacy: Some(report),
    })
}
