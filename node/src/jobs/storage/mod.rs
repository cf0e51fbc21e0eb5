//! Object storage shared by the nodes: datasets, checkpoints, models, generations and
//! reports live here, so a job re-run on another node finds everything an earlier attempt
//! wrote.
//!
//! [`ObjectStorage`] wraps an [`ObjectStore`] (a local directory for `file://`, Amazon S3
//! or any S3-compatible server for `s3://`) with blocking helpers for the job runners,
//! which run on blocking threads: each call drives the async store through the node's
//! tokio runtime with [`Handle::block_on`]. Never call them from an async task.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::runtime::Handle;
use tracing::debug;

/// Objects up to this size are moved in one request; larger ones in parts of
/// [`PART_BYTES`], so memory stays bounded whatever the file's size.
const SINGLE_REQUEST_BYTES: u64 = 16 * 1024 * 1024;
/// The size of one part of a large upload or download.
const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts of one upload in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

/// What went wrong with the object store; every message names the store and the key or
/// file concerned.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The store URL cannot be used.
    #[error("object store {url:?}: {message}")]
    InvalidUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong and how to write it.
        message: String,
    },
    /// The store could not be opened.
    #[error("object store {url}: cannot open it: {message}")]
    Open {
        /// The store.
        url: String,
        /// Why.
        message: String,
    },
    /// A key is not a valid object name.
    #[error("object key {key:?} is not valid: {message}")]
    InvalidKey {
        /// The key.
        key: String,
        /// Why.
        message: String,
    },
    /// Nothing is stored under the key.
    #[error("object store {url}: nothing is stored under {key:?}")]
    NotFound {
        /// The store.
        url: String,
        /// The key.
        key: String,
    },
    /// The store refused or failed a request.
    #[error("object store {url}: {key}: {message}")]
    Store {
        /// The store.
        url: String,
        /// The key.
        key: String,
        /// The store's error.
        message: String,
    },
    /// A local file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`cannot read`, `cannot write`, …).
        action: &'static str,
        /// The local file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Results of storage calls.
pub type StorageResult<T> = std::result::Result<T, StorageError>;

/// Where a store URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A local directory (`file:///abs/dir`, or `file://rel/dir` relative to the working
    /// directory).
    Local(PathBuf),
    /// An S3 bucket, with every key under `prefix` (empty = the bucket's root).
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix, without leading or trailing `/`.
        prefix: String,
    },
}

impl StoreLocation {
    /// Parses `file:///dir` or `s3://bucket/prefix`.
    pub fn parse(url: &str) -> StorageResult<Self> {
        let invalid = |message: &str| StorageError::InvalidUrl {
            url: url.to_string(),
            message: message.to_string(),
        };
        if let Some(rest) = url.strip_prefix("file://") {
            if rest.is_empty() {
                return Err(invalid(
                    "names no directory; write file:///absolute/directory",
                ));
            }
            return Ok(StoreLocation::Local(PathBuf::from(rest)));
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("names no bucket; write s3://<bucket>/<prefix>"));
            }
            if bucket
                .chars()
                .any(|c| c.is_whitespace() || "?#\\".contains(c))
            {
                return Err(invalid(&format!(
                    "bucket {bucket:?} is not a valid bucket name; write s3://<bucket>/<prefix>"
                )));
            }
            let prefix = prefix.trim_matches('/').to_string();
            if !prefix.is_empty() {
                ObjectPath::parse(&prefix)
                    .map_err(|e| invalid(&format!("prefix {prefix:?} is not valid: {e}")))?;
            }
            return Ok(StoreLocation::S3 {
                bucket: bucket.to_string(),
                prefix,
            });
        }
        Err(invalid(
            "unsupported scheme; use file:///<directory> or s3://<bucket>/<prefix>",
        ))
    }
}

/// Where a node finds objects its own store lacks: the other members, when every node
/// keeps its objects to itself (no shared store). Calls block; they run on the blocking
/// threads the storage helpers run on.
pub trait RemoteObjects: Send + Sync {
    /// The bytes of the object `key` on some other member, or `None` if none has it.
    fn fetch(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// The keys under `prefix` on the other members (their union).
    fn list(&self, prefix: &str) -> Result<Vec<String>, String>;
}

/// The object store of the cluster, with blocking helpers (see the module docs).
#[derive(Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    url: String,
    runtime: Handle,
    remote: Option<Arc<dyn RemoteObjects>>,
}

impl std::fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl ObjectStorage {
    /// Opens the store at `url` (`file:///dir`, created when missing, or
    /// `s3://bucket/prefix`, configured from the standard `AWS_*` environment variables:
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, and `AWS_ENDPOINT` with
    /// `AWS_ALLOW_HTTP=true` for an S3-compatible server). Requests run on `runtime`.
    pub fn open(url: &str, runtime: Handle) -> StorageResult<Self> {
        let open_error = |message: String| StorageError::Open {
            url: url.to_string(),
            message,
        };
        let store: Arc<dyn ObjectStore> = match StoreLocation::parse(url)? {
            StoreLocation::Local(dir) => {
                std::fs::create_dir_all(&dir).map_err(|source| StorageError::Io {
                    action: "cannot create the object store directory",
                    path: dir.clone(),
                    source,
                })?;
                let local = LocalFileSystem::new_with_prefix(&dir)
                    .map_err(|e| open_error(e.to_string()))?;
                Arc::new(local)
            }
            StoreLocation::S3 { bucket, prefix } => {
                let s3 = AmazonS3Builder::from_env()
                    .with_bucket_name(&bucket)
                    .build()
                    .map_err(|e| open_error(e.to_string()))?;
                if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    let prefix =
                        ObjectPath::parse(&prefix).map_err(|e| open_error(e.to_string()))?;
                    Arc::new(PrefixStore::new(s3, prefix))
                }
            }
        };
        debug!(url, "object store opened");
        Ok(Self {
            store,
            url: url.to_string(),
            runtime,
            remote: None,
        })
    }

    /// Fetches objects this store lacks from `remote` (and keeps a copy here): for nodes
    /// that do not share one object store.
    pub fn with_remote(mut self, remote: Arc<dyn RemoteObjects>) -> Self {
        self.remote = Some(remote);
        self
    }

    /// Copies `key` from the other members into this store; whether one had it.
    fn pull(&self, key: &str) -> StorageResult<bool> {
        let Some(remote) = &self.remote else {
            return Ok(false);
        };
        let fetched = remote.fetch(key).map_err(|message| StorageError::Store {
            url: self.url.clone(),
            key: key.to_string(),
            message: format!("fetching it from another node failed: {message}"),
        })?;
        match fetched {
            Some(bytes) => {
                let size = bytes.len();
                self.put_bytes(key, bytes)?;
                debug!(key, size, "object pulled from another node");
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Runs `read`; when the object is missing here and another member has it, copies
    /// it here and runs `read` again.
    fn or_pulled<T>(&self, key: &str, read: impl Fn() -> StorageResult<T>) -> StorageResult<T> {
        match read() {
            Err(StorageError::NotFound { .. }) if self.remote.is_some() && self.pull(key)? => {
                read()
            }
            other => other,
        }
    }

    /// The store's URL, as configured.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(key: &str) -> StorageResult<ObjectPath> {
        let invalid = |message: String| StorageError::InvalidKey {
            key: key.to_string(),
            message,
        };
        let trimmed = key.trim_matches('/');
        if trimmed.is_empty() {
            return Err(invalid("it is empty".into()));
        }
        ObjectPath::parse(trimmed).map_err(|e| invalid(e.to_string()))
    }

    fn store_error(&self, key: &str, error: object_store::Error) -> StorageError {
        match error {
            object_store::Error::NotFound { .. } => StorageError::NotFound {
                url: self.url.clone(),
                key: key.to_string(),
            },
            other => StorageError::Store {
                url: self.url.clone(),
                key: key.to_string(),
                message: other.to_string(),
            },
        }
    }

    /// Stores `bytes` under `key` (replacing what was there).
    pub fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> StorageResult<()> {
        let path = Self::path(key)?;
        let size = bytes.len();
        self.runtime
            .block_on(self.store.put(&path, PutPayload::from(bytes)))
            .map_err(|e| self.store_error(key, e))?;
        debug!(key, size, "object stored");
        Ok(())
    }

    /// The bytes stored under `key`.
    pub fn get_bytes(&self, key: &str) -> StorageResult<Vec<u8>> {
        self.or_pulled(key, || self.get_bytes_here(key))
    }

    /// The bytes stored under `key` in this store only (never asking other members).
    pub fn get_bytes_here(&self, key: &str) -> StorageResult<Vec<u8>> {
        let path = Self::path(key)?;
        let bytes = self.runtime.block_on(async {
            let result = self.store.get(&path).await?;
            result.bytes().await
        });
        Ok(bytes.map_err(|e| self.store_error(key, e))?.to_vec())
    }

    /// Whether an object is stored under `key` exactly (here, or — pulled here — on
    /// another member).
    pub fn exists(&self, key: &str) -> StorageResult<bool> {
        let path = Self::path(key)?;
        match self.runtime.block_on(self.store.head(&path)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => self.pull(key),
            Err(e) => Err(self.store_error(key, e)),
        }
    }

    /// The size of the object under `key`, `None` when nothing is stored there.
    pub fn size(&self, key: &str) -> StorageResult<Option<u64>> {
        let path = Self::path(key)?;
        let head = |store: &Self| match store.runtime.block_on(store.store.head(&path)) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store.store_error(key, e)),
        };
        match head(self)? {
            // Missing here: another member may have it (then it is copied here).
            None if self.pull(key)? => head(self),
            found => Ok(found),
        }
    }

    /// The bytes `range` of the object under `key` (a Parquet footer, a part).
    pub fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> StorageResult<Vec<u8>> {
        let path = Self::path(key)?;
        let bytes = self
            .runtime
            .block_on(self.store.get_range(&path, range))
            .map_err(|e| self.store_error(key, e))?;
        Ok(bytes.to_vec())
    }

    /// The local file holding the object under `key` when the store is a local
    /// directory (readers then open it in place instead of downloading a copy).
    pub fn local_file(&self, key: &str) -> Option<PathBuf> {
        let StoreLocation::Local(dir) = StoreLocation::parse(&self.url).ok()? else {
            return None;
        };
        let path = Self::path(key).ok()?;
        let mut file = dir;
        for part in path.parts() {
            file.push(part.as_ref());
        }
        Some(file)
    }

    /// Stores the local file `file` under `key` and removes `file`: a local store on the
    /// same file system takes it by renaming (no copy), any other store by upload.
    pub fn put_file_moving(&self, key: &str, file: &Path) -> StorageResult<()> {
        if let Some(target) = self.local_file(key) {
            let io = |source| StorageError::Io {
                action: "cannot move into the store",
                path: target.clone(),
                source,
            };
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            if std::fs::rename(file, &target).is_ok() {
                debug!(key, "object stored by rename");
                return Ok(());
            }
        }
        self.put_file(key, file)?;
        let _ = std::fs::remove_file(file);
        Ok(())
    }

    /// Stores the local file `file` under `key`, in parts when it is large.
    pub fn put_file(&self, key: &str, file: &Path) -> StorageResult<()> {
        let path = Self::path(key)?;
        let io = |action: &'static str| {
            move |source| StorageError::Io {
                action,
                path: file.to_path_buf(),
                source,
            }
        };
        let size = std::fs::metadata(file).map_err(io("cannot read"))?.len();
        if size <= SINGLE_REQUEST_BYTES {
            let bytes = std::fs::read(file).map_err(io("cannot read"))?;
            return self.put_bytes(key, bytes);
        }
        let mut reader = File::open(file).map_err(io("cannot read"))?;
        let uploaded: StorageResult<()> = self.runtime.block_on(async {
            let upload = self
                .store
                .put_multipart(&path)
                .await
                .map_err(|e| self.store_error(key, e))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
            let mut buffer = vec![0u8; PART_BYTES];
            loop {
                let read = reader.read(&mut buffer).map_err(io("cannot read"))?;
                if read == 0 {
                    break;
                }
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(|e| self.store_error(key, e))?;
                writer.write(&buffer[..read]);
            }
            writer
                .finish()
                .await
                .map_err(|e| self.store_error(key, e))?;
            Ok(())
        });
        uploaded?;
        debug!(key, size, "large object stored");
        Ok(())
    }

    /// Writes the object under `key` to the local file `file` (through a temporary file
    /// beside it, so a failed download leaves no partial file), in parts when it is large.
    /// Returns its size.
    pub fn get_file(&self, key: &str, file: &Path) -> StorageResult<u64> {
        self.or_pulled(key, || self.get_file_here(key, file))
    }

    fn get_file_here(&self, key: &str, file: &Path) -> StorageResult<u64> {
        let path = Self::path(key)?;
        let io = |action: &'static str, at: &Path| {
            let at = at.to_path_buf();
            move |source| StorageError::Io {
                action,
                path: at,
                source,
            }
        };
        if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
        }
        let staging = partial_path(file);
        let written: StorageResult<u64> = self.runtime.block_on(async {
            let meta = self
                .store
                .head(&path)
                .await
                .map_err(|e| self.store_error(key, e))?;
            let mut out = File::create(&staging).map_err(io("cannot write", &staging))?;
            if meta.size <= SINGLE_REQUEST_BYTES {
                let bytes = async { self.store.get(&path).await?.bytes().await }
                    .await
                    .map_err(|e| self.store_error(key, e))?;
                out.write_all(&bytes)
                    .map_err(io("cannot write", &staging))?;
            } else {
                let mut start = 0u64;
                while start < meta.size {
                    let end = (start + PART_BYTES as u64).min(meta.size);
                    let bytes = self
                        .store
                        .get_range(&path, start..end)
                        .await
                        .map_err(|e| self.store_error(key, e))?;
                    out.write_all(&bytes)
                        .map_err(io("cannot write", &staging))?;
                    start = end;
                }
            }
            out.sync_all().map_err(io("cannot write", &staging))?;
            Ok(meta.size)
        });
        let size = match written {
            Ok(size) => size,
            Err(e) => {
                let _ = std::fs::remove_file(&staging);
                return Err(e);
            }
        };
        std::fs::rename(&staging, file).map_err(io("cannot write", file))?;
        Ok(size)
    }

    /// The keys of every object under `prefix` (a folder: `a/b` lists `a/b/…`, not
    /// `a/bc`), sorted.
    pub fn list(&self, prefix: &str) -> StorageResult<Vec<String>> {
        let root = Self::path(prefix)?;
        let mut keys = Vec::new();
        let mut folders = vec![root];
        while let Some(folder) = folders.pop() {
            let listing = self
                .runtime
                .block_on(self.store.list_with_delimiter(Some(&folder)))
                .map_err(|e| self.store_error(folder.as_ref(), e))?;
            keys.extend(listing.objects.into_iter().map(|o| o.location.to_string()));
            folders.extend(listing.common_prefixes);
        }
        keys.sort();
        Ok(keys)
    }

    /// Removes every object under `prefix`; returns how many were removed.
    pub fn delete_prefix(&self, prefix: &str) -> StorageResult<usize> {
        let keys = self.list(prefix)?;
        for key in &keys {
            let path = Self::path(key)?;
            match self.runtime.block_on(self.store.delete(&path)) {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.store_error(key, e)),
            }
        }
        Ok(keys.len())
    }

    /// Uploads every file under the local directory `dir` to `prefix/<relative path>`, in
    /// name order, with `commit_file` (a file name at the top of `dir`) last when given:
    /// a reader that finds that object knows the rest is complete. Returns the number of
    /// files uploaded.
    pub fn upload_dir(
        &self,
        dir: &Path,
        prefix: &str,
        commit_file: Option<&str>,
    ) -> StorageResult<usize> {
        let base = Self::path(prefix)?;
        let mut files = Vec::new();
        collect_files(dir, dir, &mut files)?;
        files.sort();
        if let Some(last) = commit_file
            && let Some(index) = files.iter().position(|f| f.as_path() == Path::new(last))
        {
            let commit = files.remove(index);
            files.push(commit);
        }
        for relative in &files {
            let mut key = base.to_string();
            for part in relative.components() {
                key.push('/');
                key.push_str(&part.as_os_str().to_string_lossy());
            }
            self.put_file(&key, &dir.join(relative))?;
        }
        debug!(prefix, files = files.len(), dir = %dir.display(), "directory uploaded");
        Ok(files.len())
    }

    /// Downloads every object under `prefix` into the local directory `dir` (keys below
    /// the prefix become relative paths). Fails with [`StorageError::NotFound`] when
    /// nothing is stored under the prefix. Returns the number of files written.
    pub fn download_prefix(&self, prefix: &str, dir: &Path) -> StorageResult<usize> {
        let base = Self::path(prefix)?;
        let mut keys = self.list(prefix)?;
        if keys.is_empty()
            && let Some(remote) = &self.remote
        {
            let found = remote.list(prefix).map_err(|message| StorageError::Store {
                url: self.url.clone(),
                key: prefix.to_string(),
                message: format!("listing it on the other nodes failed: {message}"),
            })?;
            let folder = format!("{}/", prefix.trim_end_matches('/'));
            for key in found.iter().filter(|k| k.starts_with(&folder)) {
                self.pull(key)?;
            }
            keys = self.list(prefix)?;
        }
        if keys.is_empty() {
            return Err(StorageError::NotFound {
                url: self.url.clone(),
                key: prefix.to_string(),
            });
        }
        for key in &keys {
            let location = Self::path(key)?;
            let Some(parts) = location.prefix_match(&base) else {
                continue;
            };
            let mut target = dir.to_path_buf();
            for part in parts {
                let part = part.as_ref();
                // Parts never hold `/`, `.` or `..` (object_store refuses them), so the
                // file stays inside `dir`.
                debug_assert!(part != "." && part != ".." && !part.contains('/'));
                target.push(part);
            }
            self.get_file(key, &target)?;
        }
        debug!(prefix, files = keys.len(), dir = %dir.display(), "prefix downloaded");
        Ok(keys.len())
    }
}

/// `dir/name` → `dir/.name.partial`.
fn partial_path(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(format!(".{name}.partial"))
}

/// The files under `dir`, relative to `root`.
fn collect_files(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> StorageResult<()> {
    let io = |source| StorageError::Io {
        action: "cannot list",
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            collect_files(root, &path, files)?;
        } else if kind.is_file()
            && let Ok(relative) = path.strip_prefix(root)
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        {
            files.push(relative.to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
