//! Matrix products through the `gemm` crate's kernels — the one place in Mirage that uses
//! `unsafe`, behind a safe interface whose bounds are checked before the call.
//!
//! The deep models' training loops are dominated by products of a batch (hundreds of
//! rows) with weight matrices of a few hundred columns. candle reaches the same kernels
//! but allocates a new tensor per operation; calling them directly lets the models keep
//! every buffer for the whole run and choose the threading per product.
#![allow(unsafe_code)]

use gemm::Parallelism;

/// A row-major matrix operand, optionally used transposed.
#[derive(Debug, Clone, Copy)]
pub struct Operand<'a> {
    /// The stored values, `rows × cols` row-major.
    pub data: &'a [f32],
    /// Stored rows.
    pub rows: usize,
    /// Stored columns.
    pub cols: usize,
    /// Use the transpose of the stored matrix.
    pub transposed: bool,
}

impl<'a> Operand<'a> {
    /// The stored matrix as it is.
    pub fn plain(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            transposed: false,
        }
    }

    /// The transpose of the stored `rows × cols` matrix.
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            transposed: true,
        }
    }

    /// (rows, cols) as used in the product.
    fn shape(&self) -> (usize, usize) {
        if self.transposed {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    /// (column stride, row stride) as used in the product.
    fn strides(&self) -> (isize, isize) {
        if self.transposed {
            (self.cols as isize, 1)
        } else {
            (1, self.cols as isize)
        }
    }
}

/// Products with fewer multiply-adds than this run on one thread: spreading them costs
/// more than it saves.
const PARALLEL_FLOPS: usize = 1 << 20;

/// Threads matrix products may use (the machine's cores, at least one), read once:
/// `available_parallelism` reads cgroup files on every call.
pub fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

thread_local! {
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with this thread's matrix products on this thread only: for callers that
/// already split their work across the cores (each thread a share of the batch), where
/// the products' own threads would only contend.
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    let before = SERIAL.with(|s| s.replace(true));
    let result = f();
    SERIAL.with(|s| s.set(before));
    result
}

/// `out = a · b`, or `out += a · b` when `accumulate`; `out` is row-major with `a`'s rows
/// and `b`'s columns.
///
/// # Panics
/// When the shapes disagree or a slice is shorter than its shape: a programming error in
/// the model, never something input data can cause.
pub fn matmul(out: &mut [f32], a: Operand<'_>, b: Operand<'_>, accumulate: bool) {
    let (m, k) = a.shape();
    let (k2, n) = b.shape();
    assert_eq!(k, k2, "matmul inner dimensions {k} and {k2} differ");
    assert!(a.data.len() >= a.rows * a.cols, "left operand is too short");
    assert!(
        b.data.len() >= b.rows * b.cols,
        "right operand is too short"
    );
    assert!(out.len() >= m * n, "output is too short");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out[..m * n].fill(0.0);
        }
        return;
    }
    let work = m * n * k;
    let parallelism = match threads() {
        t if t > 1 && work >= PARALLEL_FLOPS && !SERIAL.with(|s| s.get()) => Parallelism::Rayon(t),
        _ => Parallelism::None,
    };
    let (a_cs, a_rs) = a.strides();
    let (b_cs, b_rs) = b.strides();
    // SAFETY: the asserts above guarantee that every element the kernel reads — (i, p) of
    // `a` at i·a_rs + p·a_cs < rows·cols, and likewise for `b` — and every element it
    // writes — (i, j) of `out` at i·n + j < m·n — lies inside its slice. `out` is borrowed
    // mutably, so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], ta: bool, b: &[f32], tb: bool, m: usize, k: usize, n: usize) -> Vec<f32> {
        let at = |i: usize, p: usize| if ta { a[p * m + i] } else { a[i * k + p] };
        let bt = |p: usize, j: usize| if tb { b[j * k + p] } else { b[p * n + j] };
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
            }
        }
        out
    }

    #[test]
    fn every_transpose_combination_matches_the_definition() {
        let (m, k, n) = (37, 53, 29);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
        for ta in [false, true] {
            for tb in [false, true] {
                let left = if ta {
                    Operand::transposed(&a, k, m)
                } else {
                    Operand::plain(&a, m, k)
                };
                let right = if tb {
                    Operand::transposed(&b, n, k)
                } else {
                    Operand::plain(&b, k, n)
                };
                let mut out = vec![1.0; m * n];
                matmul(&mut out, left, right, false);
                assert_eq!(out, naive(&a, ta, &b, tb, m, k, n), "ta={ta} tb={tb}");
                matmul(&mut out, left, right, true);
                let twice: Vec<f32> = naive(&a, ta, &b, tb, m, k, n)
                    .iter()
                    .map(|x| 2.0 * x)
                    .collect();
                assert_eq!(out, twice, "accumulate ta={ta} tb={tb}");
            }
        }
    }

    #[test]
    fn large_products_use_threads_and_agree() {
        let (m, k, n) = (300, 200, 150);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 3) % 17) as f32 * 0.1).collect();
        let mut out = vec![0.0; m * n];
        matmul(
            &mut out,
            Operand::plain(&a, m, k),
            Operand::plain(&b, k, n),
            false,
        );
        let expected = naive(&a, false, &b, false, m, k, n);
        for (x, y) in out.iter().zip(&expected) {
            assert!((x - y).abs() <= 1e-3 * y.abs().max(1.0), "{x} vs {y}");
        }
    }
}
