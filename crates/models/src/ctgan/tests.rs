//! Finite-difference checks of the generator's backward pass and of the gradient
//! penalty's value and weight gradients, and the conditional sampler's probabilities.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::network::{Discriminator, DiscriminatorPass, Generator, GeneratorPass, OutputSpan};
use super::sampler::{CondSampler, RowIndex};
use crate::nn::Matrix;
use crate::nn::layers::log_sum_exp;

fn close(analytic: f32, numeric: f64) -> bool {
    (f64::from(analytic) - numeric).abs() <= 2e-2 * numeric.abs().max(0.05)
}

// --- Gradient penalty ------------------------------------------------------------------

const PAC: usize = 2;
const ROW: usize = 3;
const COND: usize = 2;
const PACKS: usize = 4;
const LAMBDA: f32 = 10.0;

fn critic_fixture() -> (Discriminator, DiscriminatorPass) {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let critic = Discriminator::new(PAC, ROW, COND, &[6, 5], &mut rng);
    let mut pass = DiscriminatorPass::default();
    pass.input = Matrix::from_vec(
        PACKS,
        PAC * ROW,
        (0..PACKS * PAC * ROW)
            .map(|_| rng.random_range(-1.5..1.5))
            .collect(),
    );
    pass.hot = (0..PACKS * PAC)
        .map(|i| ((i % PAC) * COND + rng.random_range(0..COND)) as u32)
        .collect();
    let mut mask_rng = ChaCha8Rng::seed_from_u64(4);
    critic.forward(&mut pass, Some(&mut mask_rng));
    (critic, pass)
}

/// The critic's scores computed naively in f64 over the full input vector (features,
/// then one-hot conditional vectors), with the pass's masks.
fn naive_scores(critic: &Discriminator, pass: &DiscriminatorPass, inputs: &[Vec<f64>]) -> Vec<f64> {
    let (hidden, output, slope) = critic.layers();
    inputs
        .iter()
        .enumerate()
        .map(|(p, x)| {
            let mut h = x.clone();
            for (l, layer) in hidden.iter().enumerate() {
                let w = critic.params.value(layer.weight);
                let b = critic.params.value(layer.bias);
                let mut a: Vec<f64> = b.iter().map(|v| f64::from(*v)).collect();
                for (i, hi) in h.iter().enumerate() {
                    for (j, aj) in a.iter_mut().enumerate() {
                        *aj += hi * f64::from(w[i * layer.output + j]);
                    }
                }
                let mask = &pass.masks[l][p * layer.output..(p + 1) * layer.output];
                h = a
                    .iter()
                    .zip(mask)
                    .map(|(v, m)| {
                        let s = if *v > 0.0 { 1.0 } else { f64::from(slope) };
                        v * s * f64::from(*m)
                    })
                    .collect();
            }
            let w = critic.params.value(output.weight);
            f64::from(critic.params.value(output.bias)[0])
                + h.iter().zip(w).map(|(a, b)| a * f64::from(*b)).sum::<f64>()
        })
        .collect()
}

fn full_inputs(pass: &DiscriminatorPass) -> Vec<Vec<f64>> {
    (0..PACKS)
        .map(|p| {
            let mut x: Vec<f64> = pass.input.row(p).iter().map(|v| f64::from(*v)).collect();
            let mut cond = vec![0.0; PAC * COND];
            for j in 0..PAC {
                cond[pass.hot[p * PAC + j] as usize] = 1.0;
            }
            x.extend(cond);
            x
        })
        .collect()
}

fn penalty_of(critic: &Discriminator, pass: &DiscriminatorPass) -> (f64, Vec<f32>) {
    let mut critic = critic.clone();
    let mut pass = pass.clone();
    critic.forward::<ChaCha8Rng>(&mut pass, None);
    let factors = pass.factors();
    let value = critic.gradient_penalty(&mut pass, 0, PACKS, LAMBDA);
    (value, factors)
}

#[test]
fn the_critic_matches_a_naive_implementation() {
    let (critic, pass) = critic_fixture();
    let naive = naive_scores(&critic, &pass, &full_inputs(&pass));
    for (p, n) in naive.iter().enumerate() {
        let fast = f64::from(pass.out.data[p]);
        assert!(
            (fast - n).abs() < 1e-4 * n.abs().max(1.0),
            "pack {p}: {fast} vs {n}"
        );
    }
}

#[test]
fn the_gradient_penalty_value_matches_finite_differences_of_the_critic() {
    let (mut critic, mut pass) = critic_fixture();
    let value = critic.gradient_penalty(&mut pass, 0, PACKS, LAMBDA);
    // ∇ₓD by central differences of the naive critic, over the whole input.
    let inputs = full_inputs(&pass);
    let eps = 1e-5;
    let mut expected = 0.0;
    for p in 0..PACKS {
        let mut norm2 = 0.0;
        for i in 0..inputs[p].len() {
            let mut up = inputs.clone();
            up[p][i] += eps;
            let mut down = inputs.clone();
            down[p][i] -= eps;
            let d = (naive_scores(&critic, &pass, &up)[p] - naive_scores(&critic, &pass, &down)[p])
                / (2.0 * eps);
            norm2 += d * d;
        }
        expected += (norm2.sqrt() - 1.0).powi(2);
    }
    expected *= f64::from(LAMBDA) / PACKS as f64;
    assert!(
        (value - expected).abs() < 1e-3 * expected.max(1e-3),
        "penalty {value} vs {expected}"
    );
}

#[test]
fn gradient_penalty_weight_gradients_match_finite_differences_with_dropout() {
    let (critic, pass) = critic_fixture();
    let mut analytic = critic.clone();
    let mut analytic_pass = pass.clone();
    analytic.params.zero_grads();
    let (base, base_factors) = penalty_of(&critic, &pass);
    let value = analytic.gradient_penalty(&mut analytic_pass, 0, PACKS, LAMBDA);
    assert!((value - base).abs() < 1e-9);
    // Dropout really is on.
    assert!(pass.masks.iter().flatten().any(|m| *m == 0.0));
    assert!(pass.masks.iter().flatten().any(|m| *m == 2.0));
    let eps = 1e-2f32;
    let (mut checked, mut skipped) = (0, 0);
    for id in critic.trainable_ids() {
        let name = critic.params.get(id).name.clone();
        for i in 0..critic.params.value(id).len() {
            let grad = analytic.params.get(id).grad[i];
            let mut shifted = critic.clone();
            let original = shifted.params.value(id)[i];
            shifted.params.value_mut(id)[i] = original + eps;
            let (up, up_factors) = penalty_of(&shifted, &pass);
            shifted.params.value_mut(id)[i] = original - eps;
            let (down, down_factors) = penalty_of(&shifted, &pass);
            if up_factors != base_factors || down_factors != base_factors {
                skipped += 1;
                continue;
            }
            let numeric = (up - down) / (2.0 * f64::from(eps));
            assert!(close(grad, numeric), "{name}[{i}]: {grad} vs {numeric}");
            checked += 1;
        }
    }
    assert!(
        checked > 10 * skipped.max(1),
        "checked {checked}, skipped {skipped}"
    );
}

// --- Generator -------------------------------------------------------------------------

const ROWS: usize = 6;

fn generator_fixture() -> (Generator, GeneratorPass, Matrix, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let spans = vec![
        OutputSpan {
            start: 0,
            width: 1,
            softmax: false,
        },
        OutputSpan {
            start: 1,
            width: 3,
            softmax: true,
        },
        OutputSpan {
            start: 4,
            width: 1,
            softmax: false,
        },
        OutputSpan {
            start: 5,
            width: 2,
            softmax: true,
        },
    ];
    let generator = Generator::new(3, 4, &[5, 4], spans, 7, 0.5, &mut rng);
    let mut pass = GeneratorPass::default();
    pass.z = Matrix::from_vec(
        ROWS,
        3,
        (0..ROWS * 3).map(|_| rng.sample(StandardNormal)).collect(),
    );
    pass.hot = (0..ROWS).map(|_| rng.random_range(0..4)).collect();
    let weights = Matrix::from_vec(
        ROWS,
        7,
        (0..ROWS * 7).map(|_| rng.random_range(-1.0..1.0)).collect(),
    );
    let targets = (0..ROWS).map(|_| rng.random_range(0..3)).collect();
    (generator, pass, weights, targets)
}

/// Σ output ⊙ weights + the mean cross-entropy of span 1's logits against `targets`,
/// with the same Gumbel noise every time.
fn generator_loss(
    generator: &Generator,
    pass: &GeneratorPass,
    weights: &Matrix,
    targets: &[usize],
) -> (f64, Vec<bool>, GeneratorPass) {
    let mut generator = generator.clone();
    let mut pass = pass.clone();
    generator.forward(&mut pass, true, &mut ChaCha8Rng::seed_from_u64(99));
    let mut loss: f64 = pass
        .output
        .data
        .iter()
        .zip(&weights.data)
        .map(|(a, b)| f64::from(a * b))
        .sum();
    for (i, &t) in targets.iter().enumerate() {
        let row = &pass.logits.row(i)[1..4];
        loss += f64::from(log_sum_exp(row) - row[t]) / ROWS as f64;
    }
    (loss, pass.relu_pattern(), pass)
}

#[test]
fn generator_gradients_match_finite_differences() {
    let (generator, pass, weights, targets) = generator_fixture();
    let (_, base_pattern, run) = generator_loss(&generator, &pass, &weights, &targets);
    let mut analytic = generator.clone();
    analytic.params.zero_grads();
    // The forward again on `analytic` so that its pass matches (same noise).
    let mut run2 = pass.clone();
    analytic.forward(&mut run2, true, &mut ChaCha8Rng::seed_from_u64(99));
    assert_eq!(run2.output, run.output);
    analytic.activation_backward(&mut run2, &weights.data);
    for (i, &t) in targets.iter().enumerate() {
        let row = run2.logits.row(i)[1..4].to_vec();
        let lse = log_sum_exp(&row);
        for (k, (d, x)) in run2.d_logits.row_mut(i)[1..4]
            .iter_mut()
            .zip(&row)
            .enumerate()
        {
            let p = (x - lse).exp() - if k == t { 1.0 } else { 0.0 };
            *d += p / ROWS as f32;
        }
    }
    analytic.backward(&mut run2);
    let eps = 1e-2f32;
    let (mut checked, mut skipped) = (0, 0);
    for id in generator.trainable_ids() {
        let name = generator.params.get(id).name.clone();
        for i in 0..generator.params.value(id).len() {
            let grad = analytic.params.get(id).grad[i];
            let mut shifted = generator.clone();
            let original = shifted.params.value(id)[i];
            shifted.params.value_mut(id)[i] = original + eps;
            let (up, up_pattern, _) = generator_loss(&shifted, &pass, &weights, &targets);
            shifted.params.value_mut(id)[i] = original - eps;
            let (down, down_pattern, _) = generator_loss(&shifted, &pass, &weights, &targets);
            if up_pattern != base_pattern || down_pattern != base_pattern {
                skipped += 1;
                continue;
            }
            let numeric = (up - down) / (2.0 * f64::from(eps));
            assert!(close(grad, numeric), "{name}[{i}]: {grad} vs {numeric}");
            checked += 1;
        }
    }
    assert!(
        checked > 10 * skipped.max(1),
        "checked {checked}, skipped {skipped}"
    );
    // Every parameter group got some gradient (the conditional rows included).
    for p in analytic.params.iter().filter(|p| p.trainable) {
        assert!(
            p.grad.iter().any(|g| *g != 0.0),
            "{} has no gradient",
            p.name
        );
    }
}

// --- Conditional sampler ---------------------------------------------------------------

#[test]
fn training_conditions_follow_log_frequencies_and_real_rows_match() {
    let frequencies = vec![vec![10, 0, 90], vec![5, 5]];
    let sampler = CondSampler::new(&frequencies);
    assert_eq!(sampler.width(), 5);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (mut columns, mut hot) = (Vec::new(), Vec::new());
    let n = 200_000;
    sampler.sample_train(n, &mut columns, &mut hot, &mut rng);
    let mut counts = [0usize; 5];
    for (&d, &g) in columns.iter().zip(&hot) {
        let d = d as usize;
        assert!(
            (sampler.offset(d)..sampler.offset(d) + sampler.categories(d)).contains(&(g as usize))
        );
        counts[g as usize] += 1;
    }
    let first: f64 = counts[..3].iter().sum::<usize>() as f64 / n as f64;
    assert!((first - 0.5).abs() < 0.01, "column share {first}");
    let (l10, l90) = (11f64.ln(), 91f64.ln());
    let expected = l10 / (l10 + 1f64.ln() + l90);
    let share = counts[0] as f64 / counts[..3].iter().sum::<usize>() as f64;
    assert!((share - expected).abs() < 0.01, "{share} vs {expected}");
    assert_eq!(counts[1], 0, "a category with no rows was drawn");
    let p = sampler.train_probabilities(0);
    assert!((p[0] - expected).abs() < 1e-12 && p[1] == 0.0);

    // Unconditional draws follow the raw frequencies.
    sampler.sample_original(n, &mut hot, &mut rng);
    let zero = hot.iter().filter(|&&g| g == 0).count() as f64;
    let two = hot.iter().filter(|&&g| g == 2).count() as f64;
    assert!((zero / (zero + two) - 0.1).abs() < 0.01);

    // Real rows are drawn among the rows with the category.
    let codes = vec![vec![0, 2, 2, 0, 2, 2], vec![1, 0, 1, 1, 0, 0]];
    let index = RowIndex::new(&codes, &[0, 3], 5, 6);
    assert_eq!(index.rows(0), &[0, 3]);
    assert_eq!(index.rows(1), &[] as &[u32]);
    assert_eq!(index.rows(4), &[0, 2, 3]);
    for _ in 0..100 {
        let r = index.draw(Some(3), &mut rng);
        assert_eq!(codes[1][r], 0);
        let r = index.draw(Some(2), &mut rng);
        assert_eq!(codes[0][r], 2);
    }
}

#[test]
fn gumbel_draws_are_finite_at_the_extremes() {
    use super::network::gumbel_from_bits;
    for bits in [0, 1, 511, 512, u32::MAX - 512, u32::MAX - 1, u32::MAX] {
        assert!(gumbel_from_bits(bits).is_finite(), "{bits}");
    }
    assert!(gumbel_from_bits(u32::MAX) > gumbel_from_bits(0));
}

// --- The generator follows its conditional vector --------------------------------------

#[test]
fn the_generator_follows_the_conditional_vector_without_forcing() {
    use std::sync::Arc;

    use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
    use mirage_core::records::ModelKind;
    use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
    use mirage_core::{Schema, Table};

    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let colors = ["red", "green", "blue"];
    let (mut color, mut amount) = (vec![], vec![]);
    for _ in 0..600 {
        let c = if rng.random::<f64>() < 0.7 {
            0
        } else {
            rng.random_range(1..3)
        };
        color.push(colors[c]);
        amount.push(10.0 * c as f64 + rng.sample::<f64, _>(StandardNormal));
    }
    let schema = Schema::new(vec![
        ColumnSchema::new("color", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("amount", ColumnKind::Float, PhysicalType::Float64),
    ])
    .expect("schema");
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(color)),
        Arc::new(Float64Array::from(amount)),
    ];
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    let table = Table::new(schema, vec![batch]).expect("table");
    let config = serde_json::json!({
        "embedding_dim": 16,
        "generator_dims": [64, 64],
        "discriminator_dims": [64, 64],
        "training": {"max_epochs": 40, "batch_size": 100, "learning_rate": 1e-3},
    });
    let model = super::Ctgan::fit(
        ModelKind::Ctgan,
        &table,
        &config,
        &mut crate::progress::FitContext::default(),
    )
    .expect("fit");
    let (d, category) = model
        .transformer
        .condition_index("color", &mirage_core::Value::Str("blue".into()))
        .expect("blue");
    let hot = (model.sampler.offset(d) + category) as u32;
    let rows = model
        .generate(400, 0, Some(hot), &mut ChaCha8Rng::seed_from_u64(1))
        .expect("rows");
    let decoded = rows
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("strings")
        .clone();
    let blue = (0..decoded.len())
        .filter(|&i| decoded.is_valid(i) && decoded.value(i) == "blue")
        .count();
    // Blue is 15 % of the table; conditioned on it, the generator makes it nearly always.
    assert!(blue > 300, "{blue} of 400 rows are blue");
}

// --- DP-SGD per-sample norms ----------------------------------------------------------

/// The critic's per-pack squared gradient norms for DP-SGD against each pack's own
/// backward pass (same dropout masks), with and without a conditional vector.
#[test]
fn critic_per_sample_norms_match_each_packs_own_gradient() {
    for cond in [COND, 0] {
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        let critic = Discriminator::new(1, ROW, cond, &[6, 5], &mut rng);
        let rows = 5;
        let mut pass = DiscriminatorPass::default();
        pass.input = Matrix::from_vec(
            rows,
            ROW,
            (0..rows * ROW)
                .map(|_| rng.random_range(-1.5..1.5))
                .collect(),
        );
        pass.hot = if cond > 0 {
            (0..rows)
                .map(|_| rng.random_range(0..cond) as u32)
                .collect()
        } else {
            Vec::new()
        };
        critic.forward(&mut pass, Some(&mut rng));
        let dy = Matrix::from_vec(rows, 1, (0..rows).map(|r| r as f32 * 0.5 - 1.0).collect());
        let mut norms = vec![0.0f64; rows];
        let mut ghost = pass.clone();
        critic.per_sample_sq_norms(&mut ghost, &dy, rows, &mut norms);
        for r in 0..rows {
            let mut single = DiscriminatorPass::default();
            single.input = Matrix::from_vec(1, ROW, pass.input.row(r).to_vec());
            single.hot = pass.hot.get(r).map(|&h| vec![h]).unwrap_or_default();
            single.masks = pass
                .masks
                .iter()
                .zip([6, 5])
                .map(|(m, width)| m[r * width..(r + 1) * width].to_vec())
                .collect();
            let mut own = critic.clone();
            own.forward::<ChaCha8Rng>(&mut single, None);
            own.params.zero_grads();
            let d = Matrix::from_vec(1, 1, vec![dy.data[r]]);
            own.backward(&mut single, &d, 1, true, false);
            let expected: f64 = own
                .params
                .iter()
                .flat_map(|p| &p.grad)
                .map(|&g| f64::from(g) * f64::from(g))
                .sum();
            assert!(
                (norms[r] - expected).abs() <= 1e-4 * expected.max(1e-3),
                "cond {cond} row {r}: {} vs {expected}",
                norms[r]
            );
        }
    }
}
