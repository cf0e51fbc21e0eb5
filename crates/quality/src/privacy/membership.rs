//! Membership inference by density ratio (DOMIAS-style, van Breugel et al. 2023): an
//! attacker holding the synthetic data and some real rows from the same population (the
//! *reference*) guesses that a row was in the training set where the synthetic density is
//! high *relative to* the population density there.
//!
//! Densities are k-nearest-neighbour estimates over the encoded rows, `p̂(x) ∝ 1 / (n ·
//! d_k(x)^D)`, so the ratio `p̂_synthetic(x) / p̂_reference(x)` ranks rows exactly as
//!
//! `score(x) = ln((d_k(x, reference) + ε) / (d_k(x, synthetic) + ε))`
//!
//! does (the constants and the exponent `D` are monotone and the AUC depends only on the
//! ranking); `ε = 1e-12` keeps exact matches finite. We take `k = 1`: a generator that
//! memorises puts synthetic rows on or right next to training rows, which the nearest
//! neighbour sees at once while the 5th would average it away (an exact copy moves a
//! member's 5th-neighbour distance hardly at all). The noise of a 1-NN estimate only pulls
//! the AUC towards 0.5; it cannot fake a leak. A product of per-column histograms was the
//! alternative; it assumes independent columns and cannot see that a whole row was copied.
//!
//! The holdout sample is split in two halves: one is the reference density, the other the
//! non-members; as many training rows are the members. The report gives the ROC-AUC of the
//! score for members against non-members (0.5 = no leakage) and the advantage
//! `2 · |AUC − 0.5|`.

use serde::{Deserialize, Serialize};

use super::error::PrivacyError;
use super::neighbours::nearest_neighbours;
use super::rows::RowMatrix;

/// Neighbours behind each density estimate.
pub const MEMBERSHIP_NEIGHBOURS: usize = 1;
/// Added to both distances so that an exact match gives a finite score.
const EPSILON: f64 = 1e-12;

/// The outcome of the membership-inference attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembershipReport {
    /// ROC-AUC of the score, members against non-members; 0.5 means no leakage.
    pub auc: f64,
    /// `2 · |auc − 0.5|`, in `[0, 1]`.
    pub advantage: f64,
    /// Training rows scored.
    pub members: usize,
    /// Holdout rows scored (not those of the reference half).
    pub non_members: usize,
    /// The `k` of the density estimates.
    pub neighbours: usize,
}

/// Scores `members` and `non_members` by their density ratio between `synthetic` and
/// `reference`, and reports the AUC.
pub(crate) fn membership_inference(
    members: &RowMatrix,
    non_members: &RowMatrix,
    reference: &RowMatrix,
    synthetic: &RowMatrix,
) -> Result<MembershipReport, PrivacyError> {
    let k = MEMBERSHIP_NEIGHBOURS;
    let mut values = members.values().to_vec();
    values.extend_from_slice(non_members.values());
    let queries = RowMatrix::new(members.columns(), values)?;
    let to_synthetic = nearest_neighbours(&queries, synthetic, k)?;
    let to_reference = nearest_neighbours(&queries, reference, k)?;
    let scores: Vec<f64> = (0..queries.rows())
        .map(|q| {
            let synthetic = to_synthetic.distances(q)[k - 1];
            let reference = to_reference.distances(q)[k - 1];
            ((reference + EPSILON) / (synthetic + EPSILON)).ln()
        })
        .collect();
    let (member_scores, non_member_scores) = scores.split_at(members.rows());
    let auc = roc_auc(member_scores, non_member_scores);
    Ok(MembershipReport {
        auc,
        advantage: 2.0 * (auc - 0.5).abs(),
        members: members.rows(),
        non_members: non_members.rows(),
        neighbours: k,
    })
}

/// The ROC-AUC of a score that should be higher for `positives` than for `negatives`: the
/// probability that a random positive outscores a random negative, ties counting half
/// (the Mann–Whitney U statistic over `n₊ · n₋`). 0.5 when either side is empty.
pub fn roc_auc(positives: &[f64], negatives: &[f64]) -> f64 {
    if positives.is_empty() || negatives.is_empty() {
        return 0.5;
    }
    let mut all: Vec<(f64, bool)> = positives
        .iter()
        .map(|&s| (s, true))
        .chain(negatives.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the (mid)ranks of the positives, ranks starting at 1.
    let mut positive_ranks = 0.0;
    let mut start = 0;
    while start < all.len() {
        let mut end = start + 1;
        while end < all.len() && all[end].0 == all[start].0 {
            end += 1;
        }
        let midrank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = all[start..end].iter().filter(|(_, p)| *p).count();
        positive_ranks += midrank * tied_positives as f64;
        start = end;
    }
    let (n_pos, n_neg) = (positives.len() as f64, negatives.len() as f64);
    (positive_ranks - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(values: &[f64]) -> RowMatrix {
        RowMatrix::new(1, values.to_vec()).expect("matrix")
    }

    #[test]
    fn auc_by_hand_with_a_tie() {
        // 0.9 and 0.8 beat all three negatives (6); 0.4 ties 0.4 (0.5) and beats 0.1 (1).
        let auc = roc_auc(&[0.9, 0.8, 0.4], &[0.7, 0.4, 0.1]);
        assert!((auc - 7.5 / 9.0).abs() < 1e-12, "{auc}");
        assert_eq!(roc_auc(&[1.0], &[]), 0.5);
        assert_eq!(roc_auc(&[2.0, 2.0], &[2.0]), 0.5);
    }

    #[test]
    fn density_ratio_attack_by_hand() {
        // One scaled number. Synthetic rows at 0 and 1, the reference row at 0.5.
        // Member 0.1: ln(0.4 / 0.1) = ln 4; member 0.5: ln(ε / 0.5), very low.
        // Non-member 0.3: ln(0.2 / 0.3) < 0; non-member 0.95: ln(0.45 / 0.05) = ln 9.
        // Of the four member/non-member pairs only (0.1, 0.3) ranks the member higher.
        let report = membership_inference(
            &column(&[0.1, 0.5]),
            &column(&[0.3, 0.95]),
            &column(&[0.5]),
            &column(&[0.0, 1.0]),
        )
        .expect("attack");
        assert!((report.auc - 0.25).abs() < 1e-12, "{}", report.auc);
        assert!((report.advantage - 0.5).abs() < 1e-12);
        assert_eq!((report.members, report.non_members), (2, 2));
    }

    #[test]
    fn copied_members_are_found() {
        let members = column(&[0.1, 0.3, 0.5, 0.7]);
        let report = membership_inference(
            &members,
            &column(&[0.2, 0.4, 0.6, 0.8]),
            &column(&[0.15, 0.45, 0.75]),
            &members,
        )
        .expect("attack");
        assert_eq!(report.auc, 1.0);
        assert_eq!(report.advantage, 1.0);
    }
}
