//! Mirage's shared vocabulary.
//!
//! Every other crate speaks in these types: [`Schema`] and [`ColumnKind`] describe a table,
//! [`Table`] carries its rows as Arrow batches, [`DatasetProfile`] its statistics,
//! [`Condition`] a constraint on generated rows, and the records in [`records`] the
//! datasets, models, jobs, generations and budgets that the cluster keeps. [`ErrorCode`] is
//! the stable code every API error maps to.
//!
//! [`convert`] maps all of these to and from the public API's protobuf messages.

pub mod condition;
pub mod config;
pub mod convert;
pub mod error;
pub mod ids;
pub mod pii;
pub mod profile;
pub mod rebalance;
pub mod records;
pub mod schema;
pub mod table;
pub mod value;

pub use condition::{Condition, ConditionOp};
pub use error::{CoreError, ErrorCode, Result};
pub use ids::{DatasetId, GenerationId, JobId, ModelId, NodeId, ReportId, TenantId};
pub use pii::{PiiFinding, PiiKind, PiiPolicy};
pub use profile::{ColumnProfile, DatasetProfile, HistogramBin, TopValue};
pub use rebalance::{ClassShare, Rebalance};
pub use schema::{ColumnKind, ColumnSchema, ForeignKey, Schema};
pub use table::Table;
pub use value::Value;
