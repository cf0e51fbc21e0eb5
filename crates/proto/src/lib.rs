//! Mirage's public gRPC API, generated from `proto/mirage/v1/*.proto` by prost and tonic.
//!
//! Everything lives in [`v1`]: messages (`v1::Dataset`, `v1::Job`, …), enums
//! (`v1::ColumnKind`, stored in messages as `i32`), and per service a client module
//! (`v1::dataset_service_client`, feature `client`) and a server module
//! (`v1::dataset_service_server`, feature `server`). Conversions to and from the domain types
//! live in `mirage_core::convert`.
//!
//! The services: `DatasetService`, `ModelService`, `JobService`, `GenerationService`,
//! `QualityService`, `PrivacyService` and `ClusterService`, and the internal node-to-node
//! `RaftInternal` (Raft RPCs as serde_json payloads, authenticated by the cluster secret).

/// The generated code, kept private so that lint exceptions stay confined to it.
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    clippy::unwrap_used,
    missing_docs,
    missing_debug_implementations,
    unreachable_pub
)]
mod generated {
    /// Package `mirage.v1`.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/mirage.v1.rs"));
    }
}

pub use generated::v1;

#[cfg(test)]
mod tests {
    use super::v1;
    use prost::Message;

    #[test]
    fn a_message_round_trips_through_the_wire_format() {
        let job = v1::Job {
            id: "job_0123456789abcdef0123456789abcdef".into(),
            tenant_id: "tnt_00000000000000000000000000000001".into(),
            kind: v1::JobKind::Train as i32,
            status: v1::JobStatus::Running as i32,
            priority: 3,
            dataset_id: "ds_00000000000000000000000000000002".into(),
            model_id: String::new(),
            node_id: Some(0),
            lease_expires_at_ms: Some(1_700_000_000_000),
            progress: 0.25,
            checkpoint: None,
            result_json: None,
            attempts: 1,
            error: None,
            created_at_ms: 1_699_999_999_000,
        };
        let bytes = job.encode_to_vec();
        let back = v1::Job::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(back, job);
        // proto3 `optional` keeps presence: a zero node id is not the same as none.
        assert_eq!(back.node_id, Some(0));
    }

    #[test]
    fn oneofs_and_maps_survive_the_wire_format() {
        let condition = v1::Condition {
            column: "hours".into(),
            op: Some(v1::condition::Op::Between(v1::ValueRange {
                lower: Some(v1::Value {
                    kind: Some(v1::value::Kind::IntValue(20)),
                }),
                upper: Some(v1::Value {
                    kind: Some(v1::value::Kind::FloatValue(40.5)),
                }),
            })),
        };
        let back = v1::Condition::decode(condition.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(back, condition);

        let mut event = v1::ProgressEvent {
            job_id: "job_0123456789abcdef0123456789abcdef".into(),
            status: v1::JobStatus::Running as i32,
            epoch: 2,
            ..Default::default()
        };
        event.losses.insert("generator".into(), 0.5);
        event.losses.insert("discriminator".into(), -1.25);
        let back = v1::ProgressEvent::decode(event.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(back, event);
    }

    #[test]
    fn unknown_enum_values_are_kept_and_refused_by_try_from() {
        let column = v1::ColumnSchema {
            name: "age".into(),
            kind: 99,
            ..Default::default()
        };
        let back = v1::ColumnSchema::decode(column.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(back.kind, 99);
        assert!(v1::ColumnKind::try_from(back.kind).is_err());
    }
}
