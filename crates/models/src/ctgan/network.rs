//! CTGAN's generator and discriminator, with hand-written backward passes and the
//! gradient penalty's gradient.
//!
//! **Conditional inputs.** Both networks take the conditional vector, which holds exactly
//! one 1 per row (or is empty). Rather than multiplying a mostly-zero matrix, the product
//! of that part of the input with a weight matrix is the weight row of the hot index,
//! added row by row; its weight gradient is the matching scatter-add. The other parts of a
//! layer's input (the residual concatenation of the generator) are multiplied piece by
//! piece with the matching block of weight rows, so nothing is ever concatenated.
//!
//! **Generator** (Xu et al. 2019, §4.4): `z ⊕ cond` through residual blocks
//! `h ↦ ReLU(BN(Linear(h))) ⊕ h`, then a linear layer to the transformer's width;
//! `tanh` on scalar spans and Gumbel-softmax on one-hot spans.
//!
//! **Discriminator** (PacGAN): `pac` rows with their conditional vectors form one input;
//! `Linear → LeakyReLU(0.2) → Dropout(0.5)` per hidden layer, then `Linear → 1`. The
//! first layer's weight rows are stored as `[the pac rows' features | the pac
//! conditional vectors]` (a permutation of the inputs, which changes nothing about the
//! function class) so that a pack's features are one contiguous run of the batch.
//!
//! **Gradient penalty** (Gulrajani et al. 2017). Given its dropout masks, the
//! discriminator is piecewise linear in its input: with `fₗ = mₗ ⊙ sₗ` (dropout scale
//! times the LeakyReLU slope at the pre-activation), its input gradient is
//! `g = v₁W₁ᵀ`, `vₗ = (vₗ₊₁Wₗ₊₁ᵀ) ⊙ fₗ`, `v_L = w_out ⊙ f_L`. The penalty
//! `λ/n Σᵢ (‖gᵢ‖ − 1)²` is then differentiated through that chain of linear maps (the
//! factors `fₗ` are constant almost everywhere).

use rand::{Rng, RngCore};
use rand_distr::StandardNormal;

use crate::nn::layers::{self, BatchNorm, BatchNormCache, Linear};
use crate::nn::{Matrix, Operand, ParamSet, matmul};

/// Where one transformer span lies in the generator's output, and its activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSpan {
    /// First column.
    pub start: usize,
    /// Columns.
    pub width: usize,
    /// Softmax (one-hot) span; otherwise `tanh`.
    pub softmax: bool,
}

/// A matrix's first `rows` rows as a product operand.
fn head(m: &Matrix, rows: usize) -> Operand<'_> {
    Operand::plain(&m.data[..rows * m.cols], rows, m.cols)
}

/// The transpose of a matrix's first `rows` rows as a product operand.
fn head_t(m: &Matrix, rows: usize) -> Operand<'_> {
    Operand::transposed(&m.data[..rows * m.cols], rows, m.cols)
}

/// Weight rows `first..first + count` of an `input × output` weight, as an operand.
fn weight_rows(w: &[f32], output: usize, first: usize, count: usize) -> Operand<'_> {
    Operand::plain(&w[first * output..(first + count) * output], count, output)
}

/// Their transpose.
fn weight_rows_t(w: &[f32], output: usize, first: usize, count: usize) -> Operand<'_> {
    Operand::transposed(&w[first * output..(first + count) * output], count, output)
}

/// `y = Σ pieceₖ·W[rowsₖ] + Σ hot rows of W + b` for the first `rows` rows of the pieces.
///
/// `hot` holds `per_row` weight-row indices per row (relative to `hot_first`).
#[allow(clippy::too_many_arguments)]
fn linear_forward(
    params: &ParamSet,
    linear: &Linear,
    rows: usize,
    pieces: &[(&Matrix, usize)],
    hot: &[u32],
    per_row: usize,
    hot_first: usize,
    y: &mut Matrix,
) {
    let out = linear.output;
    y.resize(rows, out);
    let bias = params.value(linear.bias);
    let w = params.value(linear.weight);
    for row in y.data.chunks_mut(out.max(1)) {
        row.copy_from_slice(bias);
    }
    for &(piece, first) in pieces {
        matmul(
            &mut y.data,
            head(piece, rows),
            weight_rows(w, out, first, piece.cols),
            true,
        );
    }
    if per_row > 0 {
        for (r, row) in y.data.chunks_mut(out).enumerate() {
            for &index in &hot[r * per_row..(r + 1) * per_row] {
                let at = (hot_first + index as usize) * out;
                for (v, x) in row.iter_mut().zip(&w[at..at + out]) {
                    *v += x;
                }
            }
        }
    }
}

/// Accumulates the weight and bias gradients of [`linear_forward`] for the upstream
/// gradient `dy` (its first `rows` rows).
#[allow(clippy::too_many_arguments)]
fn linear_weight_grads(
    params: &mut ParamSet,
    linear: &Linear,
    rows: usize,
    pieces: &[(&Matrix, usize)],
    hot: &[u32],
    per_row: usize,
    hot_first: usize,
    dy: &Matrix,
) {
    let out = linear.output;
    {
        let weight = params.get_mut(linear.weight);
        for &(piece, first) in pieces {
            let block = &mut weight.grad[first * out..(first + piece.cols) * out];
            matmul(block, head_t(piece, rows), head(dy, rows), true);
        }
        if per_row > 0 {
            for (r, row) in dy.data[..rows * out].chunks(out).enumerate() {
                for &index in &hot[r * per_row..(r + 1) * per_row] {
                    let at = (hot_first + index as usize) * out;
                    for (g, d) in weight.grad[at..at + out].iter_mut().zip(row) {
                        *g += d;
                    }
                }
            }
        }
    }
    let bias = params.get_mut(linear.bias);
    for row in dy.data[..rows * out].chunks(out.max(1)) {
        for (g, d) in bias.grad.iter_mut().zip(row) {
            *g += d;
        }
    }
}

/// `dx (+)= dy · W[first..first + dx.cols]ᵀ`.
#[allow(clippy::too_many_arguments)]
fn linear_input_grad(
    params: &ParamSet,
    linear: &Linear,
    rows: usize,
    first: usize,
    width: usize,
    dy: &Matrix,
    dx: &mut Matrix,
    accumulate: bool,
) {
    if !accumulate {
        dx.resize(rows, width);
    }
    let w = params.value(linear.weight);
    matmul(
        &mut dx.data,
        head(dy, rows),
        weight_rows_t(w, linear.output, first, width),
        accumulate,
    );
}

// ---------------------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------------------

/// One residual block: `Linear → BatchNorm → ReLU`, its output concatenated before its
/// input.
#[derive(Debug, Clone, Copy)]
struct Block {
    linear: Linear,
    norm: BatchNorm,
}

/// The generator.
#[derive(Debug, Clone)]
pub struct Generator {
    /// Weights and batch-norm buffers.
    pub params: ParamSet,
    embedding: usize,
    cond: usize,
    dims: Vec<usize>,
    blocks: Vec<Block>,
    output: Linear,
    spans: Vec<OutputSpan>,
    width: usize,
    tau: f32,
}

/// The buffers of one generator pass (forward and backward), reused across steps.
#[derive(Debug, Clone, Default)]
pub struct GeneratorPass {
    /// Noise, `rows × embedding`.
    pub z: Matrix,
    /// Each row's hot index in the conditional vector (empty when it has no width).
    pub hot: Vec<u32>,
    pre: Vec<Matrix>,
    caches: Vec<BatchNormCache>,
    outs: Vec<Matrix>,
    /// Output before activation.
    pub logits: Matrix,
    /// Activated output (`tanh` / Gumbel-softmax).
    pub output: Matrix,
    /// Gradient with respect to the logits, filled by the caller before
    /// [`Generator::backward`].
    pub d_logits: Matrix,
    d_outs: Vec<Matrix>,
    d_norm: Matrix,
    d_pre: Matrix,
}

impl Generator {
    /// A generator initialised as PyTorch initialises its layers.
    pub fn new(
        embedding: usize,
        cond: usize,
        dims: &[usize],
        spans: Vec<OutputSpan>,
        width: usize,
        tau: f32,
        rng: &mut impl Rng,
    ) -> Self {
        let mut params = ParamSet::new();
        let mut input = embedding + cond;
        let mut blocks = Vec::with_capacity(dims.len());
        for (i, &dim) in dims.iter().enumerate() {
            let linear = Linear::new(&mut params, &format!("residual.{i}.fc"), input, dim, rng);
            let norm = BatchNorm::new(&mut params, &format!("residual.{i}.bn"), dim);
            blocks.push(Block { linear, norm });
            input += dim;
        }
        let output = Linear::new(&mut params, "output", input, width, rng);
        Self {
            params,
            embedding,
            cond,
            dims: dims.to_vec(),
            blocks,
            output,
            spans,
            width,
            tau,
        }
    }

    /// Output width.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The output layer's biases (for calibration).
    pub fn output_bias_mut(&mut self) -> &mut [f32] {
        self.params.value_mut(self.output.bias)
    }

    /// Noise width.
    pub fn embedding(&self) -> usize {
        self.embedding
    }

    /// The output spans.
    pub fn spans(&self) -> &[OutputSpan] {
        &self.spans
    }

    /// Multiply-adds of one forward pass over `rows` rows (hot rows not counted).
    pub fn forward_macs(&self, rows: usize) -> usize {
        let mut input = self.embedding;
        let mut total = 0;
        for &dim in &self.dims {
            total += rows * input * dim;
            input += dim;
        }
        total + rows * input * self.width
    }

    /// Multiply-adds of one backward pass over `rows` rows.
    pub fn backward_macs(&self, rows: usize) -> usize {
        // Weight gradients as many as the forward pass; input gradients for every block
        // output (not for the noise).
        let mut total = self.forward_macs(rows);
        let mut hidden = 0;
        for (i, &dim) in self.dims.iter().enumerate() {
            if i > 0 {
                total += rows * hidden * dim;
            }
            hidden += dim;
        }
        total + rows * hidden * self.width
    }

    /// The pieces of block `i`'s input (block `blocks.len()` is the output layer), each
    /// with its first weight row: `[out_{i-1}, …, out_0, z]`; the conditional rows follow.
    fn pieces<'a>(
        &self,
        outs: &'a [Matrix],
        z: &'a Matrix,
        i: usize,
    ) -> (Vec<(&'a Matrix, usize)>, usize) {
        let mut pieces = Vec::with_capacity(i + 1);
        let mut first = 0;
        for j in (0..i).rev() {
            pieces.push((&outs[j], first));
            first += self.dims[j];
        }
        pieces.push((z, first));
        first += self.embedding;
        (pieces, first)
    }

    /// Runs the network on `pass.z` and `pass.hot`: batch statistics (updating the
    /// running ones) when `train`, running statistics otherwise. Leaves the logits and
    /// the activated output (Gumbel noise from `rng`).
    pub fn forward(&mut self, pass: &mut GeneratorPass, train: bool, rng: &mut impl Rng) {
        let rows = pass.z.rows;
        let per_row = usize::from(self.cond > 0);
        debug_assert!(per_row == 0 || pass.hot.len() == rows);
        let n = self.blocks.len();
        pass.pre.resize_with(n, Matrix::default);
        pass.caches.resize_with(n, BatchNormCache::default);
        pass.outs.resize_with(n, Matrix::default);
        for i in 0..n {
            let block = self.blocks[i];
            {
                let (pieces, hot_first) = self.pieces(&pass.outs, &pass.z, i);
                linear_forward(
                    &self.params,
                    &block.linear,
                    rows,
                    &pieces,
                    &pass.hot,
                    per_row,
                    hot_first,
                    &mut pass.pre[i],
                );
            }
            let out = &mut pass.outs[i];
            if train {
                block
                    .norm
                    .forward_train(&mut self.params, &pass.pre[i], out, &mut pass.caches[i]);
            } else {
                block.norm.forward_eval(&self.params, &pass.pre[i], out);
            }
            layers::relu(&mut out.data);
        }
        let (pieces, hot_first) = self.pieces(&pass.outs, &pass.z, n);
        linear_forward(
            &self.params,
            &self.output,
            rows,
            &pieces,
            &pass.hot,
            per_row,
            hot_first,
            &mut pass.logits,
        );
        self.activate(&pass.logits, &mut pass.output, rng);
    }

    /// `tanh` on scalar spans, Gumbel-softmax with temperature τ on one-hot spans.
    pub fn activate(&self, logits: &Matrix, output: &mut Matrix, rng: &mut impl Rng) {
        output.resize(logits.rows, logits.cols);
        output.data.copy_from_slice(&logits.data);
        let inv_tau = 1.0 / self.tau;
        let cols = logits.cols.max(1);
        for row in output.data.chunks_mut(cols) {
            for span in &self.spans {
                let values = &mut row[span.start..span.start + span.width];
                if span.softmax {
                    for v in values.iter_mut() {
                        *v = (*v + gumbel(rng)) * inv_tau;
                    }
                    layers::softmax(values);
                } else {
                    layers::tanh(values);
                }
            }
        }
    }

    /// Turns `d_output` (the loss gradient with respect to the activated output) into
    /// the gradient with respect to the logits, written to `pass.d_logits`.
    pub fn activation_backward(&self, pass: &mut GeneratorPass, d_output: &[f32]) {
        let (rows, cols) = (pass.output.rows, pass.output.cols);
        pass.d_logits.resize(rows, cols);
        pass.d_logits.data.copy_from_slice(&d_output[..rows * cols]);
        let inv_tau = 1.0 / self.tau;
        for (d, y) in pass
            .d_logits
            .data
            .chunks_mut(cols.max(1))
            .zip(pass.output.data.chunks(cols.max(1)))
        {
            for span in &self.spans {
                let range = span.start..span.start + span.width;
                if span.softmax {
                    layers::softmax_backward(&mut d[range.clone()], &y[range.clone()]);
                    d[range].iter_mut().for_each(|v| *v *= inv_tau);
                } else {
                    layers::tanh_backward(&mut d[range.clone()], &y[range]);
                }
            }
        }
    }

    /// Accumulates every parameter gradient from `pass.d_logits` after a training
    /// forward pass.
    pub fn backward(&mut self, pass: &mut GeneratorPass) {
        let rows = pass.z.rows;
        let per_row = usize::from(self.cond > 0);
        let n = self.blocks.len();
        pass.d_outs.resize_with(n, Matrix::default);
        for (d, &dim) in pass.d_outs.iter_mut().zip(&self.dims) {
            d.resize_zeroed(rows, dim);
        }
        {
            let (pieces, hot_first) = self.pieces(&pass.outs, &pass.z, n);
            linear_weight_grads(
                &mut self.params,
                &self.output,
                rows,
                &pieces,
                &pass.hot,
                per_row,
                hot_first,
                &pass.d_logits,
            );
            // Pieces 0..n are out_{n-1}, …, out_0.
            for (k, &(piece, first)) in pieces[..n].iter().enumerate() {
                let j = n - 1 - k;
                linear_input_grad(
                    &self.params,
                    &self.output,
                    rows,
                    first,
                    piece.cols,
                    &pass.d_logits,
                    &mut pass.d_outs[j],
                    true,
                );
            }
        }
        for i in (0..n).rev() {
            let block = self.blocks[i];
            // Through the ReLU (branch-free, so that it vectorises).
            pass.d_norm.resize(rows, self.dims[i]);
            for ((dn, d), o) in pass
                .d_norm
                .data
                .iter_mut()
                .zip(&pass.d_outs[i].data)
                .zip(&pass.outs[i].data)
            {
                *dn = if *o > 0.0 { *d } else { 0.0 };
            }
            block.norm.backward(
                &mut self.params,
                &pass.caches[i],
                &pass.d_norm,
                &mut pass.d_pre,
            );
            let (pieces, hot_first) = self.pieces(&pass.outs, &pass.z, i);
            linear_weight_grads(
                &mut self.params,
                &block.linear,
                rows,
                &pieces,
                &pass.hot,
                per_row,
                hot_first,
                &pass.d_pre,
            );
            // Pieces 0..i are out_{i-1}, …, out_0.
            for (k, &(piece, first)) in pieces[..i].iter().enumerate() {
                let j = i - 1 - k;
                linear_input_grad(
                    &self.params,
                    &block.linear,
                    rows,
                    first,
                    piece.cols,
                    &pass.d_pre,
                    &mut pass.d_outs[j],
                    true,
                );
            }
        }
    }
}

/// A standard Gumbel draw, `−ln(−ln U)`.
fn gumbel(rng: &mut impl Rng) -> f32 {
    gumbel_from_bits(rng.next_u32())
}

/// The Gumbel draw of 32 random bits: U in (0, 1) from 23 of them offset by half a step,
/// exact in f32 (with 24 bits the largest value would round to 1 and give an infinite
/// draw).
pub(crate) fn gumbel_from_bits(bits: u32) -> f32 {
    let u = ((bits >> 9) as f32 + 0.5) * (1.0 / 8_388_608.0);
    -(-u.ln()).ln()
}

/// Fills `out` with standard normal draws.
pub fn fill_normal(out: &mut [f32], rng: &mut impl Rng) {
    for v in out {
        *v = rng.sample(StandardNormal);
    }
}

// ---------------------------------------------------------------------------------------
// Discriminator
// ---------------------------------------------------------------------------------------

/// The packed critic.
#[derive(Debug, Clone)]
pub struct Discriminator {
    /// Weights.
    pub params: ParamSet,
    pac: usize,
    row: usize,
    cond: usize,
    dims: Vec<usize>,
    hidden: Vec<Linear>,
    output: Linear,
    slope: f32,
    dropout: f32,
}

/// The buffers of one discriminator pass, reused across steps.
#[derive(Debug, Clone, Default)]
pub struct DiscriminatorPass {
    /// The packs' features, `packs × pac·row`.
    pub input: Matrix,
    /// Per pack, the `pac` hot weight rows (`j·cond + category`) of its conditional
    /// vectors; empty when the conditional vector has no width.
    pub hot: Vec<u32>,
    /// Dropout masks per hidden layer (`0` or `1/(1 − p)`); drawn by
    /// [`Discriminator::forward`] unless told to keep them.
    pub masks: Vec<Vec<f32>>,
    pre: Vec<Matrix>,
    factor: Vec<Matrix>,
    act: Vec<Matrix>,
    /// Critic scores, `packs × 1`.
    pub out: Matrix,
    d_act: Matrix,
    d_pre: Matrix,
    /// Gradient with respect to `input`, written by [`Discriminator::backward`].
    pub d_input: Matrix,
    v: Vec<Matrix>,
    dv: Matrix,
    du: Matrix,
    g: Matrix,
}

impl Discriminator {
    /// A critic over packs of `pac` rows of `row` features and `cond` conditional
    /// columns.
    pub fn new(pac: usize, row: usize, cond: usize, dims: &[usize], rng: &mut impl Rng) -> Self {
        let mut params = ParamSet::new();
        let mut input = pac * (row + cond);
        let mut hidden = Vec::with_capacity(dims.len());
        for (i, &dim) in dims.iter().enumerate() {
            hidden.push(Linear::new(
                &mut params,
                &format!("hidden.{i}"),
                input,
                dim,
                rng,
            ));
            input = dim;
        }
        let output = Linear::new(&mut params, "output", input, 1, rng);
        Self {
            params,
            pac,
            row,
            cond,
            dims: dims.to_vec(),
            hidden,
            output,
            slope: 0.2,
            dropout: 0.5,
        }
    }

    /// Input width of one pack.
    pub fn input_width(&self) -> usize {
        self.pac * (self.row + self.cond)
    }

    /// Multiply-adds of a forward pass over `packs` packs (hot rows not counted).
    pub fn forward_macs(&self, packs: usize) -> usize {
        let mut input = self.pac * self.row;
        let mut total = 0;
        for &dim in &self.dims {
            total += packs * input * dim;
            input = dim;
        }
        total + packs * input
    }

    /// Runs the critic on `pass.input` / `pass.hot` with dropout masks drawn from `rng`,
    /// or with the masks already in `pass.masks` when `rng` is `None`.
    pub fn forward<R: RngCore>(&self, pass: &mut DiscriminatorPass, rng: Option<&mut R>) {
        let packs = pass.input.rows;
        let per_row = if self.cond > 0 { self.pac } else { 0 };
        let dense = self.pac * self.row;
        let n = self.hidden.len();
        pass.pre.resize_with(n, Matrix::default);
        pass.factor.resize_with(n, Matrix::default);
        pass.act.resize_with(n, Matrix::default);
        pass.masks.resize_with(n, Vec::new);
        let mut rng = rng;
        for l in 0..n {
            let linear = self.hidden[l];
            if l == 0 {
                linear_forward(
                    &self.params,
                    &linear,
                    packs,
                    &[(&pass.input, 0)],
                    &pass.hot,
                    per_row,
                    dense,
                    &mut pass.pre[0],
                );
            } else {
                linear_forward(
                    &self.params,
                    &linear,
                    packs,
                    &[(&pass.act[l - 1], 0)],
                    &[],
                    0,
                    0,
                    &mut pass.pre[l],
                );
            }
            let size = packs * linear.output;
            if let Some(rng) = rng.as_deref_mut() {
                draw_mask(&mut pass.masks[l], size, self.dropout, rng);
            }
            debug_assert_eq!(pass.masks[l].len(), size);
            let (pre, mask) = (&pass.pre[l], &pass.masks[l]);
            let factor = &mut pass.factor[l];
            factor.resize(packs, linear.output);
            let act = &mut pass.act[l];
            act.resize(packs, linear.output);
            let slope = self.slope;
            for (((f, a), &p), &m) in factor
                .data
                .iter_mut()
                .zip(act.data.iter_mut())
                .zip(&pre.data)
                .zip(mask)
            {
                let s = if p > 0.0 { m } else { m * slope };
                *f = s;
                *a = p * s;
            }
        }
        linear_forward(
            &self.params,
            &self.output,
            packs,
            &[(&pass.act[n - 1], 0)],
            &[],
            0,
            0,
            &mut pass.out,
        );
    }

    /// Backward pass of the first `packs` packs for the score gradient `dy` (`packs`
    /// values): accumulates the weight gradients when `weights`, writes
    /// `pass.d_input` (the features' gradient) when `input`.
    pub fn backward(
        &mut self,
        pass: &mut DiscriminatorPass,
        dy: &Matrix,
        packs: usize,
        weights: bool,
        input: bool,
    ) {
        let per_row = if self.cond > 0 { self.pac } else { 0 };
        let dense = self.pac * self.row;
        let n = self.hidden.len();
        if weights {
            linear_weight_grads(
                &mut self.params,
                &self.output,
                packs,
                &[(&pass.act[n - 1], 0)],
                &[],
                0,
                0,
                dy,
            );
        }
        linear_input_grad(
            &self.params,
            &self.output,
            packs,
            0,
            self.dims[n - 1],
            dy,
            &mut pass.d_act,
            false,
        );
        for l in (0..n).rev() {
            let linear = self.hidden[l];
            pass.d_pre.resize(packs, linear.output);
            for ((d, a), f) in pass
                .d_pre
                .data
                .iter_mut()
                .zip(&pass.d_act.data)
                .zip(&pass.factor[l].data)
            {
                *d = a * f;
            }
            if weights {
                if l == 0 {
                    linear_weight_grads(
                        &mut self.params,
                        &linear,
                        packs,
                        &[(&pass.input, 0)],
                        &pass.hot,
                        per_row,
                        dense,
                        &pass.d_pre,
                    );
                } else {
                    linear_weight_grads(
                        &mut self.params,
                        &linear,
                        packs,
                        &[(&pass.act[l - 1], 0)],
                        &[],
                        0,
                        0,
                        &pass.d_pre,
                    );
                }
            }
            if l > 0 {
                linear_input_grad(
                    &self.params,
                    &linear,
                    packs,
                    0,
                    linear.input,
                    &pass.d_pre,
                    &mut pass.d_act,
                    false,
                );
            } else if input {
                linear_input_grad(
                    &self.params,
                    &linear,
                    packs,
                    0,
                    dense,
                    &pass.d_pre,
                    &mut pass.d_input,
                    false,
                );
            }
        }
    }

    /// Each of the first `rows` packs' squared gradient norm (every weight and bias) of
    /// the score weighted by `dy`, added to `out`, for DP-SGD's per-sample clipping
    /// (`‖x‖²‖δ‖² + ‖δ‖²` per layer, `x` the layer's input with the conditional
    /// vector's ones and `δ` its pre-activation gradient). Runs after
    /// [`Discriminator::forward`] on the same pass; overwrites its gradient buffers.
    pub fn per_sample_sq_norms(
        &self,
        pass: &mut DiscriminatorPass,
        dy: &Matrix,
        rows: usize,
        out: &mut [f64],
    ) {
        let squared = |v: &[f32]| v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>();
        let n = self.hidden.len();
        let last = &pass.act[n - 1];
        for (r, slot) in out.iter_mut().enumerate().take(rows) {
            let g = squared(dy.row(r));
            *slot += g * (squared(last.row(r)) + 1.0);
        }
        linear_input_grad(
            &self.params,
            &self.output,
            rows,
            0,
            self.dims[n - 1],
            dy,
            &mut pass.d_act,
            false,
        );
        let hot_ones = if self.cond > 0 { self.pac as f64 } else { 0.0 };
        for l in (0..n).rev() {
            let linear = self.hidden[l];
            pass.d_pre.resize(rows, linear.output);
            for ((d, a), f) in pass
                .d_pre
                .data
                .iter_mut()
                .zip(&pass.d_act.data)
                .zip(&pass.factor[l].data)
            {
                *d = a * f;
            }
            for (r, slot) in out.iter_mut().enumerate().take(rows) {
                let input = if l == 0 {
                    squared(pass.input.row(r)) + hot_ones
                } else {
                    squared(pass.act[l - 1].row(r))
                };
                *slot += squared(pass.d_pre.row(r)) * (input + 1.0);
            }
            if l > 0 {
                linear_input_grad(
                    &self.params,
                    &linear,
                    rows,
                    0,
                    linear.input,
                    &pass.d_pre,
                    &mut pass.d_act,
                    false,
                );
            }
        }
    }

    /// The gradient penalty `λ/k Σᵢ (‖∇ₓD(xᵢ)‖ − 1)²` over packs `first..first + k` of a
    /// pass already run forward (their masks and slopes fixed), the gradient taken over
    /// the whole input (features and conditional vectors). Accumulates its weight
    /// gradients; returns its value.
    pub fn gradient_penalty(
        &mut self,
        pass: &mut DiscriminatorPass,
        first: usize,
        k: usize,
        lambda: f32,
    ) -> f64 {
        let n = self.hidden.len();
        if k == 0 || lambda == 0.0 {
            return 0.0;
        }
        let sub = |m: &Matrix| -> (usize, usize) { (first * m.cols, (first + k) * m.cols) };
        pass.v.resize_with(n, Matrix::default);
        // v_L = w_out ⊙ f_L
        {
            let w_out = self.params.value(self.output.weight);
            let (a, b) = sub(&pass.factor[n - 1]);
            let factor = &pass.factor[n - 1].data[a..b];
            let v = &mut pass.v[n - 1];
            v.resize(k, self.dims[n - 1]);
            for (vr, fr) in v
                .data
                .chunks_mut(self.dims[n - 1])
                .zip(factor.chunks(self.dims[n - 1]))
            {
                for ((x, f), w) in vr.iter_mut().zip(fr).zip(w_out) {
                    *x = w * f;
                }
            }
        }
        // v_{l-1} = (v_l W_lᵀ) ⊙ f_{l-1}
        for l in (1..n).rev() {
            let linear = self.hidden[l];
            let (lower, upper) = pass.v.split_at_mut(l);
            let target = &mut lower[l - 1];
            target.resize(k, linear.input);
            matmul(
                &mut target.data,
                upper[0].operand(),
                Operand::transposed(
                    self.params.value(linear.weight),
                    linear.input,
                    linear.output,
                ),
                false,
            );
            let (a, b) = sub(&pass.factor[l - 1]);
            for (x, f) in target.data.iter_mut().zip(&pass.factor[l - 1].data[a..b]) {
                *x *= f;
            }
        }
        // g = v_1 W_1ᵀ over the full input.
        let first_layer = self.hidden[0];
        let width = first_layer.input;
        pass.g.resize(k, width);
        matmul(
            &mut pass.g.data,
            pass.v[0].operand(),
            Operand::transposed(
                self.params.value(first_layer.weight),
                width,
                first_layer.output,
            ),
            false,
        );
        let mut penalty = 0.0f64;
        let scale = lambda / k as f32;
        for row in pass.g.data.chunks_mut(width) {
            let norm = row
                .iter()
                .map(|x| f64::from(*x) * f64::from(*x))
                .sum::<f64>()
                .sqrt();
            penalty += (norm - 1.0) * (norm - 1.0);
            let coef = (2.0 * f64::from(scale) * (norm - 1.0) / norm.max(1e-12)) as f32;
            row.iter_mut().for_each(|x| *x *= coef);
        }
        // Back through the chain: dW_1 += Gᵀ v_1, dv_1 = G W_1.
        {
            let weight = self.params.get_mut(first_layer.weight);
            matmul(
                &mut weight.grad,
                pass.g.transposed(),
                pass.v[0].operand(),
                true,
            );
        }
        pass.dv.resize(k, first_layer.output);
        matmul(
            &mut pass.dv.data,
            pass.g.operand(),
            Operand::plain(
                self.params.value(first_layer.weight),
                width,
                first_layer.output,
            ),
            false,
        );
        for l in 0..n {
            // du_l = dv_l ⊙ f_l
            let (a, b) = sub(&pass.factor[l]);
            pass.du.resize(k, self.dims[l]);
            for ((u, d), f) in pass
                .du
                .data
                .iter_mut()
                .zip(&pass.dv.data)
                .zip(&pass.factor[l].data[a..b])
            {
                *u = d * f;
            }
            if l + 1 < n {
                // u_l = v_{l+1} W_{l+1}ᵀ: dW_{l+1} += du_lᵀ v_{l+1}, dv_{l+1} = du_l W_{l+1}.
                let next = self.hidden[l + 1];
                {
                    let weight = self.params.get_mut(next.weight);
                    matmul(
                        &mut weight.grad,
                        pass.du.transposed(),
                        pass.v[l + 1].operand(),
                        true,
                    );
                }
                pass.dv.resize(k, next.output);
                matmul(
                    &mut pass.dv.data,
                    pass.du.operand(),
                    Operand::plain(self.params.value(next.weight), next.input, next.output),
                    false,
                );
            } else {
                // v_L = w_out ⊙ f_L: dw_out += Σ_i du_L.
                let weight = self.params.get_mut(self.output.weight);
                for row in pass.du.data.chunks(self.dims[l]) {
                    for (g, d) in weight.grad.iter_mut().zip(row) {
                        *g += d;
                    }
                }
            }
        }
        penalty * f64::from(scale)
    }
}

/// Inverted-dropout factors (`0` with probability `p`, else `1/(1 − p)`).
fn draw_mask(mask: &mut Vec<f32>, size: usize, p: f32, rng: &mut impl RngCore) {
    mask.resize(size, 0.0);
    if p <= 0.0 {
        mask.fill(1.0);
        return;
    }
    let keep = 1.0 / (1.0 - p);
    let threshold = (f64::from(p) * 4_294_967_296.0) as u64;
    for m in mask.iter_mut() {
        *m = if u64::from(rng.next_u32()) < threshold {
            0.0
        } else {
            keep
        };
    }
}

#[cfg(test)]
impl GeneratorPass {
    /// Which hidden units are active (for finite-difference checks to avoid kinks).
    pub(crate) fn relu_pattern(&self) -> Vec<bool> {
        self.outs
            .iter()
            .flat_map(|m| m.data.iter().map(|v| *v > 0.0))
            .collect()
    }
}

#[cfg(test)]
impl DiscriminatorPass {
    /// Every hidden unit's factor (dropout scale × slope): constant between kinks.
    pub(crate) fn factors(&self) -> Vec<f32> {
        self.factor.iter().flat_map(|m| m.data.clone()).collect()
    }
}

#[cfg(test)]
impl Discriminator {
    /// Hidden layers (for the tests' reference implementation).
    pub(crate) fn layers(&self) -> (&[Linear], Linear, f32) {
        (&self.hidden, self.output, self.slope)
    }
}

#[cfg(test)]
impl Generator {
    /// Every trainable parameter.
    pub(crate) fn trainable_ids(&self) -> Vec<crate::nn::ParamId> {
        let mut ids = Vec::new();
        for b in &self.blocks {
            ids.extend([b.linear.weight, b.linear.bias, b.norm.gamma, b.norm.beta]);
        }
        ids.extend([self.output.weight, self.output.bias]);
        ids
    }
}

#[cfg(test)]
impl Discriminator {
    /// Every trainable parameter.
    pub(crate) fn trainable_ids(&self) -> Vec<crate::nn::ParamId> {
        let mut ids: Vec<_> = self
            .hidden
            .iter()
            .flat_map(|l| [l.weight, l.bias])
            .collect();
        ids.extend([self.output.weight, self.output.bias]);
        ids
    }
}
