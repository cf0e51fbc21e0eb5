//! Rows straight from a warm model: the `SampleRows` call.
//!
//! The request is checked, the model looked up in this node's applied state (no Raft
//! write: the answer depends only on the model and the request), made warm through the
//! [`ModelCache`], and sampled on a blocking thread into a bounded channel: sampling runs
//! at most `serving.prefetch_batches` batches ahead of the client, and stops at the next
//! batch once the client goes away (the channel's receiver is dropped with the call).

use std::sync::Arc;
use std::time::Instant;

use mirage_models::Synthesizer;
use mirage_proto::v1;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::{debug, instrument, warn};

use super::cache::ModelCache;
use super::conditions;
use super::ipc::BatchEncoder;
use super::request::SamplePlan;
use crate::gateway::{Caller, Gateway, Need, caller, status};

/// The response header carrying the seed used (useful when the request left it unset).
pub const SEED_HEADER: &str = "mirage-seed";

/// The batches of one `SampleRows` answer, in order.
pub type RowStream = ReceiverStream<Result<v1::RowBatch, Status>>;

/// Serves `SampleRows`: what `GenerationService::sample_rows` delegates to. The seed used
/// is in the [`SEED_HEADER`] response header.
pub async fn sample_rows(
    gateway: &Gateway,
    cache: &ModelCache,
    request: Request<v1::SampleRowsRequest>,
) -> Result<Response<RowStream>, Status> {
    let caller = caller(&request)?;
    let (seed, stream) = open(gateway, cache, &caller, request.into_inner()).await?;
    let mut response = Response::new(stream);
    if let Ok(value) = seed.to_string().parse() {
        response.metadata_mut().insert(SEED_HEADER, value);
    }
    Ok(response)
}

/// The rows `request` asks for, for `caller`: batches of `batch_rows` rows (cut smaller
/// where a batch would exceed `serving.max_message_bytes`), in order;
/// the same model, seed, conditions and batch size give the same bytes. A model of
/// another tenant is `NOT_FOUND`, like one that does not exist.
pub async fn sample_stream(
    gateway: &Gateway,
    cache: &ModelCache,
    caller: &Caller,
    request: v1::SampleRowsRequest,
) -> Result<RowStream, Status> {
    open(gateway, cache, caller, request)
        .await
        .map(|(_, stream)| stream)
}

#[instrument(skip_all, fields(tenant = %caller.tenant, model = %request.model_id, rows = request.rows))]
async fn open(
    gateway: &Gateway,
    cache: &ModelCache,
    caller: &Caller,
    request: v1::SampleRowsRequest,
) -> Result<(u64, RowStream), Status> {
    caller.require(Need::Read, "sampling rows")?;
    let plan = SamplePlan::from_request(cache.config(), request)?;
    let id = plan.model;
    let key = gateway
        .read_until(|state| {
            state
                .model(id)
                .filter(|model| caller.owns(model.spec.tenant))
                .map(|model| model.spec.url.clone())
        })
        .await?
        .ok_or_else(|| {
            status::not_found(format!(
                "model {id} not found: list your models with ModelService.ListModels"
            ))
        })?;
    let model = cache.get(id, &key).await.map_err(|error| error.status())?;
    conditions::check_against(model.as_ref(), &plan.conditions)?;
    if let Some(rebalance) = &plan.rebalance {
        conditions::check_rebalance(model.as_ref(), &plan.request(), rebalance)?;
    }

    let (sender, receiver) = mpsc::channel(cache.config().prefetch_batches.max(1) as usize);
    let seed = plan.seed;
    let cache = cache.clone();
    tokio::task::spawn_blocking(move || produce(model, plan, &sender, &cache));
    Ok((seed, ReceiverStream::new(receiver)))
}

/// Samples `plan` into `sender` until done, failed, or the receiver is gone. Blocking.
fn produce(
    model: Arc<dyn Synthesizer>,
    plan: SamplePlan,
    sender: &mpsc::Sender<Result<v1::RowBatch, Status>>,
    cache: &ModelCache,
) {
    let metrics = cache.metrics();
    let max_message_bytes = usize::try_from(cache.config().max_message_bytes).unwrap_or(usize::MAX);
    let started = Instant::now();
    let request = plan.request();
    let encoder = BatchEncoder::new(model.schema().arrow_schema());
    let mut sent = 0u64;
    let failed = |sent: u64, error: &dyn std::fmt::Display, code: v1::ErrorCode| {
        warn!(model = %plan.model, sent, %error, "sampling stopped");
        let message = format!("sampling stopped after {sent} rows: {error}");
        let _ = sender.blocking_send(Err(status::error(code, message)));
    };
    let batches =
        match mirage_models::sample_with(model.as_ref(), &request, plan.rebalance.as_ref()) {
            Ok(batches) => batches,
            Err(error) => return failed(0, &error, error.code().into()),
        };
    for batch in batches {
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => return failed(sent, &error, error.code().into()),
        };
        let messages = match encoder.encode_within(&batch, sent, max_message_bytes) {
            Ok(messages) => messages,
            Err(error) => return failed(sent, &error, v1::ErrorCode::Internal),
        };
        for message in messages {
            let rows = message.rows;
            if sender.blocking_send(Ok(message)).is_err() {
                debug!(model = %plan.model, sent, "the client went away; sampling stopped");
                return;
            }
            sent += rows;
            metrics.rows_generated(rows);
        }
    }
    let elapsed = started.elapsed();
    // Per call, so debug: a one-row call must not pay for a log line.
    debug!(
        model = %plan.model,
        rows = sent,
        seed = plan.seed,
        elapsed_ms = elapsed.as_secs_f64() * 1e3,
        "rows streamed"
    );
}
