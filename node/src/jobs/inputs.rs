//! Finding a job's input table: an object key in the store, or a file on this node.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mirage_core::Table;
use mirage_data::ReadOptions;

use super::JobEnv;

/// Where an input named in a payload lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputLocation {
    /// A file on this node.
    Local(PathBuf),
    /// An object key in the store.
    Object(String),
}

/// Makes the input `value` of payload field `field` available as a local file and returns
/// its path: `file://…`, an absolute path or one starting with `./` or `../` is a local
/// file; anything else is an object key (downloaded into the scratch directory), or,
/// when no object has that key, a local file relative to the node's working directory.
pub fn fetch(env: &JobEnv<'_>, field: &str, value: &str) -> anyhow::Result<PathBuf> {
    let kind = env.kind_name();
    let location = locate(env, field, value)?;
    match location {
        InputLocation::Local(path) => {
            if !env.local_paths {
                bail!(
                    "{kind} payload: field `{field}`: {value:?} is a local path, and this node reads inputs from object storage only; store it in {} first",
                    env.storage.url()
                );
            }
            if !path.is_file() {
                bail!(
                    "{kind} payload: field `{field}`: file {} does not exist",
                    path.display()
                );
            }
            Ok(path)
        }
        InputLocation::Object(key) => {
            let name = key.rsplit('/').find(|s| !s.is_empty()).unwrap_or("input");
            let target = env.scratch.join("inputs").join(field).join(name);
            env.storage.get_file(&key, &target).with_context(|| {
                format!("{kind} payload: field `{field}`: cannot fetch {key:?}")
            })?;
            Ok(target)
        }
    }
}

fn locate(env: &JobEnv<'_>, field: &str, value: &str) -> anyhow::Result<InputLocation> {
    let kind = env.kind_name();
    if value.trim().is_empty() {
        bail!("{kind} payload: field `{field}`: must name an object key or a file");
    }
    if let Some(path) = value.strip_prefix("file://") {
        return Ok(InputLocation::Local(PathBuf::from(path)));
    }
    let path = Path::new(value);
    if path.is_absolute() || value.starts_with("./") || value.starts_with("../") {
        return Ok(InputLocation::Local(path.to_path_buf()));
    }
    let stored = env
        .storage
        .exists(value)
        .with_context(|| format!("{kind} payload: field `{field}`"))?;
    if stored || !env.local_paths || !path.exists() {
        if !stored {
            bail!(
                "{kind} payload: field `{field}`: nothing is stored under {value:?} in {}{}",
                env.storage.url(),
                if env.local_paths {
                    " and there is no such local file"
                } else {
                    ""
                }
            );
        }
        return Ok(InputLocation::Object(value.to_string()));
    }
    Ok(InputLocation::Local(path.to_path_buf()))
}

/// Reads a table with the default options.
pub fn read(path: &Path, field: &str) -> anyhow::Result<Table> {
    mirage_data::read_table(path, &ReadOptions::default())
        .with_context(|| format!("reading the `{field}` table {}", path.display()))
}
