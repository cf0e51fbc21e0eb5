//! Layers with hand-written forward and backward passes over reused buffers.
//!
//! Every backward pass *accumulates* parameter gradients into the [`ParamSet`] (so several
//! losses can add up before one optimizer step) and *overwrites* the input gradient.

use rand::Rng;

use super::{Matrix, Operand, ParamId, ParamSet, matmul};

/// A fully connected layer `y = x·W + b`, `W` stored `input × output`.
#[derive(Debug, Clone, Copy)]
pub struct Linear {
    /// Input width.
    pub input: usize,
    /// Output width.
    pub output: usize,
    /// `input × output` weights.
    pub weight: ParamId,
    /// `output` biases.
    pub bias: ParamId,
}

impl Linear {
    /// A layer initialised as PyTorch does: uniform in ±1/√input.
    pub fn new(
        params: &mut ParamSet,
        name: &str,
        input: usize,
        output: usize,
        rng: &mut impl Rng,
    ) -> Self {
        let bound = 1.0 / (input.max(1) as f32).sqrt();
        let weight = params.add_uniform(format!("{name}.weight"), vec![input, output], bound, rng);
        let bias = params.add_uniform(format!("{name}.bias"), vec![output], bound, rng);
        Self {
            input,
            output,
            weight,
            bias,
        }
    }

    /// `y = x·W + b`.
    pub fn forward(&self, params: &ParamSet, x: &Matrix, y: &mut Matrix) {
        debug_assert_eq!(x.cols, self.input);
        y.resize(x.rows, self.output);
        let bias = params.value(self.bias);
        for row in y.data.chunks_mut(self.output) {
            row.copy_from_slice(bias);
        }
        matmul(
            &mut y.data,
            x.operand(),
            Operand::plain(params.value(self.weight), self.input, self.output),
            true,
        );
    }

    /// Accumulates `dW += xᵀ·dy`, `db += Σ dy`; writes `dx = dy·Wᵀ` when asked.
    pub fn backward(
        &self,
        params: &mut ParamSet,
        x: &Matrix,
        dy: &Matrix,
        dx: Option<&mut Matrix>,
    ) {
        debug_assert_eq!(dy.cols, self.output);
        {
            let weight = params.get_mut(self.weight);
            matmul(&mut weight.grad, x.transposed(), dy.operand(), true);
        }
        {
            let bias = params.get_mut(self.bias);
            for row in dy.data.chunks(self.output) {
                for (g, d) in bias.grad.iter_mut().zip(row) {
                    *g += d;
                }
            }
        }
        if let Some(dx) = dx {
            self.backward_input(params, dy, dx);
        }
    }

    /// Multiply-adds of one forward pass over `rows` rows.
    pub fn flops(&self, rows: usize) -> usize {
        rows * self.input * self.output
    }
}

/// Batch normalisation over a batch's rows (Ioffe & Szegedy), with running statistics for
/// inference.
#[derive(Debug, Clone, Copy)]
pub struct BatchNorm {
    /// Features.
    pub width: usize,
    /// Scale γ.
    pub gamma: ParamId,
    /// Shift β.
    pub beta: ParamId,
    /// Running mean (a buffer).
    pub running_mean: ParamId,
    /// Running variance (a buffer).
    pub running_var: ParamId,
    /// Weight of a new batch in the running statistics.
    pub momentum: f32,
    /// Variance guard.
    pub epsilon: f32,
}

/// What a training forward pass of [`BatchNorm`] keeps for its backward pass.
#[derive(Debug, Clone, Default)]
pub struct BatchNormCache {
    /// Normalised inputs x̂.
    pub normalized: Matrix,
    /// 1/√(var + ε) per feature.
    pub inv_std: Vec<f32>,
}

impl BatchNorm {
    /// γ = 1, β = 0, running statistics (0, 1).
    pub fn new(params: &mut ParamSet, name: &str, width: usize) -> Self {
        Self {
            width,
            gamma: params.add_constant(format!("{name}.weight"), vec![width], 1.0),
            beta: params.add_constant(format!("{name}.bias"), vec![width], 0.0),
            running_mean: params.add_buffer(
                format!("{name}.running_mean"),
                vec![width],
                vec![0.0; width],
            ),
            running_var: params.add_buffer(
                format!("{name}.running_var"),
                vec![width],
                vec![1.0; width],
            ),
            momentum: 0.1,
            epsilon: 1e-5,
        }
    }

    /// Normalises with the batch's statistics, updates the running ones, keeps the cache.
    pub fn forward_train(
        &self,
        params: &mut ParamSet,
        x: &Matrix,
        y: &mut Matrix,
        cache: &mut BatchNormCache,
    ) {
        let (n, c) = (x.rows, self.width);
        debug_assert_eq!(x.cols, c);
        let mut mean = vec![0.0f64; c];
        for row in x.data.chunks(c) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += f64::from(*v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        let mut var = vec![0.0f64; c];
        for row in x.data.chunks(c) {
            for ((s, v), m) in var.iter_mut().zip(row).zip(&mean) {
                let d = f64::from(*v) - m;
                *s += d * d;
            }
        }
        cache.inv_std.clear();
        cache.inv_std.extend(
            var.iter()
                .map(|s| (1.0 / (s / n.max(1) as f64 + f64::from(self.epsilon)).sqrt()) as f32),
        );
        cache.normalized.resize(n, c);
        y.resize(n, c);
        let mean32: Vec<f32> = mean.iter().map(|m| *m as f32).collect();
        {
            let gamma = params.value(self.gamma);
            let beta = params.value(self.beta);
            for ((xr, hr), yr) in x
                .data
                .chunks(c)
                .zip(cache.normalized.data.chunks_mut(c))
                .zip(y.data.chunks_mut(c))
            {
                for j in 0..c {
                    let h = (xr[j] - mean32[j]) * cache.inv_std[j];
                    hr[j] = h;
                    yr[j] = gamma[j] * h + beta[j];
                }
            }
        }
        let m = self.momentum;
        let unbiased = if n > 1 {
            n as f64 / (n - 1) as f64
        } else {
            1.0
        };
        let running_mean = params.value_mut(self.running_mean);
        for (r, b) in running_mean.iter_mut().zip(&mean32) {
            *r = (1.0 - m) * *r + m * b;
        }
        let running_var = params.value_mut(self.running_var);
        for (r, s) in running_var.iter_mut().zip(&var) {
            *r = (1.0 - m) * *r + m * (s / n.max(1) as f64 * unbiased) as f32;
        }
    }

    /// Normalises with the running statistics (inference).
    pub fn forward_eval(&self, params: &ParamSet, x: &Matrix, y: &mut Matrix) {
        let c = self.width;
        y.resize(x.rows, c);
        let (gamma, beta) = (params.value(self.gamma), params.value(self.beta));
        let (mean, var) = (
            params.value(self.running_mean),
            params.value(self.running_var),
        );
        let scale: Vec<f32> = (0..c)
            .map(|j| gamma[j] / (var[j] + self.epsilon).sqrt())
            .collect();
        for (xr, yr) in x.data.chunks(c).zip(y.data.chunks_mut(c)) {
            for j in 0..c {
                yr[j] = (xr[j] - mean[j]) * scale[j] + beta[j];
            }
        }
    }

    /// Accumulates dγ, dβ and writes dx for a training forward pass.
    pub fn backward(
        &self,
        params: &mut ParamSet,
        cache: &BatchNormCache,
        dy: &Matrix,
        dx: &mut Matrix,
    ) {
        let (n, c) = (dy.rows, self.width);
        let mut sum_dy = vec![0.0f32; c];
        let mut sum_dy_h = vec![0.0f32; c];
        for (dr, hr) in dy.data.chunks(c).zip(cache.normalized.data.chunks(c)) {
            for j in 0..c {
                sum_dy[j] += dr[j];
                sum_dy_h[j] += dr[j] * hr[j];
            }
        }
        {
            let gamma = params.get_mut(self.gamma);
            for (g, s) in gamma.grad.iter_mut().zip(&sum_dy_h) {
                *g += s;
            }
        }
        {
            let beta = params.get_mut(self.beta);
            for (g, s) in beta.grad.iter_mut().zip(&sum_dy) {
                *g += s;
            }
        }
        let gamma = params.value(self.gamma);
        let inv_n = 1.0 / n.max(1) as f32;
        let coef: Vec<f32> = (0..c).map(|j| gamma[j] * cache.inv_std[j]).collect();
        dx.resize(n, c);
        for ((dr, hr), xr) in dy
            .data
            .chunks(c)
            .zip(cache.normalized.data.chunks(c))
            .zip(dx.data.chunks_mut(c))
        {
            for j in 0..c {
                xr[j] = coef[j] * (dr[j] - inv_n * sum_dy[j] - hr[j] * inv_n * sum_dy_h[j]);
            }
        }
    }
}

/// `max(x, 0)` in place.
pub fn relu(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = v.max(0.0));
}

/// `dy ← dy · [y > 0]` in place, `y` the ReLU's output.
pub fn relu_backward(dy: &mut [f32], y: &[f32]) {
    for (d, v) in dy.iter_mut().zip(y) {
        if *v <= 0.0 {
            *d = 0.0;
        }
    }
}

/// LeakyReLU with this negative slope, in place.
pub fn leaky_relu(x: &mut [f32], slope: f32) {
    x.iter_mut().for_each(|v| {
        if *v < 0.0 {
            *v *= slope;
        }
    });
}

/// `dy ← dy · (1 if y > 0 else slope)` in place, `y` the LeakyReLU's output (same sign as
/// its input for a positive slope).
pub fn leaky_relu_backward(dy: &mut [f32], y: &[f32], slope: f32) {
    for (d, v) in dy.iter_mut().zip(y) {
        if *v < 0.0 {
            *d *= slope;
        }
    }
}

/// Inverted dropout: zeroes each value with probability `p` and scales the rest by
/// 1/(1 − p); `mask` receives the factor applied to each value (0 or 1/(1 − p)).
pub fn dropout(x: &mut [f32], p: f32, mask: &mut Vec<f32>, rng: &mut impl Rng) {
    mask.clear();
    let keep = 1.0 / (1.0 - p);
    mask.extend((0..x.len()).map(|_| if rng.random::<f32>() < p { 0.0 } else { keep }));
    for (v, m) in x.iter_mut().zip(mask.iter()) {
        *v *= m;
    }
}

/// Multiplies `dy` by a dropout mask in place.
pub fn apply_mask(dy: &mut [f32], mask: &[f32]) {
    for (d, m) in dy.iter_mut().zip(mask) {
        *d *= m;
    }
}

/// `tanh` in place.
pub fn tanh(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = v.tanh());
}

/// `dy ← dy · (1 − y²)` in place, `y` the tanh's output.
pub fn tanh_backward(dy: &mut [f32], y: &[f32]) {
    for (d, v) in dy.iter_mut().zip(y) {
        *d *= 1.0 - v * v;
    }
}

/// Softmax of each row's `start..start + width` slice in place.
pub fn softmax_span(x: &mut Matrix, start: usize, width: usize) {
    let cols = x.cols;
    for row in x.data.chunks_mut(cols) {
        softmax(&mut row[start..start + width]);
    }
}

/// Softmax of a slice in place.
pub fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    let inv = 1.0 / sum;
    v.iter_mut().for_each(|x| *x *= inv);
}

/// The index of the largest value (the first on ties; 0 for an empty slice).
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// `log Σ exp` of a slice.
pub fn log_sum_exp(v: &[f32]) -> f32 {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    max + v.iter().map(|x| (x - max).exp()).sum::<f32>().ln()
}

/// The backward pass of a softmax over a slice: `dx = y ⊙ (dy − ⟨dy, y⟩)`, written into
/// `dy`.
pub fn softmax_backward(dy: &mut [f32], y: &[f32]) {
    let dot: f32 = dy.iter().zip(y).map(|(d, v)| d * v).sum();
    for (d, v) in dy.iter_mut().zip(y) {
        *d = v * (*d - dot);
    }
}
