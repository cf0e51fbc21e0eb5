//! Generating token rows column by column.
//!
//! Every row gets its own column order: the columns it already knows first (imputation),
//! then the conditioned columns, then the rest, each group shuffled (random mode) or in
//! schema order (fixed mode). At step t the rows are grouped by the column they generate
//! next, and each group runs that column's head once on its rows, seeing exactly the
//! columns that come before it in each row's order. Restricted tokens (conditions) are
//! masked out before the draw, so conditions need no rejection.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::network::SamplingHeads;
use crate::error::Result;

/// What to generate.
#[derive(Debug)]
pub struct TokenRequest<'a> {
    /// Rows to generate.
    pub rows: usize,
    /// Known tokens: `fixed[column][row]` (empty = none known).
    pub fixed: &'a [Vec<Option<u32>>],
    /// Tokens each column may take (`None` = all).
    pub allowed: &'a [Option<Vec<bool>>],
    /// Columns generated before the others (conditioned columns).
    pub first: &'a [bool],
    /// Shuffle the order per row (false = schema order).
    pub random_order: bool,
    /// Softmax temperature.
    pub temperature: f64,
    /// Nucleus mass.
    pub top_p: f64,
}

/// Draws a token from logits with temperature and top-p, among the allowed tokens.
pub fn sample_token(
    logits: &[f32],
    allowed: Option<&[bool]>,
    temperature: f64,
    top_p: f64,
    rng: &mut impl Rng,
) -> u32 {
    let ok = |i: usize| allowed.is_none_or(|a| a[i]);
    let max = logits
        .iter()
        .enumerate()
        .filter(|(i, _)| ok(*i))
        .map(|(_, &l)| f64::from(l))
        .fold(f64::NEG_INFINITY, f64::max);
    let mut weights: Vec<(usize, f64)> = logits
        .iter()
        .enumerate()
        .filter(|(i, _)| ok(*i))
        .map(|(i, &l)| (i, ((f64::from(l) - max) / temperature).exp()))
        .collect();
    if weights.is_empty() {
        return 0;
    }
    let total: f64 = weights.iter().map(|(_, w)| w).sum();
    if top_p < 1.0 {
        weights.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut mass = 0.0;
        let mut keep = 0;
        for (_, w) in &weights {
            mass += w / total;
            keep += 1;
            if mass >= top_p {
                break;
            }
        }
        weights.truncate(keep);
    }
    let total: f64 = weights.iter().map(|(_, w)| w).sum();
    let mut u = rng.random::<f64>() * total;
    for &(i, w) in &weights {
        if u < w {
            return i as u32;
        }
        u -= w;
    }
    weights[weights.len() - 1].0 as u32
}

/// Generates `tokens[column][row]`.
pub fn generate(
    heads: &SamplingHeads,
    request: &TokenRequest<'_>,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Vec<u32>>> {
    let columns = heads.layout().columns();
    let rows = request.rows;
    let known = |column: usize, row: usize| -> Option<u32> {
        request
            .fixed
            .get(column)
            .and_then(|f| f.get(row).copied().flatten())
    };
    let mut tokens: Vec<Vec<u32>> = (0..columns)
        .map(|c| (0..rows).map(|r| known(c, r).unwrap_or(0)).collect())
        .collect();
    // orders[row][t] = the column at step t; positions[row][column] = its step.
    let mut orders: Vec<Vec<usize>> = Vec::with_capacity(rows);
    let mut positions: Vec<Vec<usize>> = Vec::with_capacity(rows);
    for row in 0..rows {
        let mut order: Vec<usize> = Vec::with_capacity(columns);
        if request.random_order {
            let mut groups: [Vec<usize>; 3] = Default::default();
            for column in 0..columns {
                let group = if known(column, row).is_some() {
                    0
                } else if request.first.get(column).copied().unwrap_or(false) {
                    1
                } else {
                    2
                };
                groups[group].push(column);
            }
            for mut group in groups {
                group.shuffle(rng);
                order.extend(group);
            }
        } else {
            order.extend(0..columns);
        }
        let mut position = vec![0; columns];
        for (step, &column) in order.iter().enumerate() {
            position[column] = step;
        }
        orders.push(order);
        positions.push(position);
    }
    for step in 0..columns {
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); columns];
        for (row, order) in orders.iter().enumerate() {
            let column = order[step];
            if known(column, row).is_none() {
                groups[column].push(row);
            }
        }
        for (column, group) in groups.iter().enumerate() {
            if group.is_empty() {
                continue;
            }
            let visible = |row: usize, other: usize| positions[row][other] < positions[row][column];
            let logits = heads.head_logits(column, group, &tokens, &visible)?;
            let allowed = request.allowed.get(column).and_then(Option::as_deref);
            for (&row, row_logits) in group.iter().zip(&logits) {
                tokens[column][row] =
                    sample_token(row_logits, allowed, request.temperature, request.top_p, rng);
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn frequencies(logits: &[f32], temperature: f64, top_p: f64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut counts = vec![0.0; logits.len()];
        let n = 20_000;
        for _ in 0..n {
            counts[sample_token(logits, None, temperature, top_p, &mut rng) as usize] += 1.0;
        }
        counts.iter().map(|c| c / n as f64).collect()
    }

    #[test]
    fn temperature_one_follows_the_softmax() {
        let logits = [0.0f32, (2.0f32).ln(), (3.0f32).ln()];
        let f = frequencies(&logits, 1.0, 1.0);
        for (got, want) in f.iter().zip([1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0]) {
            assert!((got - want).abs() < 0.015, "{f:?}");
        }
    }

    #[test]
    fn low_temperature_sharpens_and_top_p_cuts_the_tail() {
        let logits = [0.0f32, 1.0, 2.0];
        let cold = frequencies(&logits, 0.1, 1.0);
        assert!(cold[2] > 0.99, "{cold:?}");
        let hot = frequencies(&logits, 10.0, 1.0);
        assert!(hot[0] > 0.28, "{hot:?}");
        // Softmax of (0, 1, 2) is (0.09, 0.245, 0.665): top-p 0.6 keeps only the last.
        let nucleus = frequencies(&logits, 1.0, 0.6);
        assert_eq!(nucleus[0] + nucleus[1], 0.0, "{nucleus:?}");
        // top-p 0.8 keeps the two most likely, renormalised.
        let two = frequencies(&logits, 1.0, 0.8);
        assert_eq!(two[0], 0.0);
        assert!((two[2] - 0.665 / 0.91).abs() < 0.015, "{two:?}");
    }

    #[test]
    fn disallowed_tokens_are_never_drawn() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let allowed = [false, true, false];
        for _ in 0..1000 {
            assert_eq!(
                sample_token(&[5.0, -3.0, 4.0], Some(&allowed), 1.0, 1.0, &mut rng),
                1
            );
        }
    }
}
