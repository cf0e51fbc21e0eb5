//! Numerical building blocks: the standard normal distribution and small dense linear algebra.

pub mod linalg;
pub mod normal;
