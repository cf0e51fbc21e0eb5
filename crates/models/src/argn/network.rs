//! The auto-regressive network: per-column embeddings and one small head per column.
//!
//! Head j sees `x ⊙ m_j`, the concatenated embeddings of the row's tokens with every
//! column that does not precede j in the row's column order zeroed out; its one hidden
//! layer (ReLU) and output layer give logits over j's tokens. The hidden layers are
//! stacked — `(J, D, H)` — so a batch of B rows is one batched matmul over the
//! `(J, B, D)` masked inputs; the output layers are stored padded as `(J, H, Cmax)` but
//! each head multiplies only its own `card_j` columns. Gradients are written by hand
//! (checked against candle's autograd in the tests).

use candle_core::{DType, Device, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::Result;
use crate::training::candle_error;

mod clipped;
pub use clipped::ClippedGradients;

/// Logit added to padding tokens.
const PADDING_LOGIT: f32 = -1e9;

/// The embedding width of a column with `cardinality` tokens: ⌈1.6·card^0.56⌉, at most
/// `max`.
pub fn embedding_width(cardinality: usize, max: usize) -> usize {
    let width = (1.6 * (cardinality.max(1) as f64).powf(0.56)).ceil() as usize;
    width.clamp(2, max.max(2))
}

/// The network's shapes.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Tokens per column.
    pub cardinalities: Vec<usize>,
    /// Embedding width per column.
    pub widths: Vec<usize>,
    /// Start of each column's block in the concatenated embedding.
    pub offsets: Vec<usize>,
    /// Total embedding width D.
    pub total: usize,
    /// Hidden units per head.
    pub hidden: usize,
    /// Largest cardinality.
    pub max_cardinality: usize,
}

impl Layout {
    /// Shapes for these column cardinalities.
    pub fn new(cardinalities: Vec<usize>, embedding_max: usize, hidden: usize) -> Self {
        let widths: Vec<usize> = cardinalities
            .iter()
            .map(|&c| embedding_width(c, embedding_max))
            .collect();
        let mut offsets = Vec::with_capacity(widths.len());
        let mut total = 0;
        for w in &widths {
            offsets.push(total);
            total += w;
        }
        let max_cardinality = cardinalities.iter().copied().max().unwrap_or(1);
        Self {
            cardinalities,
            widths,
            offsets,
            total,
            hidden,
            max_cardinality,
        }
    }

    /// Columns J.
    pub fn columns(&self) -> usize {
        self.cardinalities.len()
    }
}

/// The trainable network.
#[derive(Debug)]
pub struct Network {
    /// Shapes.
    pub layout: Layout,
    embeddings: Vec<Var>,
    w1: Var,
    b1: Var,
    w2: Var,
    b2: Var,
}

/// A tensor's values, flattened.
fn flat(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(candle_error)
}

/// One batch's backward pass.
struct Backward {
    /// The summed cross-entropy over rows and heads.
    loss: f64,
    /// Aligned with [`Network::parameters`].
    gradients: Vec<Tensor>,
    /// With clipping: each row's squared gradient norm before it.
    squared_norms: Option<Vec<f64>>,
}

/// The intermediate gradients of a batch, row by row: what clipping scales.
struct RowGradients<'a> {
    /// d(loss)/d(logits), packed like the logits.
    logits: &'a mut [f32],
    /// d(loss)/d(hidden pre-activations) `(J, B, H)`.
    hidden: &'a mut [f32],
    /// d(loss)/d(masked inputs) `(J, B, D)`.
    inputs: &'a mut [f32],
}

fn var_from(values: Vec<f32>, shape: &[usize]) -> Result<Var> {
    Var::from_tensor(&Tensor::from_vec(values, shape, &Device::Cpu).map_err(candle_error)?)
        .map_err(candle_error)
}

impl Network {
    /// A freshly initialised network (embeddings N(0, 1), layers uniform ±1/√fan-in),
    /// drawn from `rng` so the same seed gives the same start.
    pub fn new(layout: Layout, rng: &mut ChaCha8Rng) -> Result<Self> {
        let (j, d, h, c) = (
            layout.columns(),
            layout.total,
            layout.hidden,
            layout.max_cardinality,
        );
        let mut normal = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    let x: f64 = StandardNormal.sample(rng);
                    x as f32
                })
                .collect()
        };
        let embeddings = layout
            .cardinalities
            .iter()
            .zip(&layout.widths)
            .map(|(&card, &width)| var_from(normal(card * width), &[card, width]))
            .collect::<Result<Vec<_>>>()?;
        let mut uniform = |n: usize, fan_in: usize| -> Vec<f32> {
            let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
            (0..n)
                .map(|_| rng.random_range(-bound..bound) as f32)
                .collect()
        };
        let w1 = var_from(uniform(j * d * h, d), &[j, d, h])?;
        let b1 = var_from(uniform(j * h, d), &[j, 1, h])?;
        let w2 = var_from(uniform(j * h * c, h), &[j, h, c])?;
        let b2 = var_from(uniform(j * c, h), &[j, 1, c])?;
        Ok(Self {
            layout,
            embeddings,
            w1,
            b1,
            w2,
            b2,
        })
    }

    /// The variables by name.
    pub fn parameters(&self) -> Vec<(String, Var)> {
        let mut named: Vec<(String, Var)> = self
            .embeddings
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("embedding.{i:04}"), v.clone()))
            .collect();
        named.push(("head.w1".into(), self.w1.clone()));
        named.push(("head.b1".into(), self.b1.clone()));
        named.push(("head.w2".into(), self.w2.clone()));
        named.push(("head.b2".into(), self.b2.clone()));
        named
    }

    fn tables(&self) -> Result<Vec<Vec<f32>>> {
        self.embeddings
            .iter()
            .map(|e| e.as_tensor().flatten_all()?.to_vec1::<f32>())
            .collect::<candle_core::Result<Vec<_>>>()
            .map_err(candle_error)
    }

    /// The masked inputs `(J, B, D)`: for head j and row r, the embeddings of the row's
    /// tokens in the columns that precede j in the row's order (`positions[row][column]`
    /// = where the column comes), zeros elsewhere.
    fn masked_inputs(
        &self,
        tables: &[Vec<f32>],
        tokens: &[Vec<u32>],
        positions: &[Vec<usize>],
    ) -> Result<Tensor> {
        let layout = &self.layout;
        let (j, d, b) = (layout.columns(), layout.total, positions.len());
        let mut inputs = vec![0.0f32; j * b * d];
        for head in 0..j {
            for (row, position) in positions.iter().enumerate() {
                let base = (head * b + row) * d;
                for (column, table) in tables.iter().enumerate() {
                    if position[column] >= position[head] {
                        continue;
                    }
                    let width = layout.widths[column];
                    let token = tokens[column][row] as usize;
                    let start = base + layout.offsets[column];
                    inputs[start..start + width]
                        .copy_from_slice(&table[token * width..(token + 1) * width]);
                }
            }
        }
        Tensor::from_vec(inputs, (j, b, d), &Device::Cpu).map_err(candle_error)
    }

    /// Hidden activations `(J, B, H)` and each head's logits, packed: head j's `(B, card_j)`
    /// block starts at `starts[j]`. The output layer runs per head over its own tokens
    /// only, so columns with few tokens cost no padding.
    fn forward(&self, inputs: &Tensor, rows: usize) -> Result<(Tensor, Vec<f32>, Vec<usize>)> {
        let run = || -> candle_core::Result<(Tensor, Vec<f32>, Vec<usize>)> {
            let hidden = inputs
                .matmul(&self.w1.as_tensor().detach())?
                .broadcast_add(&self.b1.as_tensor().detach())?
                .relu()?;
            let (w2, b2) = (self.w2.as_tensor().detach(), self.b2.as_tensor().detach());
            let total: usize = self.layout.cardinalities.iter().sum::<usize>() * rows;
            let mut packed = Vec::with_capacity(total);
            let mut starts = Vec::with_capacity(self.layout.columns());
            for (head, &card) in self.layout.cardinalities.iter().enumerate() {
                starts.push(packed.len());
                let w = w2.get(head)?.narrow(1, 0, card)?.contiguous()?;
                let b = b2.get(head)?.narrow(1, 0, card)?.contiguous()?;
                let logits = hidden.get(head)?.matmul(&w)?.broadcast_add(&b)?;
                packed.extend(logits.flatten_all()?.to_vec1::<f32>()?);
            }
            Ok((hidden, packed, starts))
        };
        run().map_err(candle_error)
    }

    /// Logits `(J, B, Cmax)` of every head for token rows (`tokens[column][row]`) under
    /// the given orders, padding at −10⁹.
    pub fn logits(&self, tokens: &[Vec<u32>], positions: &[Vec<usize>]) -> Result<Tensor> {
        let rows = positions.len();
        let inputs = self.masked_inputs(&self.tables()?, tokens, positions)?;
        let (_, packed, starts) = self.forward(&inputs, rows)?;
        let c = self.layout.max_cardinality;
        let mut padded = vec![PADDING_LOGIT; self.layout.columns() * rows * c];
        for (head, &card) in self.layout.cardinalities.iter().enumerate() {
            for row in 0..rows {
                let from = starts[head] + row * card;
                let to = (head * rows + row) * c;
                padded[to..to + card].copy_from_slice(&packed[from..from + card]);
            }
        }
        Tensor::from_vec(padded, (self.layout.columns(), rows, c), &Device::Cpu)
            .map_err(candle_error)
    }

    /// Summed cross-entropy of every head over rows, and when `gradients` is set
    /// d(loss)/d(logits) times `scale` written into it (packed like the logits).
    fn cross_entropy(
        &self,
        logits: &[f32],
        starts: &[usize],
        tokens: &[Vec<u32>],
        rows: usize,
        scale: f32,
        mut gradients: Option<&mut Vec<f32>>,
    ) -> f64 {
        let mut total = 0.0f64;
        for (head, &card) in self.layout.cardinalities.iter().enumerate() {
            for (row, &target) in tokens[head].iter().enumerate().take(rows) {
                let base = starts[head] + row * card;
                let values = &logits[base..base + card];
                let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = values.iter().map(|&l| (l - max).exp()).sum();
                let log_sum = max + sum.ln();
                let target = target as usize;
                total += f64::from(log_sum - values[target]);
                if let Some(grad) = gradients.as_deref_mut() {
                    for (k, &l) in values.iter().enumerate() {
                        grad[base + k] = (l - log_sum).exp() * scale;
                    }
                    grad[base + target] -= scale;
                }
            }
        }
        total
    }

    /// The mean over rows of the summed cross-entropies of all heads.
    pub fn loss(&self, tokens: &[Vec<u32>], positions: &[Vec<usize>]) -> Result<f64> {
        let inputs = self.masked_inputs(&self.tables()?, tokens, positions)?;
        let (_, logits, starts) = self.forward(&inputs, positions.len())?;
        let total = self.cross_entropy(&logits, &starts, tokens, positions.len(), 1.0, None);
        Ok(total / positions.len() as f64)
    }

    /// The loss and its gradients, aligned with [`Self::parameters`], by hand: batched
    /// matmuls for the hidden layers, per-head ones for the output layers, the rest in
    /// plain loops (several times faster on CPU than candle's autograd for this shape).
    pub fn loss_and_gradients(
        &self,
        tokens: &[Vec<u32>],
        positions: &[Vec<usize>],
    ) -> Result<(f64, Vec<Tensor>)> {
        let pass = self.backward(tokens, positions, None)?;
        Ok((pass.loss / positions.len() as f64, pass.gradients))
    }

    /// The backward pass of one batch. Without `clip_norm`: the gradients of the mean
    /// loss over rows. With it: the sum over rows of each row's own gradient clipped to
    /// that norm ([`clipped`]), and the rows' squared norms before clipping.
    fn backward(
        &self,
        tokens: &[Vec<u32>],
        positions: &[Vec<usize>],
        clip_norm: Option<f64>,
    ) -> Result<Backward> {
        let layout = &self.layout;
        let (j, d, h, c, b) = (
            layout.columns(),
            layout.total,
            layout.hidden,
            layout.max_cardinality,
            positions.len(),
        );
        let cpu = &Device::Cpu;
        let tables = self.tables()?;
        let inputs = self.masked_inputs(&tables, tokens, positions)?;
        let (hidden, logits, starts) = self.forward(&inputs, b)?;
        let hidden_values = flat(&hidden)?;
        // The mean over rows; to clip, each row's own gradient.
        let scale = if clip_norm.is_some() {
            1.0
        } else {
            1.0 / b as f32
        };
        let mut d_logits = vec![0.0f32; logits.len()];
        let loss = self.cross_entropy(&logits, &starts, tokens, b, scale, Some(&mut d_logits));

        // Hidden gradients per head, through the ReLU, and the masked inputs'.
        let w2 = self.w2.as_tensor().detach();
        let mut d_hidden_values = Vec::with_capacity(j * b * h);
        for (head, &card) in layout.cardinalities.iter().enumerate() {
            let block = &d_logits[starts[head]..starts[head] + b * card];
            let run = || -> candle_core::Result<Vec<f32>> {
                let d_out = Tensor::from_slice(block, (b, card), cpu)?;
                let w = w2.get(head)?.narrow(1, 0, card)?.contiguous()?;
                d_out.matmul(&w.t()?)?.flatten_all()?.to_vec1::<f32>()
            };
            d_hidden_values.extend(run().map_err(candle_error)?);
        }
        for (g, &a) in d_hidden_values.iter_mut().zip(&hidden_values) {
            if a <= 0.0 {
                *g = 0.0;
            }
        }
        let to_tensor =
            |values: &[f32]| Tensor::from_slice(values, (j, b, h), cpu).map_err(candle_error);
        let mut d_hidden = to_tensor(&d_hidden_values)?;
        let w1_t = self.w1.as_tensor().detach().transpose(1, 2);
        let mut d_inputs = flat(
            &w1_t
                .and_then(|w| d_hidden.matmul(&w))
                .map_err(candle_error)?,
        )?;

        let squared_norms = match clip_norm {
            None => None,
            Some(clip_norm) => {
                let mut rows = RowGradients {
                    logits: &mut d_logits,
                    hidden: &mut d_hidden_values,
                    inputs: &mut d_inputs,
                };
                let norms = self.clip_rows(
                    &flat(&inputs)?,
                    &hidden_values,
                    &starts,
                    positions,
                    &mut rows,
                    clip_norm,
                );
                d_hidden = to_tensor(&d_hidden_values)?;
                Some(norms)
            }
        };

        // The parameters' gradients from the (scaled) intermediate ones.
        let mut d_b2 = vec![0.0f32; j * c];
        let mut d_w2 = vec![0.0f32; j * h * c];
        for (head, &card) in layout.cardinalities.iter().enumerate() {
            let block = &d_logits[starts[head]..starts[head] + b * card];
            for row in 0..b {
                for k in 0..card {
                    d_b2[head * c + k] += block[row * card + k];
                }
            }
            let run = || -> candle_core::Result<Vec<f32>> {
                let d_out = Tensor::from_slice(block, (b, card), cpu)?;
                let d_w = hidden.get(head)?.t()?.matmul(&d_out)?;
                d_w.flatten_all()?.to_vec1::<f32>()
            };
            let d_w = run().map_err(candle_error)?;
            for unit in 0..h {
                let to = (head * h + unit) * c;
                d_w2[to..to + card].copy_from_slice(&d_w[unit * card..(unit + 1) * card]);
            }
        }
        let mut d_b1 = vec![0.0f32; j * h];
        for (i, &g) in d_hidden_values.iter().enumerate() {
            let head = i / (b * h);
            d_b1[head * h + i % h] += g;
        }
        let d_w1 = inputs
            .transpose(1, 2)
            .and_then(|t| t.matmul(&d_hidden))
            .map_err(candle_error)?;
        let mut d_tables: Vec<Vec<f32>> = tables.iter().map(|t| vec![0.0; t.len()]).collect();
        for head in 0..j {
            for (row, position) in positions.iter().enumerate() {
                let base = (head * b + row) * d;
                for (column, grad) in d_tables.iter_mut().enumerate() {
                    if position[column] >= position[head] {
                        continue;
                    }
                    let width = layout.widths[column];
                    let token = tokens[column][row] as usize;
                    let start = base + layout.offsets[column];
                    for (g, &x) in grad[token * width..(token + 1) * width]
                        .iter_mut()
                        .zip(&d_inputs[start..start + width])
                    {
                        *g += x;
                    }
                }
            }
        }
        let mut gradients = Vec::with_capacity(j + 4);
        for (column, grad) in d_tables.into_iter().enumerate() {
            let shape = (layout.cardinalities[column], layout.widths[column]);
            gradients.push(Tensor::from_vec(grad, shape, cpu).map_err(candle_error)?);
        }
        gradients.push(d_w1);
        gradients.push(Tensor::from_vec(d_b1, (j, 1, h), cpu).map_err(candle_error)?);
        gradients.push(Tensor::from_vec(d_w2, (j, h, c), cpu).map_err(candle_error)?);
        gradients.push(Tensor::from_vec(d_b2, (j, 1, c), cpu).map_err(candle_error)?);
        Ok(Backward {
            loss,
            gradients,
            squared_norms,
        })
    }

    /// Per-head weights for sampling, copied out once.
    pub fn heads(&self) -> Result<SamplingHeads> {
        let (c, layout) = (self.layout.max_cardinality, &self.layout);
        let mut heads = Vec::with_capacity(layout.columns());
        let run = |column: usize, card: usize| -> candle_core::Result<Head> {
            Ok(Head {
                w1: self.w1.as_tensor().get(column)?.detach(),
                b1: self.b1.as_tensor().get(column)?.detach(),
                w2: self
                    .w2
                    .as_tensor()
                    .get(column)?
                    .narrow(1, 0, card)?
                    .contiguous()?
                    .detach(),
                b2: self
                    .b2
                    .as_tensor()
                    .get(column)?
                    .narrow(1, 0, card)?
                    .contiguous()?
                    .detach(),
            })
        };
        for (column, &card) in layout.cardinalities.iter().enumerate() {
            debug_assert!(card <= c);
            heads.push(run(column, card).map_err(candle_error)?);
        }
        let embeddings = self.tables()?;
        Ok(SamplingHeads {
            layout: self.layout.clone(),
            heads,
            embeddings,
        })
    }

    /// Replaces an embedding table (for tests of the masking).
    #[cfg(test)]
    pub fn set_embedding(&self, column: usize, values: &Tensor) -> Result<()> {
        self.embeddings[column].set(values).map_err(candle_error)
    }

    /// The tensors by name, for saving.
    pub fn tensors(&self) -> std::collections::HashMap<String, Tensor> {
        self.parameters()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().detach()))
            .collect()
    }
}

#[derive(Debug)]
struct Head {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
}

/// Frozen weights laid out for generating rows column by column.
#[derive(Debug)]
pub struct SamplingHeads {
    layout: Layout,
    heads: Vec<Head>,
    embeddings: Vec<Vec<f32>>,
}

impl SamplingHeads {
    /// Shapes.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Logits `(n, card_j)` of head `column` for `n` rows, each seeing the columns marked
    /// in `visible[row]` with the tokens in `tokens[row]`.
    pub fn head_logits(
        &self,
        column: usize,
        rows: &[usize],
        tokens: &[Vec<u32>],
        visible: &dyn Fn(usize, usize) -> bool,
    ) -> Result<Vec<Vec<f32>>> {
        let layout = &self.layout;
        let d = layout.total;
        let mut x = vec![0.0f32; rows.len() * d];
        for (i, &row) in rows.iter().enumerate() {
            for (other, column_tokens) in tokens.iter().enumerate().take(layout.columns()) {
                if !visible(row, other) {
                    continue;
                }
                let width = layout.widths[other];
                let token = column_tokens[row] as usize;
                let source = &self.embeddings[other][token * width..(token + 1) * width];
                let start = i * d + layout.offsets[other];
                x[start..start + width].copy_from_slice(source);
            }
        }
        let head = &self.heads[column];
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let x = Tensor::from_vec(x, (rows.len(), d), &Device::Cpu)?;
            let hidden = x.matmul(&head.w1)?.broadcast_add(&head.b1)?.relu()?;
            hidden
                .matmul(&head.w2)?
                .broadcast_add(&head.b2)?
                .to_dtype(DType::F32)?
                .to_vec2::<f32>()
        };
        run().map_err(candle_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::D;
    use rand::SeedableRng;

    /// The hand-written backward pass against candle's autograd on the same forward.
    #[test]
    fn gradients_match_autograd() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let network = Network::new(Layout::new(vec![3, 5, 2, 4], 16, 6), &mut rng).expect("net");
        let tokens = vec![vec![0, 2, 1], vec![4, 0, 3], vec![1, 1, 0], vec![3, 2, 0]];
        let positions = vec![vec![0, 1, 2, 3], vec![3, 2, 1, 0], vec![1, 3, 0, 2]];
        let (loss, gradients) = network
            .loss_and_gradients(&tokens, &positions)
            .expect("manual");
        let reference = || -> candle_core::Result<(f32, Vec<Tensor>)> {
            let layout = &network.layout;
            let (j, b) = (layout.columns(), positions.len());
            let parts = network
                .embeddings
                .iter()
                .zip(&tokens)
                .map(|(table, column)| {
                    table
                        .as_tensor()
                        .index_select(&Tensor::new(column.as_slice(), &Device::Cpu)?, 0)
                })
                .collect::<candle_core::Result<Vec<_>>>()?;
            let x = Tensor::cat(&parts, 1)?;
            let mut mask = vec![0.0f32; j * b * layout.total];
            for head in 0..j {
                for (row, pos) in positions.iter().enumerate() {
                    for column in 0..j {
                        if pos[column] < pos[head] {
                            let start = (head * b + row) * layout.total + layout.offsets[column];
                            mask[start..start + layout.widths[column]].fill(1.0);
                        }
                    }
                }
            }
            let mask = Tensor::from_vec(mask, (j, b, layout.total), &Device::Cpu)?;
            let c = layout.max_cardinality;
            let mut padding = vec![0.0f32; j * c];
            for (column, &card) in layout.cardinalities.iter().enumerate() {
                padding[column * c + card..(column + 1) * c].fill(PADDING_LOGIT);
            }
            let padding = Tensor::from_vec(padding, (j, 1, c), &Device::Cpu)?;
            let hidden = mask
                .broadcast_mul(&x.unsqueeze(0)?)?
                .matmul(network.w1.as_tensor())?
                .broadcast_add(network.b1.as_tensor())?
                .relu()?;
            let logits = hidden
                .matmul(network.w2.as_tensor())?
                .broadcast_add(network.b2.as_tensor())?
                .broadcast_add(&padding)?;
            let targets: Vec<u32> = tokens.iter().flatten().copied().collect();
            let targets = Tensor::from_vec(targets, (j, b, 1), &Device::Cpu)?;
            let picked = candle_nn::ops::log_softmax(&logits, D::Minus1)?.gather(&targets, 2)?;
            let loss = picked.sum_all()?.affine(-1.0 / b as f64, 0.0)?;
            let grads = loss.backward()?;
            let gradients = network
                .parameters()
                .iter()
                .map(|(_, v)| {
                    grads
                        .get(v.as_tensor())
                        .cloned()
                        .unwrap_or(v.as_tensor().zeros_like()?)
                        .flatten_all()
                })
                .collect::<candle_core::Result<Vec<_>>>()?;
            Ok((loss.to_scalar::<f32>()?, gradients))
        };
        let (expected_loss, expected) = reference().expect("autograd");
        assert!(
            (loss - f64::from(expected_loss)).abs() < 1e-4,
            "{loss} vs {expected_loss}"
        );
        for ((name, _), (got, want)) in network
            .parameters()
            .iter()
            .zip(gradients.iter().zip(&expected))
        {
            let got = got
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .expect("got");
            let want = want.to_vec1::<f32>().expect("want");
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-4, "{name}: {g} vs {w}");
            }
        }
    }
}
