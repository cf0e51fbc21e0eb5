//! Exact k nearest neighbours under the row distance of [`rows`](super::rows).
//!
//! [`nearest_neighbours`] finds, for every query row, the `k` reference rows at the smallest
//! distance (ties broken by the lower reference index), exactly: the same answer as
//! comparing every pair, bit for bit (the sums run over the columns in the same order).
//!
//! How it avoids comparing every pair:
//!
//! 1. **Leaves of similar rows.** The references are reordered by recursive median splits
//!    (a flat k-d tree): each part is split on the column that differs most within it,
//!    until parts have at most [`LEAF`] rows. Each leaf keeps its bounding box, and its rows
//!    are stored in blocks of [`LANES`] rows, column by column (one cache line per column
//!    of a block).
//! 2. **Box lower bound.** For a query, the sum over the columns of the capped distance
//!    from its value to a leaf's box bounds the distance to every row in the leaf (for a
//!    label the box is a code range; a code outside it is at least 1 away). The leaf with
//!    the lowest bound is scanned first, then the others in memory order, skipping every
//!    leaf whose bound exceeds the current k-th best. (Visiting leaves by increasing bound
//!    prunes a little more but measured slower: the jumps defeat the caches.)
//! 3. **Early abandoning.** A block's eight distances are summed column by column (the
//!    inner loop is eight independent lanes, which the compiler vectorises), and after every
//!    [`ABANDON_EVERY`] columns the block is dropped once all eight partial sums exceed the
//!    k-th best. Columns are summed in the matrix's column order, which callers sort by
//!    decreasing expected contribution so partial sums grow fast.
//! 4. **Parallel queries.** Queries are put in the same kind of order (similar queries
//!    touch the same leaves, which stay in cache) and handed out in chunks of [`CHUNK`] to
//!    one thread per core with [`std::thread::scope`].
//!
//! Cost, for `q` queries, `r` references and `m` columns: building is `O(r log r · m)`
//! (and the same for ordering the queries); each query pays `O(r / LEAF · m)` for its leaf
//! bounds, then `O(r · m)` in the worst case (all boxes overlap: independent, noisy
//! columns), far less on real tables whose rows cluster; `O((q + r) · m)` memory. The pure
//! worst case is `O(q · r · m)`, the cost of brute force. Distances are `f64` throughout,
//! so an exact copy is at distance exactly 0. Measured on the 2-core development machine
//! (release, `examples/knn_bench.rs`, 100,000 × 100,000 × 15): see that example's doc.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::error::PrivacyError;
use super::rows::{RowMatrix, cell_distance};

/// Reference rows per block: eight `f64` lanes, one 64-byte cache line per column.
pub const LANES: usize = 8;
/// Columns summed between two early-abandoning checks.
pub const ABANDON_EVERY: usize = 2;
/// Queries per work item handed to a thread.
pub const CHUNK: usize = 128;
/// The largest `k` supported.
pub const MAX_NEIGHBOURS: usize = 16;
/// Most reference rows per leaf (a multiple of [`LANES`]).
pub const LEAF: usize = 64;
/// Row pairs sampled to pick the column a part is split on.
const SPLIT_SAMPLE: usize = 32;

/// The `k` nearest references of each query, nearest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbours {
    k: usize,
    distances: Vec<f64>,
    indices: Vec<u32>,
}

impl Neighbours {
    /// Neighbours per query.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Queries.
    pub fn len(&self) -> usize {
        self.indices.len() / self.k
    }

    /// Whether there are no queries.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The distances of query `query`'s neighbours, ascending.
    pub fn distances(&self, query: usize) -> &[f64] {
        &self.distances[query * self.k..(query + 1) * self.k]
    }

    /// The reference rows of query `query`'s neighbours, nearest first.
    pub fn indices(&self, query: usize) -> &[u32] {
        &self.indices[query * self.k..(query + 1) * self.k]
    }

    /// The distance of each query to its nearest reference.
    pub fn nearest_distances(&self) -> Vec<f64> {
        self.distances.iter().step_by(self.k).copied().collect()
    }

    /// The nearest reference of each query.
    pub fn nearest_indices(&self) -> Vec<usize> {
        self.indices
            .iter()
            .step_by(self.k)
            .map(|&i| i as usize)
            .collect()
    }
}

/// The `k` nearest rows of `references` for every row of `queries`, exactly, with distances
/// as [`row_distance`](super::rows::row_distance) computes them.
///
/// # Errors
///
/// [`PrivacyError::InvalidSearch`] when the matrices have different columns, `k` is 0 or
/// above [`MAX_NEIGHBOURS`], there are fewer than `k` references, or more than `u32::MAX`.
pub fn nearest_neighbours(
    queries: &RowMatrix,
    references: &RowMatrix,
    k: usize,
) -> Result<Neighbours, PrivacyError> {
    let invalid = |message: String| PrivacyError::InvalidSearch { message };
    if queries.columns() != references.columns() {
        return Err(invalid(format!(
            "queries have {} columns but references {}",
            queries.columns(),
            references.columns()
        )));
    }
    if k == 0 || k > MAX_NEIGHBOURS {
        return Err(invalid(format!(
            "k must be between 1 and {MAX_NEIGHBOURS}, not {k}"
        )));
    }
    if references.rows() < k {
        return Err(invalid(format!(
            "{k} neighbours asked of {} reference rows",
            references.rows()
        )));
    }
    if u32::try_from(references.rows()).is_err() {
        return Err(invalid(format!(
            "{} reference rows exceed the {} supported",
            references.rows(),
            u32::MAX
        )));
    }
    let index = ReferenceBlocks::new(references);
    Ok(index.search(queries, k))
}

/// The references reordered into leaves of similar rows, each with its bounding box, and
/// cut into blocks of [`LANES`] rows stored column by column.
struct ReferenceBlocks {
    columns: usize,
    /// The reference row at each position of the new order.
    original: Vec<u32>,
    /// Block `b`, column `c` is `lanes[b * columns + c]`; the last block is padded by
    /// repeating its last row.
    lanes: Vec<[f64; LANES]>,
    /// The blocks of each leaf.
    leaves: Vec<Range<usize>>,
    /// Column `c` of leaf `l`'s box is `low[c * leaves + l] ..= high[c * leaves + l]`.
    low: Vec<f64>,
    high: Vec<f64>,
}

impl ReferenceBlocks {
    fn new(references: &RowMatrix) -> Self {
        let columns = references.columns();
        let rows = references.rows();
        let mut order: Vec<u32> = (0..rows as u32).collect();
        let leaf_rows = partition(references, &mut order);
        let blocks = rows.div_ceil(LANES);
        let mut lanes = vec![[0.0; LANES]; blocks * columns];
        for (block, block_lanes) in lanes.chunks_exact_mut(columns).enumerate() {
            for lane in 0..LANES {
                let position = (block * LANES + lane).min(rows - 1);
                let row = references.row(order[position] as usize);
                for (column_lanes, &value) in block_lanes.iter_mut().zip(row) {
                    column_lanes[lane] = value;
                }
            }
        }
        let count = leaf_rows.len();
        let mut low = vec![f64::INFINITY; columns * count];
        let mut high = vec![f64::NEG_INFINITY; columns * count];
        for (leaf, range) in leaf_rows.iter().enumerate() {
            for &row in &order[range.clone()] {
                for (c, &value) in references.row(row as usize).iter().enumerate() {
                    let at = c * count + leaf;
                    low[at] = low[at].min(value);
                    high[at] = high[at].max(value);
                }
            }
        }
        let leaves = leaf_rows
            .iter()
            .map(|range| range.start / LANES..range.end.div_ceil(LANES))
            .collect();
        Self {
            columns,
            original: order,
            lanes,
            leaves,
            low,
            high,
        }
    }

    /// Searches every query, in parallel over chunks of similar queries.
    fn search(&self, queries: &RowMatrix, k: usize) -> Neighbours {
        let mut order: Vec<u32> = (0..queries.rows() as u32).collect();
        partition(queries, &mut order);
        let chunks: Vec<&[u32]> = order.chunks(CHUNK).collect();
        let next = AtomicUsize::new(0);
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(chunks.len())
            .max(1);
        let mut done: Vec<(usize, Vec<f64>, Vec<u32>)> = Vec::with_capacity(chunks.len());
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut finished = Vec::new();
                        let mut bounds = vec![0.0; self.leaves.len()];
                        loop {
                            let chunk = next.fetch_add(1, Ordering::Relaxed);
                            let Some(rows) = chunks.get(chunk) else {
                                break;
                            };
                            let mut distances = Vec::with_capacity(rows.len() * k);
                            let mut indices = Vec::with_capacity(rows.len() * k);
                            for &row in *rows {
                                let best =
                                    self.search_one(queries.row(row as usize), k, &mut bounds);
                                distances.extend_from_slice(best.distances());
                                indices.extend_from_slice(best.indices());
                            }
                            finished.push((chunk, distances, indices));
                        }
                        finished
                    })
                })
                .collect();
            for worker in workers {
                match worker.join() {
                    Ok(finished) => done.extend(finished),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
        let columns = self.columns as f64;
        let mut distances = vec![0.0; queries.rows() * k];
        let mut indices = vec![0; queries.rows() * k];
        for (chunk, chunk_distances, chunk_indices) in done {
            for (offset, &row) in chunks[chunk].iter().enumerate() {
                let (from, to) = (offset * k, row as usize * k);
                for j in 0..k {
                    distances[to + j] = chunk_distances[from + j] / columns;
                    indices[to + j] = chunk_indices[from + j];
                }
            }
        }
        Neighbours {
            k,
            distances,
            indices,
        }
    }

    /// The `k` nearest references of one query, as raw (unaveraged) sums. `bounds` is
    /// scratch space of one value per leaf.
    fn search_one(&self, query: &[f64], k: usize, bounds: &mut [f64]) -> Best {
        let mut best = Best::new(k);
        self.leaf_bounds(query, bounds);
        // The leaf with the lowest bound first, so that the threshold falls fast.
        let first = bounds
            .iter()
            .enumerate()
            .fold((0, f64::INFINITY), |(at, low), (leaf, &b)| {
                if b < low { (leaf, b) } else { (at, low) }
            })
            .0;
        for block in self.leaves[first].clone() {
            self.scan(block, query, &mut best);
        }
        for (leaf, blocks) in self.leaves.iter().enumerate() {
            if leaf == first || bounds[leaf] > best.threshold() {
                continue;
            }
            for block in blocks.clone() {
                self.scan(block, query, &mut best);
            }
        }
        best
    }

    /// A lower bound of the query's distance sum to every row of each leaf: the sum over
    /// the columns of the capped distance from the query's value to the leaf's box. Each
    /// term is at most the row's own term (subtraction and addition round monotonically),
    /// so the bound never exceeds a real sum, even in floating point.
    fn leaf_bounds(&self, query: &[f64], bounds: &mut [f64]) {
        let count = self.leaves.len();
        bounds.fill(0.0);
        for (c, &value) in query.iter().enumerate() {
            let low = &self.low[c * count..(c + 1) * count];
            let high = &self.high[c * count..(c + 1) * count];
            for ((bound, &low), &high) in bounds.iter_mut().zip(low).zip(high) {
                let below = low - value;
                let above = value - high;
                // At most one of the two is positive.
                let gap =
                    if below > 0.0 { below } else { 0.0 } + if above > 0.0 { above } else { 0.0 };
                *bound += if gap < 1.0 { gap } else { 1.0 };
            }
        }
    }

    /// Offers the rows of one block to `best`, abandoning the block once all its partial
    /// sums exceed the k-th best.
    fn scan(&self, block: usize, query: &[f64], best: &mut Best) {
        let threshold = best.threshold();
        let lanes = &self.lanes[block * self.columns..(block + 1) * self.columns];
        let mut sums = [0.0f64; LANES];
        for (group, values) in lanes.chunks(ABANDON_EVERY).zip(query.chunks(ABANDON_EVERY)) {
            for (column, &value) in group.iter().zip(values) {
                for lane in 0..LANES {
                    sums[lane] += cell_distance(value, column[lane]);
                }
            }
            let smallest = sums
                .iter()
                .fold(f64::INFINITY, |m, &s| if s < m { s } else { m });
            if smallest > threshold {
                return;
            }
        }
        let first = block * LANES;
        let valid = (self.original.len() - first).min(LANES);
        for (lane, &sum) in sums.iter().enumerate().take(valid) {
            best.offer(sum, self.original[first + lane]);
        }
    }
}

/// Reorders `rows` so that runs of at most [`LEAF`] rows hold similar rows, and returns
/// those runs (the leaves) in order: each part is split at its median on the column that
/// differs most within it (mean cell distance over sampled pairs), at a multiple of
/// [`LANES`] so that leaves start on block boundaries.
fn partition(matrix: &RowMatrix, rows: &mut [u32]) -> Vec<Range<usize>> {
    let mut leaves = Vec::new();
    let mut parts = Vec::new();
    parts.push(0..rows.len());
    while let Some(part) = parts.pop() {
        if part.len() <= LEAF {
            if !part.is_empty() {
                leaves.push(part);
            }
            continue;
        }
        let slice = &mut rows[part.clone()];
        let column = widest_column(matrix, slice);
        let half = slice.len() / 2 / LANES * LANES;
        slice.select_nth_unstable_by(half, |&a, &b| {
            matrix.row(a as usize)[column].total_cmp(&matrix.row(b as usize)[column])
        });
        let middle = part.start + half;
        parts.push(middle..part.end);
        parts.push(part.start..middle);
    }
    leaves
}

/// The column with the largest mean cell distance over a deterministic sample of pairs of
/// `rows`.
fn widest_column(matrix: &RowMatrix, rows: &[u32]) -> usize {
    let count = rows.len();
    let pairs = SPLIT_SAMPLE.min(count);
    let mut totals = vec![0.0; matrix.columns()];
    for j in 0..pairs {
        let a = j * count / pairs;
        let b = (a + count / 2 + j) % count;
        let (x, y) = (matrix.row(rows[a] as usize), matrix.row(rows[b] as usize));
        for (total, (&x, &y)) in totals.iter_mut().zip(x.iter().zip(y)) {
            *total += cell_distance(x, y);
        }
    }
    totals
        .iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |(best, top), (c, &t)| {
            if t > top { (c, t) } else { (best, top) }
        })
        .0
}

/// The `k` smallest `(sum, index)` pairs seen, ascending.
#[derive(Debug)]
struct Best {
    k: usize,
    len: usize,
    sums: [f64; MAX_NEIGHBOURS],
    indices: [u32; MAX_NEIGHBOURS],
}

impl Best {
    fn new(k: usize) -> Self {
        debug_assert!((1..=MAX_NEIGHBOURS).contains(&k));
        Self {
            k,
            len: 0,
            sums: [f64::INFINITY; MAX_NEIGHBOURS],
            indices: [u32::MAX; MAX_NEIGHBOURS],
        }
    }

    /// Sums above this cannot enter (equal ones can, with a lower index).
    #[inline]
    fn threshold(&self) -> f64 {
        if self.len < self.k {
            f64::INFINITY
        } else {
            self.sums[self.k - 1]
        }
    }

    #[inline]
    fn offer(&mut self, sum: f64, index: u32) {
        let last = self.k - 1;
        if self.len == self.k && (sum, index) >= (self.sums[last], self.indices[last]) {
            return;
        }
        let mut at = self.len.min(last);
        while at > 0 && (sum, index) < (self.sums[at - 1], self.indices[at - 1]) {
            self.sums[at] = self.sums[at - 1];
            self.indices[at] = self.indices[at - 1];
            at -= 1;
        }
        self.sums[at] = sum;
        self.indices[at] = index;
        self.len = (self.len + 1).min(self.k);
    }

    fn distances(&self) -> &[f64] {
        &self.sums[..self.k]
    }

    fn indices(&self) -> &[u32] {
        &self.indices[..self.k]
    }
}

#[cfg(test)]
#[path = "neighbours_tests.rs"]
mod tests;
