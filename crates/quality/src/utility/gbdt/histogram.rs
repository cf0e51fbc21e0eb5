//! Gradient histograms of a tree node and the best split they allow.
//!
//! A node's histogram holds, for every feature and bin, the sums of the gradients and
//! hessians of the node's rows in that bin. Large nodes build it with the features spread
//! over threads (`std::thread::scope`), each thread writing its own features' bins, so the
//! sums, and therefore the trees, do not depend on the thread count.

use super::binning::BinnedMatrix;

/// Rows × features below which one thread builds a histogram: spawning costs more.
const PARALLEL_MIN_WORK: usize = 64 * 1024;

/// Sums over the rows of one bin (or one node).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct BinStat {
    /// Sum of gradients.
    pub gradient: f64,
    /// Sum of hessians.
    pub hessian: f64,
    /// Rows.
    pub count: u32,
}

impl BinStat {
    fn add(&mut self, other: &BinStat) {
        self.gradient += other.gradient;
        self.hessian += other.hessian;
        self.count += other.count;
    }

    fn minus(&self, other: &BinStat) -> BinStat {
        BinStat {
            gradient: self.gradient - other.gradient,
            hessian: self.hessian - other.hessian,
            count: self.count.saturating_sub(other.count),
        }
    }
}

/// Builds the histogram of `rows`, whose gradients and hessians are given in the same order.
pub(crate) fn build_histogram(
    binned: &BinnedMatrix,
    rows: &[u32],
    gradients: &[f64],
    hessians: &[f64],
    threads: usize,
) -> Vec<BinStat> {
    let total = binned.offsets.last().copied().unwrap_or(0);
    let mut histogram = vec![BinStat::default(); total];
    let features = binned.features();
    let threads = threads.min(features).max(1);
    if threads == 1 || rows.len() * features < PARALLEL_MIN_WORK {
        fill(
            binned,
            0..features,
            rows,
            gradients,
            hessians,
            &mut histogram,
        );
        return histogram;
    }
    std::thread::scope(|scope| {
        let mut rest: &mut [BinStat] = &mut histogram;
        let mut consumed = 0;
        for chunk in 0..threads {
            let first = chunk * features / threads;
            let last = (chunk + 1) * features / threads;
            let (mine, others) = rest.split_at_mut(binned.offsets[last] - consumed);
            rest = others;
            consumed = binned.offsets[last];
            scope.spawn(move || fill(binned, first..last, rows, gradients, hessians, mine));
        }
    });
    histogram
}

/// Adds the rows into `out`, which holds exactly the bins of `features`.
fn fill(
    binned: &BinnedMatrix,
    features: std::ops::Range<usize>,
    rows: &[u32],
    gradients: &[f64],
    hessians: &[f64],
    out: &mut [BinStat],
) {
    let base = binned.offsets[features.start];
    for feature in features {
        let column = &binned.columns[feature];
        let start = binned.offsets[feature] - base;
        let end = binned.offsets[feature + 1] - base;
        let bins = &mut out[start..end];
        for ((&row, &g), &h) in rows.iter().zip(gradients).zip(hessians) {
            let stat = &mut bins[column[row as usize] as usize];
            stat.gradient += g;
            stat.hessian += h;
            stat.count += 1;
        }
    }
}

/// `parent − child`, bin by bin: the histogram of the child's sibling.
pub(crate) fn subtract(parent: &[BinStat], child: &[BinStat]) -> Vec<BinStat> {
    parent.iter().zip(child).map(|(p, c)| p.minus(c)).collect()
}

/// What a split needs to be allowed and how its gain is scored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SplitRules {
    /// Fewest rows per child.
    pub min_leaf: u32,
    /// Smallest hessian sum per child.
    pub min_hessian: f64,
    /// L2 penalty λ.
    pub l2: f64,
}

impl SplitRules {
    /// The structure score G² / (H + λ) of a set of rows.
    pub fn score(&self, stat: &BinStat) -> f64 {
        stat.gradient * stat.gradient / (stat.hessian + self.l2)
    }

    /// The leaf value −G / (H + λ) that minimises the second-order loss.
    pub fn leaf_value(&self, stat: &BinStat) -> f64 {
        -stat.gradient / (stat.hessian + self.l2)
    }

    fn allows(&self, stat: &BinStat) -> bool {
        stat.count >= self.min_leaf && stat.hessian >= self.min_hessian
    }
}

/// A split of a node: rows whose bin of `feature` is in `1..=threshold` go left, bin 0
/// (missing) goes left when `missing_left`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Split {
    /// The feature.
    pub feature: usize,
    /// The last value bin that goes left.
    pub threshold: u8,
    /// Where missing values go.
    pub missing_left: bool,
    /// Loss reduction: score(left) + score(right) − score(node).
    pub gain: f64,
    /// Sums of the left child.
    pub left: BinStat,
    /// Sums of the right child.
    pub right: BinStat,
}

/// The split of largest positive gain, first feature and lowest threshold winning ties.
pub(crate) fn best_split(
    histogram: &[BinStat],
    offsets: &[usize],
    node: &BinStat,
    rules: &SplitRules,
) -> Option<Split> {
    let parent_score = rules.score(node);
    let mut best: Option<Split> = None;
    for feature in 0..offsets.len() - 1 {
        let bins = &histogram[offsets[feature]..offsets[feature + 1]];
        let missing = bins[0];
        let mut left_values = BinStat::default();
        // The last threshold puts every value left: a split only when missing rows go right.
        for (threshold, bin) in bins.iter().enumerate().skip(1) {
            left_values.add(bin);
            let mut with_missing = left_values;
            with_missing.add(&missing);
            // Missing rows go left, or right; with none, they follow the larger side.
            let options: &[(BinStat, bool)] = if missing.count == 0 {
                let right_larger = node.count - left_values.count > left_values.count;
                &[(left_values, !right_larger)]
            } else {
                &[(left_values, false), (with_missing, true)]
            };
            for &(left, missing_left) in options {
                let right = node.minus(&left);
                if !rules.allows(&left) || !rules.allows(&right) {
                    continue;
                }
                let gain = rules.score(&left) + rules.score(&right) - parent_score;
                if gain > 1e-12 && best.is_none_or(|b| gain > b.gain) {
                    best = Some(Split {
                        feature,
                        threshold: threshold as u8,
                        missing_left,
                        gain,
                        left,
                        right,
                    });
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_and_serial_histograms_agree() {
        let rows: Vec<u32> = (0..20_000).collect();
        let columns: Vec<Vec<u8>> = (0..8)
            .map(|f| (0..20_000u32).map(|r| ((r * (f + 3)) % 7) as u8).collect())
            .collect();
        let offsets = (0..=8).map(|f| f * 7).collect();
        let binned = BinnedMatrix { columns, offsets };
        let g: Vec<f64> = (0..20_000).map(|r| (r % 13) as f64 - 6.0).collect();
        let h = vec![1.0; 20_000];
        let serial = build_histogram(&binned, &rows, &g, &h, 1);
        let parallel = build_histogram(&binned, &rows, &g, &h, 3);
        assert_eq!(serial, parallel);
        assert_eq!(serial.iter().map(|s| s.count).sum::<u32>(), 8 * 20_000);
    }

    #[test]
    fn best_split_separates_gradients_by_hand() {
        // One feature, bins: missing (empty), values 1..=3. Bin 1 holds rows with gradient
        // −1, bins 2 and 3 rows with gradient +1: the split goes after bin 1.
        let stat = |g: f64, n: u32| BinStat {
            gradient: g,
            hessian: n as f64,
            count: n,
        };
        let histogram = vec![stat(0.0, 0), stat(-4.0, 4), stat(2.0, 2), stat(2.0, 2)];
        let node = stat(0.0, 8);
        let rules = SplitRules {
            min_leaf: 1,
            min_hessian: 0.0,
            l2: 0.0,
        };
        let split = best_split(&histogram, &[0, 4], &node, &rules).expect("split");
        assert_eq!(split.threshold, 1);
        // 16/4 + 16/4 − 0 = 8.
        assert!((split.gain - 8.0).abs() < 1e-12);
        let too_strict = SplitRules {
            min_leaf: 5,
            ..rules
        };
        assert!(best_split(&histogram, &[0, 4], &node, &too_strict).is_none());
    }
}
