//! End-to-end tests of `SampleRows`: a copula of the Adult table registered in a one-node
//! cluster, sampled through the real gateway (directly and over a loopback tonic server).

use std::time::Duration;

use mirage_actors::Role;
use mirage_core::config::ServingConfig;
use mirage_core::{Condition, ConditionOp, ModelId, Value};
use mirage_proto::v1;
use tokio_stream::StreamExt;
use tonic::Code;

use super::testing::{LoopbackServer, SampleOnlyService, adult_model, cache, register_model};
use super::{SEED_HEADER, ipc, sample_rows, sample_stream};
use crate::gateway::testing::{TestGateway, request};

fn age_over(years: i64) -> v1::Condition {
    Condition::new("age", ConditionOp::Gt(Value::Int(years))).into()
}

fn sample(model: ModelId, rows: u64) -> v1::SampleRowsRequest {
    v1::SampleRowsRequest {
        rebalance: None,
        model_id: model.to_string(),
        rows,
        seed: Some(42),
        conditions: Vec::new(),
        batch_rows: 0,
    }
}

/// Every row of `batches` satisfies `condition`; returns the number of rows.
fn check_rows(batches: &[v1::RowBatch], condition: &Condition) -> anyhow::Result<u64> {
    let mut rows = 0;
    for batch in batches {
        for decoded in ipc::decode(&batch.arrow_ipc)? {
            let column = decoded
                .column_by_name(&condition.column)
                .ok_or_else(|| anyhow::anyhow!("no column {}", condition.column))?;
            for row in 0..decoded.num_rows() {
                let value = mirage_models::columns::value_at(&condition.column, column, row)?;
                anyhow::ensure!(condition.matches(&value), "{value} breaks {condition}");
            }
            rows += decoded.num_rows() as u64;
        }
    }
    Ok(rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_rows_stream_in_order_over_grpc_and_repeat_with_the_seed() -> anyhow::Result<()>
{
    let test = TestGateway::start().await?;
    let caller = test.caller(1, Role::Analyst).await?;
    let model = adult_model(&test, &caller, Some(2000)).await?;
    let cache = cache(&test, ServingConfig::default());
    let service = SampleOnlyService::new(test.gateway.clone(), cache.clone(), caller.clone());
    let server = LoopbackServer::start(service).await?;
    let mut client = server.client().await?;

    let wanted = v1::SampleRowsRequest {
        conditions: vec![age_over(65)],
        batch_rows: 500,
        ..sample(model, 1200)
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let response = client.sample_rows(wanted.clone()).await?;
        let seed = response
            .metadata()
            .get(SEED_HEADER)
            .and_then(|v| v.to_str().ok());
        assert_eq!(seed, Some("42"));
        let mut stream = response.into_inner();
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            batches.push(batch?);
        }
        runs.push(batches);
    }
    let batches = &runs[0];
    let layout: Vec<(u64, u64)> = batches.iter().map(|b| (b.row_offset, b.rows)).collect();
    assert_eq!(layout, vec![(0, 500), (500, 500), (1000, 200)], "in order");
    let condition = Condition::new("age", ConditionOp::Gt(Value::Int(65)));
    assert_eq!(check_rows(batches, &condition)?, 1200);
    let bytes = |run: &Vec<v1::RowBatch>| -> Vec<Vec<u8>> {
        run.iter().map(|b| b.arrow_ipc.clone()).collect()
    };
    assert_eq!(bytes(&runs[0]), bytes(&runs[1]), "same seed, same bytes");

    // Another seed gives other rows.
    let other = client
        .sample_rows(v1::SampleRowsRequest {
            seed: Some(43),
            ..wanted.clone()
        })
        .await?
        .into_inner()
        .next()
        .await
        .ok_or_else(|| anyhow::anyhow!("no batch"))??;
    assert_ne!(other.arrow_ipc, runs[0][0].arrow_ipc);

    let counters = cache.metrics().snapshot();
    assert_eq!(
        (counters.loads, counters.misses),
        (1, 1),
        "loaded once, then warm"
    );
    assert!(counters.hits >= 2);
    assert!(counters.rows_generated >= 2400);
    let mut text = String::new();
    cache.render(&mut text);
    assert!(text.contains("mirage_model_cache_models 1"), "{text}");
    drop(client);
    drop(server);
    test.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_what_to_fix_and_hide_other_tenants() -> anyhow::Result<()> {
    let test = TestGateway::start().await?;
    let owner = test.caller(1, Role::Analyst).await?;
    let stranger = test.caller(2, Role::Admin).await?;
    let model = adult_model(&test, &owner, Some(500)).await?;
    let cache = cache(&test, ServingConfig::default());
    let gateway = &test.gateway;

    // Another tenant's model is indistinguishable from a missing one.
    let hidden = sample_stream(gateway, &cache, &stranger, sample(model, 1))
        .await
        .expect_err("not the stranger's model");
    let missing = sample_stream(gateway, &cache, &owner, sample(ModelId::new(), 1))
        .await
        .expect_err("no such model");
    assert_eq!(
        (hidden.code(), missing.code()),
        (Code::NotFound, Code::NotFound)
    );
    assert!(hidden.message().contains("not found"), "{hidden:?}");
    assert!(!cache.is_warm(model), "nothing was loaded for the stranger");

    let zero = sample_stream(gateway, &cache, &owner, sample(model, 0))
        .await
        .expect_err("zero rows");
    assert_eq!(zero.code(), Code::InvalidArgument);
    assert!(zero.message().starts_with("rows: "), "{zero:?}");

    let unknown_column = v1::SampleRowsRequest {
        conditions: vec![
            age_over(30),
            Condition::new("salary", ConditionOp::Gt(Value::Int(1))).into(),
        ],
        ..sample(model, 1)
    };
    let refused = sample_stream(gateway, &cache, &owner, unknown_column)
        .await
        .expect_err("no such column");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().starts_with("conditions[1].column: ")
            && refused.message().contains("\"salary\"")
            && refused.message().contains("age"),
        "{refused:?}"
    );

    let impossible = v1::SampleRowsRequest {
        conditions: vec![age_over(1000)],
        ..sample(model, 1)
    };
    let refused = sample_stream(gateway, &cache, &owner, impossible)
        .await
        .expect_err("no row can satisfy it");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().starts_with("conditions[0]: "),
        "{refused:?}"
    );

    // Without a caller the request was never authenticated.
    let anonymous = sample_rows(gateway, &cache, tonic::Request::new(sample(model, 1)))
        .await
        .expect_err("no caller");
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    // Through the request path with a caller: one row, default seed picked and reported.
    let unseeded = v1::SampleRowsRequest {
        seed: None,
        ..sample(model, 1)
    };
    let response = sample_rows(gateway, &cache, request(&owner, unseeded)).await?;
    assert!(response.metadata().get(SEED_HEADER).is_some());
    let batches: Vec<v1::RowBatch> = response.into_inner().collect::<Result<_, _>>().await?;
    assert_eq!(batches.iter().map(|b| b.rows).sum::<u64>(), 1);

    // A model registered without files.
    let orphan = ModelId::new();
    register_model(gateway, &owner, orphan, &format!("models/{orphan}")).await?;
    let refused = sample_stream(gateway, &cache, &owner, sample(orphan, 1))
        .await
        .expect_err("no files");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("train the model again"),
        "{refused:?}"
    );

    // A location written as a full URL into the store finds the same files.
    let alias = ModelId::new();
    let url = format!("{}/models/{model}", gateway.storage().url());
    register_model(gateway, &owner, alias, &url).await?;
    let rows: Vec<v1::RowBatch> = sample_stream(gateway, &cache, &owner, sample(alias, 3))
        .await?
        .collect::<Result<_, _>>()
        .await?;
    assert_eq!(rows.iter().map(|b| b.rows).sum::<u64>(), 3);
    test.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_stops_when_the_client_goes_away() -> anyhow::Result<()> {
    let test = TestGateway::start().await?;
    let owner = test.caller(1, Role::Analyst).await?;
    let model = adult_model(&test, &owner, Some(500)).await?;
    let config = ServingConfig {
        prefetch_batches: 2,
        ..ServingConfig::default()
    };
    let cache = cache(&test, config);
    let huge = v1::SampleRowsRequest {
        batch_rows: 1000,
        ..sample(model, 50_000_000)
    };
    let mut stream = sample_stream(&test.gateway, &cache, &owner, huge).await?;
    let first = stream
        .next()
        .await
        .ok_or_else(|| anyhow::anyhow!("no batch"))??;
    assert_eq!((first.row_offset, first.rows), (0, 1000));
    drop(stream);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped_at = cache.metrics().snapshot().rows_generated;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = cache.metrics().snapshot().rows_generated;
    assert_eq!(stopped_at, later, "sampling stopped");
    assert!(
        later <= 5000,
        "at most the prefetched batches were sampled: {later}"
    );
    test.stop().await
}

/// How many decoded rows of `batches` hold each value of `column`.
fn class_counts(
    batches: &[v1::RowBatch],
    column: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
    let mut counts = std::collections::BTreeMap::new();
    for batch in batches {
        for decoded in ipc::decode(&batch.arrow_ipc)? {
            let array = decoded
                .column_by_name(column)
                .ok_or_else(|| anyhow::anyhow!("no column {column}"))?;
            for row in 0..decoded.num_rows() {
                let value = mirage_models::columns::value_at(column, array, row)?;
                *counts.entry(value.to_string()).or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn augmented_rows_divide_among_the_classes_and_bad_rebalances_are_named() -> anyhow::Result<()>
{
    let test = TestGateway::start().await?;
    let owner = test.caller(1, Role::Analyst).await?;
    let model = adult_model(&test, &owner, Some(2000)).await?;
    let cache = cache(&test, ServingConfig::default());
    let gateway = &test.gateway;
    let collect = |stream: super::RowStream| async move {
        let mut stream = stream;
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            batches.push(batch?);
        }
        Ok::<_, tonic::Status>(batches)
    };
    let share = |value: &str, share: f64| v1::ClassShare {
        value: Some(Value::Str(value.into()).into()),
        share,
    };

    // Class balancing: equal shares of every class the model knows for `sex`.
    let balanced = v1::SampleRowsRequest {
        conditions: vec![age_over(40)],
        rebalance: Some(v1::Rebalance {
            column: "sex".into(),
            shares: Vec::new(),
        }),
        ..sample(model, 600)
    };
    let batches = collect(sample_stream(gateway, &cache, &owner, balanced).await?).await?;
    let counts = class_counts(&batches, "sex")?;
    assert_eq!(
        counts.values().copied().collect::<Vec<_>>(),
        vec![300, 300],
        "{counts:?}"
    );
    let condition = Condition::new("age", ConditionOp::Gt(Value::Int(40)));
    assert_eq!(
        check_rows(&batches, &condition)?,
        600,
        "the condition still holds"
    );

    // Listed shares: three quarters of the rows earn more than 50K.
    let shares = v1::SampleRowsRequest {
        rebalance: Some(v1::Rebalance {
            column: "income".into(),
            shares: vec![share(">50K", 3.0), share("<=50K", 1.0)],
        }),
        ..sample(model, 400)
    };
    let batches = collect(sample_stream(gateway, &cache, &owner, shares).await?).await?;
    let counts = class_counts(&batches, "income")?;
    assert_eq!(counts.get(">50K"), Some(&300), "{counts:?}");
    assert_eq!(counts.get("<=50K"), Some(&100), "{counts:?}");

    let refusals = [
        (
            v1::Rebalance {
                column: "income".into(),
                shares: vec![share(">50K", 1.0), share("lots", 1.0)],
            },
            Vec::new(),
            "rebalance.shares[1].value: ",
        ),
        (
            v1::Rebalance {
                column: "income".into(),
                shares: vec![share(">50K", -1.0)],
            },
            Vec::new(),
            "rebalance.shares[0].share: ",
        ),
        (
            v1::Rebalance {
                column: "hours-per-week".into(),
                shares: Vec::new(),
            },
            Vec::new(),
            "rebalance.column: ",
        ),
        (
            v1::Rebalance {
                column: "age".into(),
                shares: Vec::new(),
            },
            vec![age_over(30)],
            "rebalance.column: conditions[0] already constrains",
        ),
    ];
    for (rebalance, conditions, says) in refusals {
        let request = v1::SampleRowsRequest {
            conditions,
            rebalance: Some(rebalance),
            ..sample(model, 10)
        };
        let refused = sample_stream(gateway, &cache, &owner, request)
            .await
            .expect_err(says);
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert!(refused.message().starts_with(says), "{refused:?}");
    }
    test.stop().await
}
