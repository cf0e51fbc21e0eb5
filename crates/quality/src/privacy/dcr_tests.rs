use super::*;

fn matrix(rows: &[[f64; 2]]) -> RowMatrix {
    RowMatrix::new(2, rows.iter().flatten().copied().collect()).expect("matrix")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// Two columns: a number already scaled by the training range, and a label code.
#[test]
fn dcr_on_a_tiny_table_by_hand() {
    let train = matrix(&[[0.0, 1.0], [0.5, 1.0], [1.0, 2.0]]);
    let holdout = matrix(&[[0.25, 1.0], [1.0, 1.0], [0.9, 2.0]]);
    let synthetic = matrix(&[[0.0, 1.0], [0.75, 1.0], [0.7, 2.0], [0.5, 3.0]]);
    let report = distance_to_closest_records(&train, &train, &holdout, &synthetic).expect("dcr");

    // Nearest training distances (1st, 2nd) and holdout distance of each synthetic row:
    // s0 = t0: (0, 0.25), 0.125 → nearer training; NNDR 0.
    // s1: t1 at |0.75 − 0.5| / 2 = 0.125, t0 at 0.375; h1 at 0.125 → a tie; NNDR 1/3.
    // s2: t2 at 0.3 / 2 = 0.15, t1 at (0.2 + 1) / 2 = 0.6; h2 at 0.1 → nearer holdout;
    //     NNDR 0.25.
    // s3 (an unseen label): t1 at 0.5, t0 at 0.75; h0 at 0.625 → nearer training; NNDR 2/3.
    let to_train = &report.synthetic_to_train;
    assert_eq!(to_train.count, 4);
    assert!(close(to_train.mean, (0.0 + 0.125 + 0.15 + 0.5) / 4.0));
    assert!(close(to_train.median, (0.125 + 0.15) / 2.0));
    // Position 0.05 · 3 = 0.15 between 0 and 0.125.
    assert!(close(to_train.p5, 0.125 * 0.15));
    let mut histogram = vec![0; HISTOGRAM_BINS];
    histogram[0] = 1;
    histogram[2] = 1;
    histogram[3] = 1;
    histogram[10] = 1;
    assert_eq!(to_train.histogram, histogram);

    assert!(close(
        report.closer_to_train_share,
        (1.0 + 0.5 + 0.0 + 1.0) / 4.0
    ));
    assert!(close(report.identical_match_share, 0.25));
    // Ratios sorted: 0, 0.25, 1/3, 2/3. p10 at position 0.3, median halfway 0.25 … 1/3.
    assert!(close(report.nndr.p10, 0.25 * 0.3));
    assert!(close(report.nndr.median, (0.25 + 1.0 / 3.0) / 2.0));

    // Holdout rows: h0 at 0.125 (t0 and t1), h1 at 0.25 (t1), h2 at 0.05 (t2).
    let holdout_to_train = &report.holdout_to_train;
    assert!(close(holdout_to_train.mean, (0.125 + 0.25 + 0.05) / 3.0));
    assert!(close(holdout_to_train.median, 0.125));
    assert!(close(holdout_to_train.p5, 0.05 + 0.075 * 0.1));
}

#[test]
fn identical_matches_use_the_whole_training_table() {
    let train_full = matrix(&[[0.0, 1.0], [0.5, 1.0], [1.0, 2.0], [0.3, 3.0]]);
    let train = matrix(&[[0.0, 1.0], [0.5, 1.0]]);
    let holdout = matrix(&[[0.25, 1.0], [1.0, 1.0]]);
    let synthetic = matrix(&[[0.3, 3.0], [0.3, 2.0]]);
    let report =
        distance_to_closest_records(&train_full, &train, &holdout, &synthetic).expect("dcr");
    assert!(close(report.identical_match_share, 0.5));
}

#[test]
fn percentiles_interpolate() {
    assert_eq!(percentile(&[], 0.5), 0.0);
    assert_eq!(percentile(&[3.0], 0.1), 3.0);
    assert!(close(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5));
    assert!(close(percentile(&[1.0, 2.0, 3.0, 4.0], 1.0), 4.0));
}
