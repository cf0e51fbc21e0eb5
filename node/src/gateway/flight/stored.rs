//! Reading a stored table (Parquet, or the CSV some generate jobs write) for Flight. A
//! local store's files are read in place; other stores' objects are downloaded to a
//! scratch copy first (in bounded memory). Parquet is decoded [`BATCH_ROWS`] rows at a
//! time, so a table of any size streams in bounded memory; CSV generations are read
//! whole (they are the small, human-sized outputs). Every function here blocks: call
//! them from `spawn_blocking`.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::parquet_to_arrow_schema;
use parquet::file::metadata::ParquetMetaDataReader;
use tonic::Status;

use crate::gateway::status;
use crate::jobs::ObjectStorage;

/// Rows per streamed batch.
pub const BATCH_ROWS: usize = 64 * 1024;

/// A Parquet footer's fixed tail: metadata length (4 bytes) and magic (4 bytes).
const FOOTER_TAIL: u64 = 8;

/// What is known about a stored table without reading its rows.
#[derive(Debug, Clone)]
pub struct Described {
    /// Its Arrow schema.
    pub schema: SchemaRef,
    /// Its row count.
    pub rows: u64,
    /// The stored object's size.
    pub bytes: u64,
}

/// The batches of a stored table, in order.
pub struct StoredRows {
    /// The batches' schema.
    pub schema: SchemaRef,
    batches: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>,
    /// Keeps a downloaded copy until the rows are read.
    _copy: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for StoredRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredRows")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl Iterator for StoredRows {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.batches.next()
    }
}

fn is_csv(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.ends_with(".csv") || key.ends_with(".csv.gz")
}

fn storage_error(key: &str, error: impl std::fmt::Display) -> Status {
    status::error(
        mirage_proto::v1::ErrorCode::Unavailable,
        format!("cannot read {key} from the object store, retry shortly: {error}"),
    )
}

fn corrupt(key: &str, error: impl std::fmt::Display) -> Status {
    status::internal(format!(
        "the stored table {key} cannot be read: {error}; report this to the operators"
    ))
}

/// The local path of `key`: the file itself for a local store, else a downloaded copy
/// in a temporary directory under `scratch` (removed when the returned guard drops).
fn local_copy(
    storage: &ObjectStorage,
    key: &str,
    scratch: &Path,
) -> Result<(PathBuf, Option<tempfile::TempDir>), Status> {
    if let Some(file) = storage.local_file(key) {
        return Ok((file, None));
    }
    std::fs::create_dir_all(scratch)
        .map_err(|e| status::internal(format!("cannot create scratch space: {e}")))?;
    let dir = tempfile::Builder::new()
        .prefix("mirage-flight-get")
        .tempdir_in(scratch)
        .map_err(|e| status::internal(format!("cannot create scratch space: {e}")))?;
    let name = Path::new(key)
        .file_name()
        .map_or_else(|| "data".into(), |n| n.to_os_string());
    let file = dir.path().join(name);
    storage
        .get_file(key, &file)
        .map_err(|e| storage_error(key, e))?;
    Ok((file, Some(dir)))
}

/// Opens the table stored under `key` for reading batch by batch.
pub fn open(storage: &ObjectStorage, key: &str, scratch: &Path) -> Result<StoredRows, Status> {
    let (path, copy) = local_copy(storage, key, scratch)?;
    if is_csv(key) {
        let table = mirage_data::read_table(&path, &mirage_data::ReadOptions::default())
            .map_err(|e| corrupt(key, e))?;
        let (schema, batches) = table.into_parts();
        return Ok(StoredRows {
            schema: schema.arrow_schema(),
            batches: Box::new(batches.into_iter().map(Ok)),
            _copy: copy,
        });
    }
    let file = File::open(&path).map_err(|e| storage_error(key, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|builder| builder.with_batch_size(BATCH_ROWS).build())
        .map_err(|e| corrupt(key, e))?;
    Ok(StoredRows {
        schema: arrow::array::RecordBatchReader::schema(&reader),
        batches: Box::new(reader),
        _copy: copy,
    })
}

/// The schema, rows and size of the table under `key`, `None` when nothing is stored
/// there. Parquet is described from its footer alone (two range reads).
pub fn describe(
    storage: &ObjectStorage,
    key: &str,
    scratch: &Path,
) -> Result<Option<Described>, Status> {
    let Some(bytes) = storage.size(key).map_err(|e| storage_error(key, e))? else {
        return Ok(None);
    };
    if is_csv(key) {
        let mut rows = open(storage, key, scratch)?;
        let schema = rows.schema.clone();
        let mut count = 0u64;
        for batch in &mut rows {
            count += batch.map_err(|e| corrupt(key, e))?.num_rows() as u64;
        }
        return Ok(Some(Described {
            schema,
            rows: count,
            bytes,
        }));
    }
    if bytes < FOOTER_TAIL {
        return Err(corrupt(key, "it is too short to be Parquet"));
    }
    let tail = storage
        .get_range(key, bytes - FOOTER_TAIL..bytes)
        .map_err(|e| storage_error(key, e))?;
    let (length, magic) = tail.split_at(4);
    if magic != b"PAR1" {
        return Err(corrupt(key, "it does not end with the Parquet magic"));
    }
    let length = u64::from(u32::from_le_bytes([
        length[0], length[1], length[2], length[3],
    ]));
    if length + FOOTER_TAIL > bytes {
        return Err(corrupt(key, "its footer length exceeds the file"));
    }
    let footer = storage
        .get_range(key, bytes - FOOTER_TAIL - length..bytes - FOOTER_TAIL)
        .map_err(|e| storage_error(key, e))?;
    let metadata = ParquetMetaDataReader::decode_metadata(&footer).map_err(|e| corrupt(key, e))?;
    let file = metadata.file_metadata();
    let schema = parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
        .map_err(|e| corrupt(key, e))?;
    Ok(Some(Described {
        schema: std::sync::Arc::new(schema),
        rows: u64::try_from(file.num_rows()).unwrap_or(0),
        bytes,
    }))
}
