//! The foundation's promise on real data: Adult in, a synthetic Adult out with the same
//! columns and types, overall quality ≥ 0.88 (SDV's GaussianCopula scores 0.82 here).

use std::path::PathBuf;

use arrow::array::{Array, Int64Array, StringArray};
use mirage_core::Table;
use mirage_core::records::ModelKind;
use mirage_core::schema::ColumnKind;
use mirage_data::{ReadOptions, read_table};
use mirage_models::{FitContext, SampleRequest, fit, sample_all};
use mirage_quality::{QualityOptions, evaluate};

fn adult() -> Table {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/adult.csv.gz");
    read_table(&path, &ReadOptions::default()).expect("the demo dataset reads")
}

#[test]
fn gaussian_copula_on_adult_reaches_the_quality_bar() {
    let real = adult();
    assert_eq!(real.num_rows(), 32_561);
    let model = fit(
        ModelKind::GaussianCopula,
        &real,
        &serde_json::Value::Null,
        &mut FitContext::default(),
    )
    .expect("fits");
    let batches =
        sample_all(model.as_ref(), &SampleRequest::new(real.num_rows(), 42)).expect("samples");
    let synthetic = Table::new(model.schema().clone(), batches).expect("table");
    assert_eq!(synthetic.num_rows(), 32_561);

    // Same columns, same kinds and storage, in the same order.
    let names = |t: &Table| {
        t.schema()
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.kind.clone(), c.physical))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&synthetic), names(&real));

    let report = evaluate(&real, &synthetic, &QualityOptions::default()).expect("scores");
    eprintln!(
        "overall {:.4} (associated pairs {:.4}) shapes {:.4} trends {:.4} diagnostic {:.4}",
        report.overall,
        report.overall_associated,
        report.column_shapes.score,
        report.column_pair_trends.score,
        report.diagnostic.score
    );
    assert!(report.overall >= 0.88, "overall {}", report.overall);
    // The SDMetrics ≥ 0.17 weighting (trends over associated pairs only), which published
    // figures use: SDV's GaussianCopula scores 0.82 by it here.
    assert!(
        report.overall_associated >= 0.88,
        "overall (associated pairs) {}",
        report.overall_associated
    );
    assert!(
        report.column_shapes.score >= 0.95,
        "shapes {}",
        report.column_shapes.score
    );
    // Nothing outside the source's range or category set.
    assert!(
        (report.diagnostic.score - 1.0).abs() < 1e-12,
        "diagnostic {:?}",
        report.diagnostic
    );

    // Integer columns stay integers within bounds; categories come from the source.
    let age = synthetic.column_by_name("age").expect("age");
    let age = age.as_any().downcast_ref::<Int64Array>().expect("ints");
    assert!(age.iter().flatten().all(|a| (17..=90).contains(&a)));
    let workclass = synthetic.column_by_name("workclass").expect("workclass");
    let workclass = workclass
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("strings");
    let nulls = workclass.null_count() as f64 / workclass.len() as f64;
    assert!(
        (nulls - 1_836.0 / 32_561.0).abs() < 0.01,
        "workclass nulls {nulls}"
    );
    assert!(matches!(
        real.schema().column("income").map(|c| &c.kind),
        Some(ColumnKind::Categorical)
    ));
}
