//! Identifiers of the objects the cluster keeps.
//!
//! Object ids are random UUIDs, shown with a short prefix (`ds_…`, `mdl_…`) so that a
//! pasted id says what it names. Node ids are small integers, as Raft wants them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

use crate::error::CoreError;

macro_rules! object_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// The prefix shown before the UUID.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            /// The id wrapping a known UUID.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl FromStr for $name {
            type Err = CoreError;

            /// Accepts `prefix_<uuid>` or a bare UUID.
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                let bare = text
                    .strip_prefix(concat!($prefix, "_"))
                    .unwrap_or(text);
                Uuid::parse_str(bare)
                    .map(Self)
                    .map_err(|source| CoreError::InvalidId { kind: stringify!($name), text: text.to_string(), source })
            }
        }

        impl TryFrom<String> for $name {
            type Error = CoreError;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }
    };
}

object_id!(
    /// A dataset registered with the cluster.
    DatasetId,
    "ds"
);
object_id!(
    /// An immutable trained model version.
    ModelId,
    "mdl"
);
object_id!(
    /// A training, generation or quality job.
    JobId,
    "job"
);
object_id!(
    /// One generation (a batch of synthetic rows).
    GenerationId,
    "gen"
);
object_id!(
    /// A quality report.
    ReportId,
    "rpt"
);
object_id!(
    /// A tenant: the owner of datasets, models and budgets.
    TenantId,
    "tnt"
);

/// A cluster member's Raft id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId(pub u64);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node-{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_display_form() {
        let id = DatasetId::new();
        let text = id.to_string();
        assert!(text.starts_with("ds_"));
        let parsed: DatasetId = text.parse().expect("parses");
        assert_eq!(parsed, id);
        let bare: DatasetId = id.as_uuid().to_string().parse().expect("bare uuid parses");
        assert_eq!(bare, id);
    }

    #[test]
    fn a_bad_id_names_its_kind_and_text() {
        let err = "mdl_nope".parse::<ModelId>().expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.contains("ModelId") && msg.contains("mdl_nope"), "{msg}");
    }

    #[test]
    fn ids_serialize_as_strings() {
        let id = JobId::new();
        let json = serde_json::to_string(&id).expect("serializes");
        assert_eq!(json, format!("\"{id}\""));
        let back: JobId = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, id);
    }
}
