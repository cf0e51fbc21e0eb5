//! Request ids: every public call gets one (the caller's `x-request-id`, or a new one),
//! which rides along in `tracing` spans on this node and in the metadata of the internal
//! calls the request causes on other nodes (a write forwarded to the leader), so one
//! request can be followed across the cluster's logs.

/// The metadata key carrying a request id.
pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    /// The id of the public request this task works for.
    pub static REQUEST_ID: String;
}

/// The id of the request the current task works for, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The request id in `metadata`, if it is a sane one (printable, at most 128 bytes).
pub fn from_metadata(metadata: &tonic::metadata::MetadataMap) -> Option<String> {
    let id = metadata.get(HEADER)?.to_str().ok()?.trim();
    let sane = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic());
    sane.then(|| id.to_owned())
}

/// Puts the current request id (if any) into `metadata`, for a call to another node.
pub fn attach(metadata: &mut tonic::metadata::MetadataMap) {
    if let Some(value) = current().and_then(|id| id.parse().ok()) {
        metadata.insert(HEADER, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_id_travels_with_the_task_and_into_metadata() {
        assert_eq!(current(), None);
        let mut metadata = tonic::metadata::MetadataMap::new();
        REQUEST_ID
            .scope("req-42".to_owned(), async {
                assert_eq!(current().as_deref(), Some("req-42"));
                attach(&mut metadata);
            })
            .await;
        assert_eq!(from_metadata(&metadata).as_deref(), Some("req-42"));
        let mut odd = tonic::metadata::MetadataMap::new();
        odd.insert(HEADER, "has space".parse().expect("ascii"));
        assert_eq!(from_metadata(&odd), None);
    }
}
