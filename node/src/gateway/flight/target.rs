//! What a Flight request points at: a dataset or a generation, named by a ticket
//! (`dataset/<id>`, `generation/<id>`) or a descriptor path (`["datasets", <id>]`,
//! `["generations", <id>]`).

use arrow_flight::{FlightDescriptor, Ticket, flight_descriptor::DescriptorType};
use mirage_core::{DatasetId, GenerationId};
use tonic::Status;

use crate::gateway::{access::parse_id, status};

/// The ticket forms DoGet accepts, for error messages.
pub const TICKET_FORMS: &str = "dataset/<dataset id> or generation/<generation id>";

/// The descriptor paths GetFlightInfo and GetSchema accept, for error messages.
pub const PATH_FORMS: &str =
    "a path descriptor [\"datasets\", <dataset id>] or [\"generations\", <generation id>]";

/// A dataset or a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlightTarget {
    /// A dataset's stored rows.
    Dataset(DatasetId),
    /// A generation's stored rows.
    Generation(GenerationId),
}

impl FlightTarget {
    /// Parses a DoGet ticket.
    pub fn from_ticket(ticket: &Ticket) -> Result<Self, Status> {
        let text = std::str::from_utf8(&ticket.ticket)
            .map_err(|_| status::invalid("ticket", format!("is not UTF-8; use {TICKET_FORMS}")))?;
        match text.split_once('/') {
            Some(("dataset", id)) => Ok(Self::Dataset(parse_id("ticket", id)?)),
            Some(("generation", id)) => Ok(Self::Generation(parse_id("ticket", id)?)),
            _ => Err(status::invalid(
                "ticket",
                format!("{text:?} is not a ticket this node issues; use {TICKET_FORMS}"),
            )),
        }
    }

    /// Parses a descriptor of GetFlightInfo or GetSchema.
    pub fn from_descriptor(descriptor: &FlightDescriptor) -> Result<Self, Status> {
        let path = descriptor_path(descriptor, PATH_FORMS)?;
        match path {
            [kind, id] if kind == "datasets" => Ok(Self::Dataset(parse_id("descriptor", id)?)),
            [kind, id] if kind == "generations" => {
                Ok(Self::Generation(parse_id("descriptor", id)?))
            }
            _ => Err(status::invalid(
                "descriptor",
                format!("path {path:?} names nothing here; send {PATH_FORMS}"),
            )),
        }
    }

    /// The DoGet ticket of this target.
    pub fn ticket(&self) -> Ticket {
        Ticket::new(match self {
            Self::Dataset(id) => format!("dataset/{id}"),
            Self::Generation(id) => format!("generation/{id}"),
        })
    }

    /// The descriptor naming this target.
    pub fn descriptor(&self) -> FlightDescriptor {
        let (kind, id) = match self {
            Self::Dataset(id) => ("datasets", id.to_string()),
            Self::Generation(id) => ("generations", id.to_string()),
        };
        FlightDescriptor::new_path(vec![kind.to_owned(), id])
    }
}

/// The path of a path descriptor; `expected` says what to send instead.
pub fn descriptor_path<'a>(
    descriptor: &'a FlightDescriptor,
    expected: &str,
) -> Result<&'a [String], Status> {
    if descriptor.r#type() != DescriptorType::Path {
        return Err(status::invalid(
            "descriptor",
            format!("command descriptors are not used here; send {expected}"),
        ));
    }
    Ok(&descriptor.path)
}

/// The dataset name of a DoPut descriptor `["datasets", <name>]`.
pub fn upload_name(descriptor: Option<&FlightDescriptor>) -> Result<String, Status> {
    const EXPECTED: &str = "a path descriptor [\"datasets\", <new dataset name>]";
    let descriptor = descriptor.ok_or_else(|| {
        status::invalid(
            "descriptor",
            format!("the first message carries no flight descriptor; send {EXPECTED}"),
        )
    })?;
    match descriptor_path(descriptor, EXPECTED)? {
        [kind, name] if kind == "datasets" => Ok(name.clone()),
        path => Err(status::invalid(
            "descriptor",
            format!("path {path:?} is not an upload target; send {EXPECTED}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_and_descriptors_round_trip() {
        let dataset = FlightTarget::Dataset(DatasetId::new());
        let generation = FlightTarget::Generation(GenerationId::new());
        for target in [dataset, generation] {
            assert_eq!(
                FlightTarget::from_ticket(&target.ticket()).ok(),
                Some(target)
            );
            assert_eq!(
                FlightTarget::from_descriptor(&target.descriptor()).ok(),
                Some(target)
            );
        }
    }

    #[test]
    fn malformed_tickets_and_descriptors_say_what_is_expected() {
        for bad in ["", "dataset", "model/x", "dataset/not-an-id"] {
            let refused = FlightTarget::from_ticket(&Ticket::new(bad)).expect_err(bad);
            assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{bad}");
        }
        let refused = FlightTarget::from_ticket(&Ticket::new("model/x")).expect_err("model");
        assert!(refused.message().contains(TICKET_FORMS));
        let command = FlightDescriptor::new_cmd("select 1");
        let refused = FlightTarget::from_descriptor(&command).expect_err("command");
        assert!(refused.message().contains("datasets"));
        let refused = upload_name(None).expect_err("none");
        assert!(
            refused
                .message()
                .contains("[\"datasets\", <new dataset name>]")
        );
        let wrong = FlightDescriptor::new_path(vec!["models".into(), "x".into()]);
        assert_eq!(
            upload_name(Some(&wrong)).expect_err("models").code(),
            tonic::Code::InvalidArgument
        );
        let right = FlightDescriptor::new_path(vec!["datasets".into(), "adult".into()]);
        assert_eq!(upload_name(Some(&right)).ok().as_deref(), Some("adult"));
    }
}
