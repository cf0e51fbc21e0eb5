//! Scores of predictions against the truth: accuracy, macro F1 and ROC-AUC for classes,
//! R² and mean absolute error for numbers, and Spearman's rank correlation.
//!
//! Ties are handled by average ranks everywhere: ROC-AUC is the Mann–Whitney statistic, in
//! which a tie between a positive and a negative counts one half.

/// Share of rows whose predicted class is the true one; `NaN` for no rows.
pub(crate) fn accuracy(truth: &[usize], predicted: &[usize]) -> f64 {
    debug_assert_eq!(truth.len(), predicted.len());
    let hits = truth.iter().zip(predicted).filter(|(t, p)| t == p).count();
    hits as f64 / truth.len() as f64
}

/// The unweighted mean over classes of F1 = 2·TP / (2·TP + FP + FN), over the classes that
/// occur in the truth or in the predictions (as scikit-learn's `f1_score(average="macro")`).
pub(crate) fn macro_f1(truth: &[usize], predicted: &[usize]) -> f64 {
    debug_assert_eq!(truth.len(), predicted.len());
    let classes = truth.iter().chain(predicted).max().map_or(0, |&m| m + 1);
    let mut true_positive = vec![0usize; classes];
    let mut false_positive = vec![0usize; classes];
    let mut false_negative = vec![0usize; classes];
    for (&t, &p) in truth.iter().zip(predicted) {
        if t == p {
            true_positive[t] += 1;
        } else {
            false_positive[p] += 1;
            false_negative[t] += 1;
        }
    }
    let mut sum = 0.0;
    let mut present = 0usize;
    for class in 0..classes {
        let denominator = 2 * true_positive[class] + false_positive[class] + false_negative[class];
        if denominator == 0 {
            continue;
        }
        present += 1;
        sum += 2.0 * true_positive[class] as f64 / denominator as f64;
    }
    sum / present as f64
}

/// 1-based ranks of `values`, tied values sharing the mean of their positions.
pub(crate) fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start+1 ..= end share their mean.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &index in &order[start..end] {
            ranks[index] = rank;
        }
        start = end;
    }
    ranks
}

/// Area under the ROC curve of `scores` for the `positive` rows: the probability that a
/// random positive scores above a random negative, ties counting one half. `None` when
/// either side has no row.
pub(crate) fn roc_auc(positive: &[bool], scores: &[f64]) -> Option<f64> {
    debug_assert_eq!(positive.len(), scores.len());
    let positives = positive.iter().filter(|&&p| p).count();
    let negatives = positive.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let ranks = average_ranks(scores);
    let rank_sum: f64 = ranks
        .iter()
        .zip(positive)
        .filter(|(_, p)| **p)
        .map(|(r, _)| r)
        .sum();
    let p = positives as f64;
    let u = rank_sum - p * (p + 1.0) / 2.0;
    Some(u / (p * negatives as f64))
}

/// ROC-AUC of class probabilities (`probabilities[row * classes + class]`): the plain AUC
/// of class 1 for two classes, else the mean one-vs-rest AUC over the classes that occur in
/// `truth`. `None` when `truth` holds one class.
pub(crate) fn class_roc_auc(truth: &[usize], probabilities: &[f64], classes: usize) -> Option<f64> {
    debug_assert_eq!(truth.len() * classes, probabilities.len());
    let score_of = |class: usize| -> Vec<f64> {
        probabilities
            .chunks_exact(classes)
            .map(|row| row[class])
            .collect()
    };
    if classes == 2 {
        let positive: Vec<bool> = truth.iter().map(|&t| t == 1).collect();
        return roc_auc(&positive, &score_of(1));
    }
    let mut sum = 0.0;
    let mut counted = 0usize;
    for class in 0..classes {
        let positive: Vec<bool> = truth.iter().map(|&t| t == class).collect();
        if let Some(auc) = roc_auc(&positive, &score_of(class)) {
            sum += auc;
            counted += 1;
        }
    }
    (counted > 0).then(|| sum / counted as f64)
}

/// Coefficient of determination 1 − SS_res / SS_tot; `None` when the truth does not vary.
pub(crate) fn r_squared(truth: &[f64], predicted: &[f64]) -> Option<f64> {
    debug_assert_eq!(truth.len(), predicted.len());
    let mean = truth.iter().sum::<f64>() / truth.len() as f64;
    let total: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    if total.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let residual: f64 = truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).powi(2))
        .sum();
    Some(1.0 - residual / total)
}

/// Mean of |truth − predicted|; `NaN` for no rows.
pub(crate) fn mean_absolute_error(truth: &[f64], predicted: &[f64]) -> f64 {
    debug_assert_eq!(truth.len(), predicted.len());
    let sum: f64 = truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).abs())
        .sum();
    sum / truth.len() as f64
}

/// Spearman's rank correlation: Pearson's correlation of the average ranks. `None` for fewer
/// than two values or when either side is constant.
pub(crate) fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    debug_assert_eq!(a.len(), b.len());
    if a.len() < 2 {
        return None;
    }
    pearson(&average_ranks(a), &average_ranks(b))
}

fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    let mean_a = a.iter().sum::<f64>() / n;
    let mean_b = b.iter().sum::<f64>() / n;
    let (mut covariance, mut variance_a, mut variance_b) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        covariance += (x - mean_a) * (y - mean_b);
        variance_a += (x - mean_a).powi(2);
        variance_b += (y - mean_b).powi(2);
    }
    if variance_a <= 0.0 || variance_b <= 0.0 {
        return None;
    }
    Some((covariance / (variance_a * variance_b).sqrt()).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn roc_auc_counts_pairs() {
        // Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 0.35 beats 0.1 only, 0.8
        // beats both, so 3 of 4 pairs.
        let auc = roc_auc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).expect("auc");
        assert!(close(auc, 0.75), "{auc}");
    }

    #[test]
    fn roc_auc_counts_ties_as_half() {
        // Positives 0.5, 0.9; negatives 0.5, 0.2: pairs 0.5 (tie), 1, 1, 1 → 3.5 / 4.
        let auc = roc_auc(&[true, false, false, true], &[0.5, 0.5, 0.2, 0.9]).expect("auc");
        assert!(close(auc, 0.875), "{auc}");
        // All scores equal: every pair a tie.
        let flat = roc_auc(&[true, false, true], &[1.0, 1.0, 1.0]).expect("auc");
        assert!(close(flat, 0.5), "{flat}");
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
    }

    #[test]
    fn multiclass_auc_is_the_mean_one_vs_rest() {
        // Three classes, each perfectly ranked by its own probability except class 2,
        // whose positive (row 2, 0.3) ties negative row 0 (0.3) and beats row 1 (0.1):
        // AUCs 1, 1 and (0.5 + 1) / 2 = 0.75, mean 11/12.
        let truth = [0, 1, 2];
        let probabilities = [
            0.6, 0.1, 0.3, //
            0.1, 0.8, 0.1, //
            0.3, 0.4, 0.3,
        ];
        let auc = class_roc_auc(&truth, &probabilities, 3).expect("auc");
        assert!(close(auc, 11.0 / 12.0), "{auc}");
    }

    #[test]
    fn accuracy_and_macro_f1_by_hand() {
        let truth = [0, 0, 1, 1, 2, 2];
        let predicted = [0, 1, 1, 1, 2, 0];
        assert!(close(accuracy(&truth, &predicted), 4.0 / 6.0));
        // Class 0: TP 1, FP 1, FN 1 → 2/4. Class 1: TP 2, FP 1, FN 0 → 4/5.
        // Class 2: TP 1, FP 0, FN 1 → 2/3.
        let expected = (0.5 + 0.8 + 2.0 / 3.0) / 3.0;
        assert!(close(macro_f1(&truth, &predicted), expected));
    }

    #[test]
    fn macro_f1_counts_classes_only_predicted() {
        // Class 1 never occurs but is predicted once: F1 0 for it, 2·1/(2+0+1) for class 0.
        let f1 = macro_f1(&[0, 0], &[0, 1]);
        assert!(close(f1, (2.0 / 3.0 + 0.0) / 2.0), "{f1}");
    }

    #[test]
    fn r_squared_and_mae_by_hand() {
        let truth = [1.0, 2.0, 3.0, 4.0];
        let predicted = [1.5, 2.0, 2.5, 4.5];
        // SS_res = 0.75, SS_tot = 5.
        assert!(close(r_squared(&truth, &predicted).expect("r2"), 0.85));
        assert!(close(mean_absolute_error(&truth, &predicted), 0.375));
        assert_eq!(r_squared(&[2.0, 2.0], &[1.0, 3.0]), None);
    }

    #[test]
    fn average_ranks_share_ties() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }

    #[test]
    fn spearman_with_ties_by_hand() {
        // Ranks [1, 2.5, 2.5, 4] and [1, 3, 2, 4]: covariance 4.5, variances 4.5 and 5.
        let rho = spearman(&[1.0, 2.0, 2.0, 3.0], &[10.0, 30.0, 20.0, 40.0]).expect("rho");
        assert!(close(rho, 4.5 / (4.5f64 * 5.0).sqrt()), "{rho}");
        assert!(close(
            spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).expect("rho"),
            -1.0
        ));
        assert_eq!(spearman(&[1.0, 1.0], &[1.0, 2.0]), None);
    }
}
