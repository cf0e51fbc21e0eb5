//! Named parameters with their gradients, and the Adam optimizer over them.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use rand::Rng;

use crate::error::{ModelError, Result};
use crate::training::candle_error;

/// A handle to one parameter of a [`ParamSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParamId(usize);

/// One trainable tensor: its values and the gradient accumulated for them.
#[derive(Debug, Clone)]
pub struct Param {
    /// Stable name (saved in weights files and checkpoints).
    pub name: String,
    /// Shape, row-major.
    pub shape: Vec<usize>,
    /// Values.
    pub value: Vec<f32>,
    /// Gradient of the loss with respect to `value`, accumulated by backward passes.
    pub grad: Vec<f32>,
    /// Updated by the optimizer; `false` for buffers such as batch-norm running statistics,
    /// which are saved with the weights but set by the forward pass.
    pub trainable: bool,
}

/// The parameters of one network.
#[derive(Debug, Clone, Default)]
pub struct ParamSet {
    params: Vec<Param>,
}

impl ParamSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a parameter with these values.
    pub fn add(&mut self, name: impl Into<String>, shape: Vec<usize>, value: Vec<f32>) -> ParamId {
        debug_assert_eq!(shape.iter().product::<usize>(), value.len());
        let grad = vec![0.0; value.len()];
        self.params.push(Param {
            name: name.into(),
            shape,
            value,
            grad,
            trainable: true,
        });
        ParamId(self.params.len() - 1)
    }

    /// Adds a buffer: saved with the weights, never touched by the optimizer.
    pub fn add_buffer(
        &mut self,
        name: impl Into<String>,
        shape: Vec<usize>,
        value: Vec<f32>,
    ) -> ParamId {
        let id = self.add(name, shape, value);
        self.params[id.0].trainable = false;
        id
    }

    /// Adds a parameter drawn uniformly from `[-bound, bound]` (PyTorch's default
    /// initialisation of linear layers uses `bound = 1/√fan_in`).
    pub fn add_uniform(
        &mut self,
        name: impl Into<String>,
        shape: Vec<usize>,
        bound: f32,
        rng: &mut impl Rng,
    ) -> ParamId {
        let size = shape.iter().product();
        let value = (0..size)
            .map(|_| rng.random_range(-bound..=bound))
            .collect();
        self.add(name, shape, value)
    }

    /// Adds a parameter filled with `fill`.
    pub fn add_constant(
        &mut self,
        name: impl Into<String>,
        shape: Vec<usize>,
        fill: f32,
    ) -> ParamId {
        let size = shape.iter().product();
        self.add(name, shape, vec![fill; size])
    }

    /// The parameter's values.
    pub fn value(&self, id: ParamId) -> &[f32] {
        &self.params[id.0].value
    }

    /// The parameter's values, writable.
    pub fn value_mut(&mut self, id: ParamId) -> &mut [f32] {
        &mut self.params[id.0].value
    }

    /// The handle of the `index`-th parameter added.
    pub fn id_at(&self, index: usize) -> ParamId {
        debug_assert!(index < self.params.len());
        ParamId(index)
    }

    /// The whole parameter.
    pub fn get(&self, id: ParamId) -> &Param {
        &self.params[id.0]
    }

    /// The whole parameter, writable (values and gradient at once).
    pub fn get_mut(&mut self, id: ParamId) -> &mut Param {
        &mut self.params[id.0]
    }

    /// Every parameter, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.params.iter()
    }

    /// Number of parameters (tensors).
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// No parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Total number of scalars.
    pub fn scalars(&self) -> usize {
        self.params.iter().map(|p| p.value.len()).sum()
    }

    /// Copies every value from `other`, a set with the same parameters (a replica).
    pub fn copy_values_from(&mut self, other: &ParamSet) {
        for (mine, theirs) in self.params.iter_mut().zip(&other.params) {
            mine.value.copy_from_slice(&theirs.value);
        }
    }

    /// Adds `other`'s gradients (a replica's) into these.
    pub fn add_grads_from(&mut self, other: &ParamSet) {
        for (mine, theirs) in self.params.iter_mut().zip(&other.params) {
            for (g, t) in mine.grad.iter_mut().zip(&theirs.grad) {
                *g += t;
            }
        }
    }

    /// Sets every gradient to zero.
    pub fn zero_grads(&mut self) {
        for p in &mut self.params {
            p.grad.fill(0.0);
        }
    }

    /// The values as candle tensors by name (`prefix` + name), for safetensors files.
    pub fn to_tensors(&self, prefix: &str) -> Result<HashMap<String, Tensor>> {
        self.params
            .iter()
            .map(|p| {
                let tensor = Tensor::from_slice(&p.value, p.shape.as_slice(), &Device::Cpu)
                    .map_err(candle_error)?;
                Ok((format!("{prefix}{}", p.name), tensor))
            })
            .collect()
    }

    /// Loads values written by [`Self::to_tensors`]; every parameter must be present with
    /// its shape.
    pub fn load_tensors(&mut self, prefix: &str, tensors: &HashMap<String, Tensor>) -> Result<()> {
        for p in &mut self.params {
            let key = format!("{prefix}{}", p.name);
            let tensor = tensors.get(&key).ok_or_else(|| ModelError::Tensor {
                message: format!("weights have no tensor {key}"),
            })?;
            if tensor.dims() != p.shape.as_slice() {
                return Err(ModelError::Tensor {
                    message: format!(
                        "tensor {key} has shape {:?}, the model expects {:?}",
                        tensor.dims(),
                        p.shape
                    ),
                });
            }
            p.value = tensor
                .flatten_all()
                .and_then(|t| t.to_dtype(candle_core::DType::F32))
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(candle_error)?;
        }
        Ok(())
    }
}

/// How weight decay enters Adam.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WeightDecay {
    /// Added to the gradient as an L2 penalty (PyTorch's `Adam(weight_decay=…)`, which the
    /// CTGAN and TVAE papers' reference settings use).
    L2(f32),
    /// Applied to the weights directly (AdamW).
    Decoupled(f32),
}

/// Adam (Kingma & Ba) over a [`ParamSet`], its moments readable for checkpoints.
#[derive(Debug, Clone)]
pub struct Adam {
    /// Step size.
    pub learning_rate: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator guard.
    pub epsilon: f32,
    /// Weight decay.
    pub weight_decay: WeightDecay,
    first: Vec<Vec<f32>>,
    second: Vec<Vec<f32>>,
    step: u64,
}

impl Adam {
    /// An optimizer for `params`, moments at zero.
    pub fn new(
        params: &ParamSet,
        learning_rate: f32,
        betas: (f32, f32),
        weight_decay: WeightDecay,
    ) -> Self {
        Self {
            learning_rate,
            beta1: betas.0,
            beta2: betas.1,
            epsilon: 1e-8,
            weight_decay,
            first: params.iter().map(|p| vec![0.0; p.value.len()]).collect(),
            second: params.iter().map(|p| vec![0.0; p.value.len()]).collect(),
            step: 0,
        }
    }

    /// Steps taken.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Applies one update from the accumulated gradients (which it leaves in place).
    pub fn step(&mut self, params: &mut ParamSet) {
        self.step += 1;
        let t = self.step as i32;
        let c1 = 1.0 - f64::from(self.beta1).powi(t);
        let c2 = 1.0 - f64::from(self.beta2).powi(t);
        // lr·m̂/(√v̂ + ε) = (lr/c1)·m/(√v/√c2 + ε)
        let step_size = (f64::from(self.learning_rate) / c1) as f32;
        let root_c2 = c2.sqrt() as f32;
        let (b1, b2, eps) = (self.beta1, self.beta2, self.epsilon);
        let (l2, decay) = match self.weight_decay {
            WeightDecay::L2(w) => (w, 1.0),
            WeightDecay::Decoupled(w) => (0.0, 1.0 - self.learning_rate * w),
        };
        for ((p, m), v) in params
            .params
            .iter_mut()
            .zip(&mut self.first)
            .zip(&mut self.second)
        {
            if !p.trainable {
                continue;
            }
            // Zipped slices (no bounds checks) so the loop vectorises.
            let inv_root_c2 = 1.0 / root_c2;
            for (((w, g), mi), vi) in p
                .value
                .iter_mut()
                .zip(&p.grad)
                .zip(m.iter_mut())
                .zip(v.iter_mut())
            {
                let g = g + l2 * *w;
                *mi = b1 * *mi + (1.0 - b1) * g;
                *vi = b2 * *vi + (1.0 - b2) * g * g;
                *w = *w * decay - step_size * *mi / (vi.sqrt() * inv_root_c2 + eps);
            }
        }
    }

    /// The moments by name (`prefix` + `<parameter>.m` / `.v`), for a checkpoint.
    pub fn state_tensors(
        &self,
        params: &ParamSet,
        prefix: &str,
    ) -> Result<HashMap<String, Tensor>> {
        let mut state = HashMap::new();
        for ((p, m), v) in params.iter().zip(&self.first).zip(&self.second) {
            let shape = p.shape.as_slice();
            let tm = Tensor::from_slice(m, shape, &Device::Cpu).map_err(candle_error)?;
            let tv = Tensor::from_slice(v, shape, &Device::Cpu).map_err(candle_error)?;
            state.insert(format!("{prefix}{}.m", p.name), tm);
            state.insert(format!("{prefix}{}.v", p.name), tv);
        }
        Ok(state)
    }

    /// Restores moments and the step count written by [`Self::state_tensors`].
    pub fn load_state(
        &mut self,
        params: &ParamSet,
        prefix: &str,
        state: &HashMap<String, Tensor>,
        step: u64,
    ) -> Result<()> {
        for ((p, m), v) in params.iter().zip(&mut self.first).zip(&mut self.second) {
            for (suffix, slot) in [("m", &mut *m), ("v", &mut *v)] {
                let key = format!("{prefix}{}.{suffix}", p.name);
                let tensor = state.get(&key).ok_or_else(|| ModelError::Tensor {
                    message: format!("optimizer state has no {key}"),
                })?;
                let values = tensor
                    .flatten_all()
                    .and_then(|t| t.to_vec1::<f32>())
                    .map_err(candle_error)?;
                if values.len() != slot.len() {
                    return Err(ModelError::Tensor {
                        message: format!("optimizer state {key} has the wrong size"),
                    });
                }
                *slot = values;
            }
        }
        self.step = step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_minimises_a_quadratic_and_round_trips_its_state() {
        let mut params = ParamSet::new();
        let w = params.add("w", vec![2], vec![3.0, -2.0]);
        let mut adam = Adam::new(&params, 0.1, (0.9, 0.999), WeightDecay::L2(0.0));
        for _ in 0..300 {
            params.zero_grads();
            let p = params.get_mut(w);
            for i in 0..2 {
                p.grad[i] = 2.0 * (p.value[i] - 1.0);
            }
            adam.step(&mut params);
        }
        for x in params.value(w) {
            assert!((x - 1.0).abs() < 0.05, "{x}");
        }
        let state = adam.state_tensors(&params, "g.").expect("state");
        let mut other = Adam::new(&params, 0.1, (0.9, 0.999), WeightDecay::L2(0.0));
        other
            .load_state(&params, "g.", &state, adam.step_count())
            .expect("load");
        assert_eq!(other.first, adam.first);
        assert_eq!(other.second, adam.second);
        let tensors = params.to_tensors("g.").expect("tensors");
        let mut copy = params.clone();
        copy.value_mut(w).fill(0.0);
        copy.load_tensors("g.", &tensors).expect("load");
        assert_eq!(copy.value(w), params.value(w));
    }

    #[test]
    fn missing_or_misshapen_weights_are_errors() {
        let mut params = ParamSet::new();
        params.add("w", vec![2, 2], vec![0.0; 4]);
        assert!(params.load_tensors("", &HashMap::new()).is_err());
        let mut wrong = HashMap::new();
        wrong.insert(
            "w".to_string(),
            Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).expect("t"),
        );
        assert!(params.load_tensors("", &wrong).is_err());
    }
}
