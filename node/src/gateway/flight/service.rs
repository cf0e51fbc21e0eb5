//! The `FlightService` implementation: each method takes the caller from the request,
//! checks its role, and delegates to [`super::catalog`], [`super::stored`] and
//! [`super::upload`].

use std::pin::Pin;

use arrow::array::RecordBatch;
use arrow_flight::decode::{DecodedPayload, FlightDataDecoder};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaAsIpc, SchemaResult, Ticket,
};
use futures::{Stream, StreamExt, TryStreamExt};
use mirage_actors::Command;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::{info, instrument, warn};

use super::target::{FlightTarget, upload_name};
use super::upload::StoredUpload;
use super::{FlightGateway, stored, upload};
use crate::gateway::access::parse_id;
use crate::gateway::datasets::create_dataset;
use crate::gateway::{Need, caller, status};

/// The streams this service answers with.
type Answer<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Batches decoded ahead of the network when streaming rows out.
const BATCHES_AHEAD: usize = 4;

/// The largest Flight message the encoder makes (bigger batches are split).
const MAX_FLIGHT_DATA_BYTES: usize = 16 * 1024 * 1024;

/// The action that releases a generation whose quality gate failed.
pub const RELEASE_GENERATION: &str = "release-generation";

fn one<T: Send + 'static>(item: T) -> Answer<T> {
    Box::pin(futures::stream::once(async move { Ok(item) }))
}

/// A decode error in an upload is the client's: INVALID_ARGUMENT.
fn upload_error(error: FlightError) -> Status {
    match error {
        FlightError::Tonic(status) => *status,
        other => status::invalid(
            "upload",
            format!(
                "cannot decode the uploaded Arrow data: {other}; send Arrow IPC record batches"
            ),
        ),
    }
}

impl FlightGateway {
    /// What becomes of an upload whose dataset could not be created. If its ingest job was
    /// queued after all, nothing changes. A refusal (the name was taken meanwhile, say) is
    /// final: the upload is deleted so it does not linger in the store. When the cluster
    /// state could not be reached, the creation may still have gone through, so the upload
    /// is kept and the error names the ticket that creates the dataset from it without
    /// sending the rows again.
    pub(super) async fn after_failed_creation(
        &self,
        failed: Status,
        stored: &StoredUpload,
    ) -> Status {
        let ticket = format!("upload/{}", stored.id);
        let referenced = self
            .gateway
            .read(|state| {
                state.jobs().values().any(|job| {
                    job.spec.payload.get("source").and_then(|v| v.as_str())
                        == Some(stored.key.as_str())
                })
            })
            .unwrap_or(true);
        if referenced {
            // The ingest job was queued after all: the dataset stands and reads it.
            return failed;
        }
        if failed.code() == tonic::Code::Unavailable {
            warn!(upload = %stored.id, error = %failed.message(), "dataset creation failed; upload kept");
            let message = format!(
                "{}; the upload is kept: create the dataset from it with \
                 CreateDataset(flight_ticket = \"{ticket}\") instead of sending the rows again",
                failed.message()
            );
            return Status::with_metadata(failed.code(), message, failed.metadata().clone());
        }
        let storage = self.gateway.storage().clone();
        let prefix = format!("uploads/{}/", stored.id);
        let removed = tokio::task::spawn_blocking(move || storage.delete_prefix(&prefix)).await;
        match removed {
            Ok(Ok(_)) => info!(upload = %stored.id, "dataset refused; upload deleted"),
            Ok(Err(e)) => warn!(upload = %stored.id, error = %e, "cannot delete a refused upload"),
            Err(e) => warn!(upload = %stored.id, error = %e, "cannot delete a refused upload"),
        }
        failed
    }

    /// The key of `target`'s rows, if the caller may pull them now.
    async fn rows_key(
        &self,
        caller: &crate::gateway::Caller,
        target: FlightTarget,
    ) -> Result<String, Status> {
        match target {
            FlightTarget::Dataset(_) => Ok(self.locate(caller, target).await?.key),
            FlightTarget::Generation(id) => self.gateway.generation_rows(caller, id).await,
        }
    }

    /// Refuses a new dataset name that is invalid or already taken in the caller's
    /// tenant, before the upload is read (`create_dataset` checks again at the end).
    fn check_new_name(&self, caller: &crate::gateway::Caller, name: &str) -> Result<(), Status> {
        crate::gateway::datasets::check_new_name(&self.gateway, caller, name)
    }
}

#[tonic::async_trait]
impl FlightService for FlightGateway {
    type HandshakeStream = Answer<HandshakeResponse>;
    type ListFlightsStream = Answer<FlightInfo>;
    type DoGetStream = Answer<FlightData>;
    type DoPutStream = Answer<PutResult>;
    type DoExchangeStream = Answer<FlightData>;
    type DoActionStream = Answer<arrow_flight::Result>;
    type ListActionsStream = Answer<ActionType>;

    async fn handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        Err(Status::unimplemented(
            "Flight handshakes are not used: send an API key in `x-api-key` or a bearer token in \
             `authorization` with every call",
        ))
    }

    #[instrument(skip_all)]
    async fn list_flights(
        &self,
        request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        let caller = caller(&request)?;
        caller.require(Need::Read, "listing flights")?;
        let (datasets, generations) = match request.get_ref().expression.as_ref() {
            b"" => (true, true),
            b"datasets" => (true, false),
            b"generations" => (false, true),
            _ => {
                return Err(status::invalid(
                    "criteria",
                    "use an empty expression (everything), `datasets` or `generations`",
                ));
            }
        };
        let located = self.located_all(&caller, datasets, generations)?;
        let mut infos = Vec::with_capacity(located.len());
        for (located, described) in self.describe(located).await? {
            infos.push(Ok(self.flight_info(&located, described.as_ref())?));
        }
        info!(tenant = %caller.tenant, flights = infos.len(), "flights listed");
        Ok(Response::new(Box::pin(futures::stream::iter(infos))))
    }

    #[instrument(skip_all)]
    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let caller = caller(&request)?;
        caller.require(Need::Read, "describing a flight")?;
        let target = FlightTarget::from_descriptor(request.get_ref())?;
        let located = self.locate(&caller, target).await?;
        let mut described = self.describe(vec![located]).await?;
        let (located, described) = described
            .pop()
            .ok_or_else(|| status::internal("describing a table returned nothing"))?;
        Ok(Response::new(
            self.flight_info(&located, described.as_ref())?,
        ))
    }

    async fn poll_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        Err(Status::unimplemented(
            "PollFlightInfo is not offered: every flight is ready at once, use GetFlightInfo",
        ))
    }

    #[instrument(skip_all)]
    async fn get_schema(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        let caller = caller(&request)?;
        caller.require(Need::Read, "reading a schema")?;
        let target = FlightTarget::from_descriptor(request.get_ref())?;
        let located = self.locate(&caller, target).await?;
        let described = self
            .describe(vec![located])
            .await?
            .pop()
            .and_then(|(_, described)| described)
            .ok_or_else(|| {
                status::precondition(
                    "its rows are not stored yet (a dataset still ingesting): retry when its \
                     ingest job has succeeded",
                )
            })?;
        let options = arrow::ipc::writer::IpcWriteOptions::default();
        let result = SchemaResult::try_from(SchemaAsIpc::new(&described.schema, &options))
            .map_err(|e| status::internal(format!("cannot encode a schema: {e}")))?;
        Ok(Response::new(result))
    }

    #[instrument(skip_all)]
    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let caller = caller(&request)?;
        caller.require(Need::Read, "pulling rows")?;
        let target = FlightTarget::from_ticket(request.get_ref())?;
        let key = self.rows_key(&caller, target).await?;
        let storage = self.gateway.storage().clone();
        let scratch = self.scratch.clone();
        let opened_key = key.clone();
        let rows = tokio::task::spawn_blocking(move || {
            if storage
                .size(&opened_key)
                .map_err(|e| status::internal(e.to_string()))?
                .is_none()
            {
                return Err(status::precondition(format!(
                    "{opened_key} is not stored yet: the dataset is still ingesting; pull it when \
                     its ingest job has succeeded"
                )));
            }
            stored::open(&storage, &opened_key, &scratch)
        })
        .await
        .map_err(|e| status::internal(format!("opening the rows failed: {e}")))??;
        let schema = rows.schema.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(BATCHES_AHEAD);
        tokio::task::spawn_blocking(move || {
            for batch in rows {
                let batch: Result<RecordBatch, FlightError> = batch.map_err(FlightError::Arrow);
                if sender.blocking_send(batch).is_err() {
                    break; // the client went away
                }
            }
        });
        info!(tenant = %caller.tenant, ?target, key, "rows streaming");
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .with_max_flight_data_size(MAX_FLIGHT_DATA_BYTES)
            .build(ReceiverStream::new(receiver))
            .map_err(Status::from);
        Ok(Response::new(Box::pin(stream)))
    }

    #[instrument(skip_all)]
    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        let caller = caller(&request)?;
        caller.require(Need::Write, "uploading a dataset")?;
        let mut messages = request.into_inner();
        let first = messages.message().await?.ok_or_else(|| {
            status::invalid(
                "upload",
                "the stream is empty; send a descriptor [\"datasets\", <name>] with the schema, \
                 then record batches",
            )
        })?;
        let name = upload_name(first.flight_descriptor.as_ref())?;
        self.check_new_name(&caller, &name)?;
        let data = futures::stream::once(async move { Ok(first) })
            .chain(messages)
            .map_err(FlightError::from);
        // The low-level decoder lets a second schema message through, so a schema change
        // mid-stream is refused by `store_upload` with a message that says so.
        let batches = FlightDataDecoder::new(data)
            .map_err(upload_error)
            .try_filter_map(|decoded| async move {
                Ok(match decoded.payload {
                    DecodedPayload::RecordBatch(batch) => Some(batch),
                    DecodedPayload::Schema(_) | DecodedPayload::None => None,
                })
            });
        let stored = upload::store_upload(
            self.gateway.storage().clone(),
            self.scratch.clone(),
            Box::pin(batches),
        )
        .await?;
        let created = match create_dataset(&self.gateway, &caller, &name, &stored.key).await {
            Ok(created) => created,
            Err(failed) => return Err(self.after_failed_creation(failed, &stored).await),
        };
        let metadata = serde_json::json!({
            "dataset_id": created.dataset.to_string(),
            "job_id": created.job.spec.id.to_string(),
            "rows": stored.rows,
            "bytes": stored.bytes,
            "upload": format!("upload/{}", stored.id),
        });
        info!(
            tenant = %caller.tenant,
            dataset = %created.dataset,
            rows = stored.rows,
            bytes = stored.bytes,
            "dataset uploaded"
        );
        Ok(Response::new(one(PutResult {
            app_metadata: metadata.to_string().into_bytes().into(),
        })))
    }

    async fn do_exchange(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        Err(Status::unimplemented(
            "DoExchange is not offered: upload with DoPut and download with DoGet",
        ))
    }

    #[instrument(skip_all)]
    async fn do_action(
        &self,
        request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        let caller = caller(&request)?;
        let action = request.get_ref();
        // Members fetching objects they lack (no shared store): see `gateway::peers`.
        if let Some(answer) =
            crate::gateway::peers::object_action(self.gateway.storage(), &caller, action).await
        {
            let chunks = answer?;
            return Ok(Response::new(Box::pin(futures::stream::iter(
                chunks.into_iter().map(Ok),
            ))));
        }
        if action.r#type != RELEASE_GENERATION {
            return Err(status::invalid(
                "action",
                format!(
                    "unknown action {:?}; the only action is {RELEASE_GENERATION:?}",
                    action.r#type
                ),
            ));
        }
        caller.require(Need::Admin, "releasing a generation")?;
        let text = std::str::from_utf8(&action.body)
            .map_err(|_| status::invalid("body", "send the generation id as UTF-8 text"))?;
        let id = parse_id::<mirage_core::GenerationId>("body", text)?;
        self.gateway.generation_for(&caller, id).await?;
        self.gateway
            .apply(Command::ReleaseGeneration { generation: id })
            .await?;
        info!(tenant = %caller.tenant, generation = %id, subject = caller.subject, "generation released");
        let body = serde_json::json!({ "generation_id": id.to_string(), "released": true });
        Ok(Response::new(one(arrow_flight::Result {
            body: body.to_string().into_bytes().into(),
        })))
    }

    async fn list_actions(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        Ok(Response::new(one(ActionType {
            r#type: RELEASE_GENERATION.to_owned(),
            description: "release a generation whose quality gate failed (admins); body: the \
                          generation id"
                .to_owned(),
        })))
    }
}
