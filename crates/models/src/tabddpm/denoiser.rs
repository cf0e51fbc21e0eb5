//! The denoiser: an MLP over `[x_t numeric | one-hot x_t classes]` with a sinusoidal
//! timestep embedding, as in the paper:
//!
//! `h₀ = Linear(x_t) + Linear(SiLU(Linear(SinEmb(t))))`, then ReLU blocks
//! `hᵢ = Dropout(ReLU(Linear(hᵢ₋₁)))`, then `out = Linear(h_last)` — predicted noise ε̂ for
//! the numeric dims and logits of x₀ for each categorical block.
//!
//! The embedding MLP runs once per distinct timestep of a batch (at most T rows), and its
//! rows are gathered into the batch; its gradient is scattered back.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::nn::layers::{self, Linear};
use crate::nn::{Matrix, ParamId, ParamSet};

/// SiLU `x·σ(x)` in place.
pub fn silu(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v /= 1.0 + (-*v).exp());
}

/// `dy ← dy · σ(x)(1 + x(1 − σ(x)))` in place, `x` the SiLU's input.
pub fn silu_backward(dy: &mut [f32], x: &[f32]) {
    for (d, v) in dy.iter_mut().zip(x) {
        let s = 1.0 / (1.0 + (-*v).exp());
        *d *= s * (1.0 + v * (1.0 - s));
    }
}

/// The sinusoidal embedding of timestep `t` into `out` (`[cos(t·fᵢ) | sin(t·fᵢ)]`,
/// fᵢ = 10000^(−i/half)).
pub fn sinusoid(t: f32, out: &mut [f32]) {
    let half = out.len() / 2;
    for i in 0..half {
        let f = (-(10_000f32).ln() * i as f32 / half as f32).exp();
        out[i] = (t * f).cos();
        out[half + i] = (t * f).sin();
    }
}

/// The network's layers over a [`ParamSet`].
#[derive(Debug, Clone)]
pub struct Denoiser {
    /// Every weight.
    pub params: ParamSet,
    input: Linear,
    time_first: Linear,
    time_second: Linear,
    blocks: Vec<Linear>,
    output: Linear,
    embedding: usize,
    /// Dropout after each block in training.
    pub dropout: f32,
}

/// Activations and gradients of one pass, reused across steps.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// Slot of each timestep in the embedding table (`usize::MAX` when absent).
    slot_of: Vec<usize>,
    /// Timestep of each slot.
    slot_t: Vec<u32>,
    /// Slot of each row.
    row_slot: Vec<usize>,
    sin: Matrix,
    time_pre: Matrix,
    time_act: Matrix,
    time: Matrix,
    /// hs[0] = h₀, hs[i + 1] = block i's output.
    hs: Vec<Matrix>,
    masks: Vec<Vec<f32>>,
    /// The output of the last forward pass.
    pub out: Matrix,
    grad: Matrix,
    grad_other: Matrix,
    grad_time: Matrix,
    grad_time_act: Matrix,
}

impl Denoiser {
    /// A network from `width` features to `width` outputs.
    pub fn new(
        width: usize,
        embedding: usize,
        hidden: &[usize],
        dropout: f32,
        rng: &mut impl Rng,
    ) -> Self {
        let mut params = ParamSet::new();
        let input = Linear::new(&mut params, "proj", width, embedding, rng);
        let time_first = Linear::new(&mut params, "time_embed.0", embedding, embedding, rng);
        let time_second = Linear::new(&mut params, "time_embed.2", embedding, embedding, rng);
        let mut blocks = Vec::with_capacity(hidden.len());
        let mut previous = embedding;
        for (i, &h) in hidden.iter().enumerate() {
            blocks.push(Linear::new(
                &mut params,
                &format!("blocks.{i}"),
                previous,
                h,
                rng,
            ));
            previous = h;
        }
        let output = Linear::new(&mut params, "head", previous, width, rng);
        Self {
            params,
            input,
            time_first,
            time_second,
            blocks,
            output,
            embedding,
            dropout,
        }
    }

    /// Every parameter's id, in the order they were added to [`Self::params`].
    pub fn parameter_ids(&self) -> Vec<ParamId> {
        [self.input, self.time_first, self.time_second]
            .iter()
            .chain(&self.blocks)
            .chain(std::iter::once(&self.output))
            .flat_map(|l| [l.weight, l.bias])
            .collect()
    }

    /// Multiply-adds of one forward pass per row (excluding the embedding MLP).
    pub fn flops_per_row(&self) -> usize {
        self.input.flops(1)
            + self.blocks.iter().map(|b| b.flops(1)).sum::<usize>()
            + self.output.flops(1)
    }

    /// Forward pass over `x` at per-row timesteps `t`; the result is in `ws.out`.
    /// Dropout applies when `rng` is given.
    pub fn forward(
        &self,
        x: &Matrix,
        t: &[u32],
        steps: usize,
        ws: &mut Workspace,
        mut rng: Option<&mut ChaCha8Rng>,
    ) {
        let rows = x.rows;
        debug_assert_eq!(t.len(), rows);
        // Distinct timesteps → embedding table.
        ws.slot_of.clear();
        ws.slot_of.resize(steps, usize::MAX);
        ws.slot_t.clear();
        ws.row_slot.clear();
        for &step in t {
            let s = step as usize;
            if ws.slot_of[s] == usize::MAX {
                ws.slot_of[s] = ws.slot_t.len();
                ws.slot_t.push(step);
            }
            ws.row_slot.push(ws.slot_of[s]);
        }
        let e = self.embedding;
        ws.sin.resize(ws.slot_t.len(), e);
        for (slot, &step) in ws.slot_t.iter().enumerate() {
            sinusoid(step as f32, ws.sin.row_mut(slot));
        }
        self.time_first
            .forward(&self.params, &ws.sin, &mut ws.time_pre);
        ws.time_act.resize(ws.time_pre.rows, e);
        ws.time_act.data.copy_from_slice(&ws.time_pre.data);
        silu(&mut ws.time_act.data);
        self.time_second
            .forward(&self.params, &ws.time_act, &mut ws.time);
        // h₀ = proj(x) + time[t].
        ws.hs.resize_with(self.blocks.len() + 1, Matrix::default);
        ws.masks.resize_with(self.blocks.len(), Vec::new);
        self.input.forward(&self.params, x, &mut ws.hs[0]);
        for r in 0..rows {
            let slot = ws.row_slot[r];
            let time = &ws.time.data[slot * e..(slot + 1) * e];
            for (h, v) in ws.hs[0].row_mut(r).iter_mut().zip(time) {
                *h += v;
            }
        }
        for (i, block) in self.blocks.iter().enumerate() {
            let (before, after) = ws.hs.split_at_mut(i + 1);
            let (input, output) = (&before[i], &mut after[0]);
            block.forward(&self.params, input, output);
            layers::relu(&mut output.data);
            if self.dropout > 0.0
                && let Some(rng) = rng.as_deref_mut()
            {
                layers::dropout(&mut output.data, self.dropout, &mut ws.masks[i], rng);
            } else {
                ws.masks[i].clear();
            }
        }
        let last = &ws.hs[self.blocks.len()];
        self.output.forward(&self.params, last, &mut ws.out);
    }

    /// Backward pass of the last [`Self::forward`] from `d_out` (∂loss/∂out): accumulates
    /// every parameter's gradient, and writes ∂loss/∂x into `dx` when asked.
    pub fn backward(
        &mut self,
        x: &Matrix,
        d_out: &Matrix,
        ws: &mut Workspace,
        dx: Option<&mut Matrix>,
    ) {
        let n = self.blocks.len();
        self.output
            .backward(&mut self.params, &ws.hs[n], d_out, Some(&mut ws.grad));
        for i in (0..n).rev() {
            if !ws.masks[i].is_empty() {
                layers::apply_mask(&mut ws.grad.data, &ws.masks[i]);
            }
            layers::relu_backward(&mut ws.grad.data, &ws.hs[i + 1].data);
            self.blocks[i].backward(
                &mut self.params,
                &ws.hs[i],
                &ws.grad,
                Some(&mut ws.grad_other),
            );
            std::mem::swap(&mut ws.grad, &mut ws.grad_other);
        }
        // ws.grad = ∂loss/∂h₀.
        let e = self.embedding;
        ws.grad_time.resize_zeroed(ws.slot_t.len(), e);
        for (r, &slot) in ws.row_slot.iter().enumerate() {
            let dst = &mut ws.grad_time.data[slot * e..(slot + 1) * e];
            for (d, g) in dst.iter_mut().zip(ws.grad.row(r)) {
                *d += g;
            }
        }
        self.time_second.backward(
            &mut self.params,
            &ws.time_act,
            &ws.grad_time,
            Some(&mut ws.grad_time_act),
        );
        silu_backward(&mut ws.grad_time_act.data, &ws.time_pre.data);
        self.time_first
            .backward(&mut self.params, &ws.sin, &ws.grad_time_act, None);
        self.input.backward(&mut self.params, x, &ws.grad, dx);
    }
}
