//! The payloads that cross nodes inside cluster messages, encoded as JSON.
//!
//! `ractor_cluster` asks a payload to encode itself into bytes and decode itself back
//! ([`BytesConvertable`]), with no way to report a decoding error but a panic. Its derived
//! message decoder catches that panic and drops the message, so a payload a node cannot
//! read (a newer peer's, say) is lost like a dropped packet: the Raft state stays the
//! source of truth, and an unstarted job's lease simply expires.

use ractor::BytesConvertable;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::events::RuntimeEvent;
use crate::state::{Job, LeaseClaim};

/// A job, as [`super::NodeMsg::StartJob`] carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPayload(pub Box<Job>);

impl JobPayload {
    /// Wraps `job`.
    pub fn new(job: Job) -> Self {
        Self(Box::new(job))
    }

    /// The job.
    pub fn into_job(self) -> Job {
        *self.0
    }
}

impl BytesConvertable for JobPayload {
    fn into_bytes(self) -> Vec<u8> {
        encode(&*self.0, "job")
    }

    fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(Box::new(decode(&bytes, "job")))
    }
}

/// The leases a node's workers hold, the answer to [`super::NodeMsg::Running`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaseClaims(pub Vec<LeaseClaim>);

impl BytesConvertable for LeaseClaims {
    fn into_bytes(self) -> Vec<u8> {
        encode(&self.0, "lease claims")
    }

    fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(decode(&bytes, "lease claims"))
    }
}

/// A runtime event relayed to the scheduler ([`super::ClusterMsg::Event`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EventPayload(pub RuntimeEvent);

impl BytesConvertable for EventPayload {
    fn into_bytes(self) -> Vec<u8> {
        encode(&self.0, "runtime event")
    }

    fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(decode(&bytes, "runtime event"))
    }
}

/// JSON for `value`. Panics only for a type serde_json cannot represent, which the types
/// above are not (the round-trip tests check them).
fn encode<T: Serialize>(value: &T, what: &str) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|err| panic!("cannot encode the {what}: {err}"))
}

/// `T` from JSON; panics on bytes that are not one (caught by the message decoder, which
/// then drops the message).
fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> T {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|err| panic!("cannot decode the {what} a peer sent: {err}"))
}
