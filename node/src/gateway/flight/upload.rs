//! DoPut's data path: checks an uploaded schema, then streams the batches into a Parquet
//! file on a blocking thread (a bounded channel between the two keeps at most a few
//! batches in memory) and stores it under `uploads/<uuid>/data.parquet`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Schema, SchemaRef};
use futures::{Stream, StreamExt};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use tokio::sync::mpsc;
use tonic::Status;

use crate::gateway::status;
use crate::jobs::ObjectStorage;

/// Batches buffered between the network and the Parquet writer.
const BATCHES_IN_FLIGHT: usize = 4;

/// Rows per Parquet row group of an upload.
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// An upload, stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    /// Its id (`uploads/<id>/`).
    pub id: uuid::Uuid,
    /// The object key of its Parquet file.
    pub key: String,
    /// Rows received.
    pub rows: u64,
    /// Size of the stored Parquet file.
    pub bytes: u64,
}

/// Whether Mirage's Parquet reader can hold a column of `data_type` (what
/// `mirage_data::read_table` accepts).
fn supported(data_type: &DataType) -> bool {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..)
        | DataType::Boolean
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Timestamp(..)
        | DataType::Date32
        | DataType::Date64 => true,
        DataType::Dictionary(_, values) => supported(values),
        _ => false,
    }
}

/// Checks an uploaded schema: at least one column, unique non-empty names, types Mirage
/// can hold.
pub fn check_schema(schema: &Schema) -> Result<(), Status> {
    if schema.fields().is_empty() {
        return Err(status::invalid(
            "schema",
            "the upload has no columns; send at least one",
        ));
    }
    let mut seen = HashSet::new();
    for (index, field) in schema.fields().iter().enumerate() {
        let name = field.name();
        if name.trim().is_empty() {
            return Err(status::invalid(
                "schema",
                format!("column {} has no name; name every column", index + 1),
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(status::invalid(
                "schema",
                format!("column name {name:?} appears twice; column names must be unique"),
            ));
        }
        if !supported(field.data_type()) {
            return Err(status::invalid(
                "schema",
                format!(
                    "column {name:?} has type {}, which Mirage cannot store; send integers, \
                     floats, decimals, booleans, strings, dates or timestamps (flatten nested \
                     columns first)",
                    field.data_type()
                ),
            ));
        }
    }
    Ok(())
}

/// The writer properties of uploads: no compression and no dictionaries (the ingest job
/// rewrites the table compressed; the upload is a short-lived staging file, so encode
/// speed wins).
fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build()
}

/// What the async side sends the writer thread.
enum Message {
    Batch(RecordBatch),
    /// Every batch arrived: store the file.
    Finish,
}

/// Writes batches into `file` until [`Message::Finish`], then stores it under `key`.
/// A closed channel without `Finish` means the upload failed: nothing is stored.
fn write_and_store(
    storage: &ObjectStorage,
    key: &str,
    file: &Path,
    schema: SchemaRef,
    mut batches: mpsc::Receiver<Message>,
) -> Result<Option<u64>, Status> {
    let failed = |e: &dyn std::fmt::Display| {
        status::internal(format!("cannot write the upload to scratch space: {e}"))
    };
    let out = std::fs::File::create(file).map_err(|e| failed(&e))?;
    let mut writer =
        ArrowWriter::try_new(out, schema, Some(properties())).map_err(|e| failed(&e))?;
    loop {
        match batches.blocking_recv() {
            Some(Message::Batch(batch)) => writer.write(&batch).map_err(|e| failed(&e))?,
            Some(Message::Finish) => break,
            None => return Ok(None),
        }
    }
    writer.close().map_err(|e| failed(&e))?;
    let bytes = std::fs::metadata(file).map_err(|e| failed(&e))?.len();
    storage.put_file_moving(key, file).map_err(|e| {
        status::error(
            mirage_proto::v1::ErrorCode::Unavailable,
            format!("cannot store the upload, retry shortly: {e}"),
        )
    })?;
    Ok(Some(bytes))
}

/// Receives the upload's batches and stores them as Parquet. Refuses an empty upload,
/// an unsupported schema and batches whose schema differs from the first one's.
pub async fn store_upload<S>(
    storage: ObjectStorage,
    scratch: PathBuf,
    mut batches: S,
) -> Result<StoredUpload, Status>
where
    S: Stream<Item = Result<RecordBatch, Status>> + Unpin,
{
    let Some(first) = batches.next().await.transpose()? else {
        return Err(status::invalid(
            "upload",
            "the stream holds no record batches; send the schema and at least one batch",
        ));
    };
    let schema = first.schema();
    check_schema(&schema)?;
    let id = uuid::Uuid::new_v4();
    let key = format!("uploads/{id}/data.parquet");
    std::fs::create_dir_all(&scratch)
        .map_err(|e| status::internal(format!("cannot create scratch space: {e}")))?;
    let dir = tempfile::Builder::new()
        .prefix("mirage-flight-put")
        .tempdir_in(&scratch)
        .map_err(|e| status::internal(format!("cannot create scratch space: {e}")))?;
    let file = dir.path().join("data.parquet");
    let (sender, receiver) = mpsc::channel(BATCHES_IN_FLIGHT);
    let writer = {
        let (storage, key, schema) = (storage.clone(), key.clone(), schema.clone());
        tokio::task::spawn_blocking(move || {
            write_and_store(&storage, &key, &file, schema, receiver)
        })
    };
    let mut rows = 0u64;
    let mut next = Some(first);
    let received: Result<(), Status> = async {
        while let Some(batch) = next.take() {
            if batch.schema().fields() != schema.fields() {
                return Err(status::invalid(
                    "upload",
                    format!(
                        "batch after row {rows} has a different schema than the first batch; \
                         send every batch with one schema"
                    ),
                ));
            }
            rows += batch.num_rows() as u64;
            if sender.send(Message::Batch(batch)).await.is_err() {
                // The writer stopped: its own error is reported below.
                return Ok(());
            }
            next = batches.next().await.transpose()?;
        }
        let _ = sender.send(Message::Finish).await;
        Ok(())
    }
    .await;
    drop(sender);
    let written = writer
        .await
        .map_err(|e| status::internal(format!("the upload writer failed: {e}")))?;
    received?;
    let bytes = written?.ok_or_else(|| status::internal("the upload writer stopped early"))?;
    drop(dir);
    tracing::info!(upload = %id, key, rows, bytes, "upload stored");
    Ok(StoredUpload {
        id,
        key,
        rows,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;

    #[test]
    fn schemas_mirage_cannot_store_are_refused_by_column() {
        let ok = Schema::new(vec![
            Field::new("age", DataType::Int32, true),
            Field::new("name", DataType::Utf8, true),
        ]);
        assert!(check_schema(&ok).is_ok());
        let cases = [
            (Schema::empty(), "no columns"),
            (
                Schema::new(vec![Field::new("", DataType::Int64, true)]),
                "column 1 has no name",
            ),
            (
                Schema::new(vec![
                    Field::new("a", DataType::Int64, true),
                    Field::new("a", DataType::Utf8, true),
                ]),
                "\"a\" appears twice",
            ),
            (
                Schema::new(vec![Field::new(
                    "tags",
                    DataType::List(std::sync::Arc::new(Field::new(
                        "item",
                        DataType::Utf8,
                        true,
                    ))),
                    true,
                )]),
                "column \"tags\" has type",
            ),
        ];
        for (schema, expected) in cases {
            let refused = check_schema(&schema).expect_err(expected);
            assert_eq!(refused.code(), tonic::Code::InvalidArgument);
            assert!(
                refused.message().contains(expected),
                "{}",
                refused.message()
            );
        }
    }
}
