//! The crate's one error type.

/// What can go wrong in the console.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The terminal could not be set up, drawn or restored.
    #[error("terminal: {source} (run the console in an interactive terminal)")]
    Terminal {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {source}")]
    Runtime {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `--addr` was empty or held a malformed address.
    #[error("node address {address:?}: {reason} (pass --addr HOST:PORT[,HOST:PORT…])")]
    Address {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A credential holds characters an HTTP header cannot carry.
    #[error("{variable} holds characters a header cannot carry: check its value")]
    Credentials {
        /// Where the credential came from.
        variable: &'static str,
    },
    /// A node could not be reached.
    #[error("cannot connect to the node at {address}: {reason}")]
    Connect {
        /// The node's address.
        address: String,
        /// The transport's reason.
        reason: String,
    },
    /// A node answered a call with an error.
    #[error("{call} on {address} failed ({code:?}): {message}")]
    Rpc {
        /// The RPC.
        call: &'static str,
        /// The node's address.
        address: String,
        /// The gRPC status code.
        code: tonic::Code,
        /// The server's message.
        message: String,
    },
}

impl Error {
    /// The error of `call` on `address` that answered `status`.
    pub fn rpc(call: &'static str, address: &str, status: &tonic::Status) -> Self {
        Self::Rpc {
            call,
            address: address.to_owned(),
            code: status.code(),
            message: status.message().to_owned(),
        }
    }

    /// Whether another node may answer where this one failed (the node is down, shutting
    /// down or has no leader), as opposed to a refusal every node would repeat.
    pub fn is_node_failure(&self) -> bool {
        match self {
            Self::Connect { .. } => true,
            Self::Rpc { code, .. } => matches!(
                code,
                tonic::Code::Unavailable
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::Unknown
                    | tonic::Code::Internal
                    | tonic::Code::Cancelled
            ),
            _ => false,
        }
    }
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
