//! One regression tree on gradients and hessians, grown level by level to a depth limit.
//!
//! The training rows live in one index array; every node owns a contiguous range of it, and
//! a split partitions that range in place (stably, so the order, and the sums, stay
//! reproducible). Only the smaller child's histogram is built from its rows: the larger
//! one's is the parent's minus the smaller's.

use std::ops::Range;

use super::binning::BinnedMatrix;
use super::histogram::{BinStat, Split, SplitRules, best_split, build_histogram, subtract};

/// A node of a fitted tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A leaf and the value it adds to the score (shrinkage applied).
    Leaf {
        /// The value.
        value: f64,
    },
    /// A test on one feature's bin.
    Split {
        /// The feature.
        feature: u32,
        /// Bins `1..=threshold` go left.
        threshold: u8,
        /// Where bin 0 (missing) goes.
        missing_left: bool,
        /// Index of the left child.
        left: u32,
        /// Index of the right child.
        right: u32,
    },
}

/// A fitted tree; node 0 is the root.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    /// The value of the leaf that `row` of `binned` falls into.
    pub fn predict_row(&self, binned: &BinnedMatrix, row: usize) -> f64 {
        let mut index = 0;
        loop {
            match &self.nodes[index] {
                Node::Leaf { value } => return *value,
                Node::Split {
                    feature,
                    threshold,
                    missing_left,
                    left,
                    right,
                } => {
                    let bin = binned.columns[*feature as usize][row];
                    index = if goes_left(bin, *threshold, *missing_left) {
                        *left as usize
                    } else {
                        *right as usize
                    };
                }
            }
        }
    }
}

fn goes_left(bin: u8, threshold: u8, missing_left: bool) -> bool {
    if bin == 0 {
        missing_left
    } else {
        bin <= threshold
    }
}

/// How trees are grown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GrowSettings {
    /// Split admissibility and scoring.
    pub rules: SplitRules,
    /// Depth limit.
    pub max_depth: usize,
    /// Shrinkage applied to leaf values.
    pub learning_rate: f64,
    /// Threads for histogram building.
    pub threads: usize,
}

/// A leaf of a freshly grown tree: its training rows (a range of [`TreeGrower::rows`]) and
/// its value.
#[derive(Debug, Clone)]
pub(crate) struct GrownLeaf {
    /// Positions in [`TreeGrower::rows`].
    pub rows: Range<usize>,
    /// The leaf value.
    pub value: f64,
}

/// Grows trees over one binned training matrix, reusing its buffers.
#[derive(Debug)]
pub(crate) struct TreeGrower<'a> {
    binned: &'a BinnedMatrix,
    settings: GrowSettings,
    rows: Vec<u32>,
    scratch: Vec<u32>,
    ordered_gradients: Vec<f64>,
    ordered_hessians: Vec<f64>,
}

/// A node waiting to be split or made a leaf.
struct Pending {
    node: usize,
    rows: Range<usize>,
    histogram: Vec<BinStat>,
    stat: BinStat,
}

impl<'a> TreeGrower<'a> {
    /// A grower over every row of `binned`.
    pub fn new(binned: &'a BinnedMatrix, rows: usize, settings: GrowSettings) -> Self {
        Self {
            binned,
            settings,
            rows: (0..rows as u32).collect(),
            scratch: Vec::with_capacity(rows),
            ordered_gradients: Vec::with_capacity(rows),
            ordered_hessians: Vec::with_capacity(rows),
        }
    }

    /// The training rows in leaf order after the last [`TreeGrower::grow`].
    pub fn rows(&self) -> &[u32] {
        &self.rows
    }

    /// Grows one tree on these per-row gradients and hessians, adding each split's gain to
    /// `importance[feature]`.
    pub fn grow(
        &mut self,
        gradients: &[f64],
        hessians: &[f64],
        importance: &mut [f64],
    ) -> (Tree, Vec<GrownLeaf>) {
        let n = self.rows.len();
        let histogram = self.histogram(0..n, gradients, hessians);
        let stat = self.node_stat(&histogram);
        let mut nodes = vec![Node::Leaf { value: 0.0 }];
        let mut leaves = Vec::new();
        let mut level = vec![Pending {
            node: 0,
            rows: 0..n,
            histogram,
            stat,
        }];
        for _depth in 0..self.settings.max_depth {
            let mut next = Vec::new();
            for pending in level {
                let split = best_split(
                    &pending.histogram,
                    &self.binned.offsets,
                    &pending.stat,
                    &self.settings.rules,
                );
                let Some(split) = split else {
                    leaves.push(self.leaf(&mut nodes, &pending));
                    continue;
                };
                importance[split.feature] += split.gain;
                let (left, right) = self.split(pending, &split, &mut nodes, gradients, hessians);
                next.push(left);
                next.push(right);
            }
            level = next;
            if level.is_empty() {
                break;
            }
        }
        for pending in level {
            leaves.push(self.leaf(&mut nodes, &pending));
        }
        (Tree { nodes }, leaves)
    }

    fn leaf(&self, nodes: &mut [Node], pending: &Pending) -> GrownLeaf {
        let value = self.settings.learning_rate * self.settings.rules.leaf_value(&pending.stat);
        nodes[pending.node] = Node::Leaf { value };
        GrownLeaf {
            rows: pending.rows.clone(),
            value,
        }
    }

    /// Partitions the node's rows and sets up both children.
    fn split(
        &mut self,
        pending: Pending,
        split: &Split,
        nodes: &mut Vec<Node>,
        gradients: &[f64],
        hessians: &[f64],
    ) -> (Pending, Pending) {
        let binned = self.binned;
        let column = &binned.columns[split.feature];
        let range = pending.rows.clone();
        self.scratch.clear();
        let mut left_count = 0;
        // Left rows are written back behind the reading position, right rows set aside.
        for position in range.clone() {
            let row = self.rows[position];
            if goes_left(column[row as usize], split.threshold, split.missing_left) {
                self.rows[range.start + left_count] = row;
                left_count += 1;
            } else {
                self.scratch.push(row);
            }
        }
        self.rows[range.start + left_count..range.end].copy_from_slice(&self.scratch);
        let left_rows = range.start..range.start + left_count;
        let right_rows = range.start + left_count..range.end;
        debug_assert_eq!(left_count, split.left.count as usize);

        let (left_histogram, right_histogram) = if left_rows.len() <= right_rows.len() {
            let small = self.histogram(left_rows.clone(), gradients, hessians);
            let large = subtract(&pending.histogram, &small);
            (small, large)
        } else {
            let small = self.histogram(right_rows.clone(), gradients, hessians);
            let large = subtract(&pending.histogram, &small);
            (large, small)
        };
        let left_node = nodes.len();
        nodes.push(Node::Leaf { value: 0.0 });
        nodes.push(Node::Leaf { value: 0.0 });
        nodes[pending.node] = Node::Split {
            feature: split.feature as u32,
            threshold: split.threshold,
            missing_left: split.missing_left,
            left: left_node as u32,
            right: left_node as u32 + 1,
        };
        (
            Pending {
                node: left_node,
                rows: left_rows,
                histogram: left_histogram,
                stat: split.left,
            },
            Pending {
                node: left_node + 1,
                rows: right_rows,
                histogram: right_histogram,
                stat: split.right,
            },
        )
    }

    fn histogram(
        &mut self,
        range: Range<usize>,
        gradients: &[f64],
        hessians: &[f64],
    ) -> Vec<BinStat> {
        let rows = &self.rows[range];
        self.ordered_gradients.clear();
        self.ordered_hessians.clear();
        self.ordered_gradients
            .extend(rows.iter().map(|&r| gradients[r as usize]));
        self.ordered_hessians
            .extend(rows.iter().map(|&r| hessians[r as usize]));
        build_histogram(
            self.binned,
            rows,
            &self.ordered_gradients,
            &self.ordered_hessians,
            self.settings.threads,
        )
    }

    /// The node's sums: those of its first feature's bins (every row is in one of them).
    fn node_stat(&self, histogram: &[BinStat]) -> BinStat {
        let end = self.binned.offsets.get(1).copied().unwrap_or(0);
        histogram[..end]
            .iter()
            .fold(BinStat::default(), |mut acc, s| {
                acc.gradient += s.gradient;
                acc.hessian += s.hessian;
                acc.count += s.count;
                acc
            })
    }
}
