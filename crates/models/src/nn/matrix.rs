//! A row-major `f32` matrix whose buffer is reused across steps.

/// A row-major matrix. [`Matrix::resize`] keeps the allocation, so a training loop that
/// holds its matrices allocates only in its first step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matrix {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows × cols` values, row-major.
    pub data: Vec<f32>,
}

impl Matrix {
    /// A zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// A matrix over these values.
    ///
    /// # Panics
    /// When `data` does not hold `rows × cols` values (a programming error).
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix data has the wrong length");
        Self { rows, cols, data }
    }

    /// Changes the shape, keeping the allocation; the contents are unspecified (callers
    /// overwrite them).
    pub fn resize(&mut self, rows: usize, cols: usize) {
        self.rows = rows;
        self.cols = cols;
        self.data.resize(rows * cols, 0.0);
    }

    /// Changes the shape and sets every value to zero.
    pub fn resize_zeroed(&mut self, rows: usize, cols: usize) {
        self.resize(rows, cols);
        self.data.fill(0.0);
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, writable.
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        let cols = self.cols;
        &mut self.data[i * cols..(i + 1) * cols]
    }

    /// The matrix as a product operand.
    pub fn operand(&self) -> super::Operand<'_> {
        super::Operand::plain(&self.data, self.rows, self.cols)
    }

    /// Its transpose as a product operand.
    pub fn transposed(&self) -> super::Operand<'_> {
        super::Operand::transposed(&self.data, self.rows, self.cols)
    }

    /// Copies `source`'s columns into columns `offset..offset + source.cols` of `self`
    /// (same row count).
    pub fn set_columns(&mut self, offset: usize, source: &Matrix) {
        debug_assert_eq!(self.rows, source.rows);
        let cols = self.cols;
        for (row, src) in self
            .data
            .chunks_mut(cols)
            .zip(source.data.chunks(source.cols.max(1)))
        {
            row[offset..offset + source.cols].copy_from_slice(src);
        }
    }

    /// Adds columns `offset..offset + target.cols` of `self` into `target`.
    pub fn add_columns_into(&self, offset: usize, target: &mut Matrix) {
        debug_assert_eq!(self.rows, target.rows);
        let width = target.cols;
        for (dst, row) in target
            .data
            .chunks_mut(width.max(1))
            .zip(self.data.chunks(self.cols))
        {
            for (d, s) in dst.iter_mut().zip(&row[offset..offset + width]) {
                *d += s;
            }
        }
    }
}
