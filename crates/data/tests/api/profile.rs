//! Profile figures checked against hand computation.

use mirage_core::{ColumnKind, HistogramBin};
use mirage_data::{ProfileOptions, profile_table};

use crate::{file, read, scratch};

/// x: 1..=10 with one null; label: a×4, b×3, c×2, (null)×1; when: two dates.
const SMALL: &str = "x,label,when,flag\n\
1,a,2020-01-01,true\n\
2,a,2020-01-03,false\n\
3,b,2020-01-01,true\n\
4,a,2020-01-01,true\n\
5,c,2020-01-03,false\n\
6,b,2020-01-01,true\n\
7,a,2020-01-01,true\n\
8,,2020-01-03,false\n\
9,b,2020-01-01,true\n\
NA,c,2020-01-01,true\n\
10,cc,2020-01-01,true\n";

fn profile(options: &ProfileOptions) -> mirage_core::DatasetProfile {
    let dir = scratch();
    let table = read(&file(&dir, "small.csv", SMALL));
    profile_table(&table, options).expect("profiles")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn numeric_moments_quantiles_and_histogram() {
    let profile = profile(&ProfileOptions {
        histogram_bins: 3,
        ..ProfileOptions::default()
    });
    assert_eq!(profile.rows, 11);
    assert_eq!(profile.sample_rate, 1.0);
    let x = profile.column("x").expect("x");
    assert_eq!(x.kind, ColumnKind::Integer);
    assert_eq!((x.count, x.null_count), (11, 1));
    assert!(close(x.null_rate, 1.0 / 11.0));
    assert_eq!((x.min, x.max), (Some(1.0), Some(10.0)));
    assert!(close(x.mean.expect("mean"), 5.5));
    // Sample variance of 1..=10 is 55/6.
    assert!(close(x.std.expect("std"), (55.0f64 / 6.0).sqrt()));
    let quantile = |p: f64| {
        x.quantiles
            .iter()
            .find(|(q, _)| close(*q, p))
            .expect("quantile")
            .1
    };
    assert!(close(quantile(0.5), 5.5));
    assert!(close(quantile(0.25), 3.25));
    assert!(close(quantile(0.75), 7.75));
    assert!(close(quantile(0.01), 1.09));
    assert!(close(quantile(0.99), 9.91));
    assert_eq!(x.quantiles.len(), 7);
    // Bins of width 3 over [1, 10]: [1,4) [4,7) [7,10].
    let expected = [(1.0, 4.0, 3), (4.0, 7.0, 3), (7.0, 10.0, 4)];
    assert_eq!(x.histogram.len(), 3);
    for (bin, (lower, upper, count)) in x.histogram.iter().zip(expected) {
        let HistogramBin {
            lower: l,
            upper: u,
            count: c,
        } = *bin;
        assert!(close(l, lower) && close(u, upper) && c == count, "{bin:?}");
    }
    assert_eq!(x.cardinality, 10);
    assert!(x.cardinality_exact);
}

#[test]
fn labels_get_counts_top_values_and_lengths() {
    let profile = profile(&ProfileOptions {
        top_k: 2,
        ..ProfileOptions::default()
    });
    let label = profile.column("label").expect("label");
    assert_eq!(label.kind, ColumnKind::Categorical);
    assert_eq!((label.null_count, label.cardinality), (1, 4));
    let top: Vec<(&str, u64)> = label
        .top_values
        .iter()
        .map(|t| (t.value.as_str(), t.count))
        .collect();
    assert_eq!(top, vec![("a", 4), ("b", 3)]);
    // Ten values of total length 11 ("cc" is two long).
    assert!(close(label.mean_length.expect("length"), 1.1));
    assert_eq!(label.min, None);
    let flag = profile.column("flag").expect("flag");
    assert_eq!(flag.kind, ColumnKind::Boolean);
    let top: Vec<(&str, u64)> = flag
        .top_values
        .iter()
        .map(|t| (t.value.as_str(), t.count))
        .collect();
    assert_eq!(top, vec![("true", 8), ("false", 3)]);
}

#[test]
fn datetimes_are_profiled_in_epoch_milliseconds_and_shown_in_their_format() {
    let profile = profile(&ProfileOptions::default());
    let when = profile.column("when").expect("when");
    let day = 86_400_000.0;
    let first = 1_577_836_800_000.0; // 2020-01-01
    assert_eq!(when.min, Some(first));
    assert_eq!(when.max, Some(first + 2.0 * day));
    assert!(close(
        when.mean.expect("mean"),
        first + 2.0 * day * 3.0 / 11.0
    ));
    assert_eq!(when.top_values[0].value, "2020-01-01");
    assert_eq!(when.top_values[0].count, 8);
}

#[test]
fn sampling_is_seeded_and_recorded() {
    let dir = scratch();
    let mut content = String::from("v\n");
    for i in 0..20_000 {
        content.push_str(&format!("{}\n", i % 100));
    }
    let table = read(&file(&dir, "big.csv", content));
    let options = ProfileOptions {
        sample_rate: Some(0.1),
        seed: 7,
        ..ProfileOptions::default()
    };
    let first = profile_table(&table, &options).expect("profiles");
    let again = profile_table(&table, &options).expect("profiles");
    assert_eq!(first, again);
    assert_eq!(first.rows, 20_000);
    assert_eq!(first.sample_rate, 0.1);
    let count = first.columns[0].count as f64;
    // Binomial(20000, 0.1): mean 2000, sd 42.4; five sd either side.
    assert!((count - 2000.0).abs() < 215.0, "{count}");
    let mean = first.columns[0].mean.expect("mean");
    assert!((mean - 49.5).abs() < 2.5, "{mean}");
    let other = profile_table(&table, &ProfileOptions { seed: 8, ..options }).expect("profiles");
    assert_ne!(other.columns[0].count, first.columns[0].count);
    let err = profile_table(
        &table,
        &ProfileOptions {
            sample_rate: Some(1.5),
            ..ProfileOptions::default()
        },
    )
    .expect_err("out of range");
    assert!(err.to_string().contains("sample_rate"), "{err}");
}
