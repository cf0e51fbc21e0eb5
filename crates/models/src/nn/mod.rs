//! A small neural-network toolkit with hand-written backward passes.
//!
//! The deep tabular models (TVAE, CTGAN, CopulaGAN, TabDDPM) are MLPs over a few hundred
//! features trained with batches of hundreds of rows. On a CPU, such a step is a dozen
//! matrix products plus elementwise work; candle's autograd spends a large share of it
//! allocating a tensor per operation and walking its graph. Here every model keeps its
//! activations in [`Matrix`] buffers it reuses, calls the matrix kernels directly
//! ([`matmul`]) and writes its backward pass by hand (each layer's gradient is checked
//! against finite differences in the tests). Parameters live in a [`ParamSet`], which
//! converts to and from candle tensors for safetensors files and checkpoints.

mod gemm;
pub mod layers;
mod matrix;
mod params;
mod per_sample;
#[cfg(test)]
mod tests;

pub use gemm::{Operand, matmul, serial, threads};
pub use layers::{BatchNorm, BatchNormCache, Linear};
pub use matrix::Matrix;
pub use params::{Adam, Param, ParamId, ParamSet, WeightDecay};
