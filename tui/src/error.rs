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
    /// A `--tls-*` option lacks its partner or names a file that cannot be used.
    #[error("{option}: {reason}")]
    Tls {
        /// The option and its environment variable.
        option: &'static str,
        /// What is wrong and what to do.
        reason: String,
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
        // A failure on this side (transport, TLS) keeps its reason in the sources.
        let mut message = status.message().to_owned();
        if let Some(source) = std::error::Error::source(status) {
            message.push_str(": ");
            message.push_str(&chain(source));
        }
        Self::Rpc {
            call,
            address: address.to_owned(),
            code: status.code(),
            message,
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

/// `error` and its sources, joined by `: ` (tonic's transport errors say only "transport
/// error" at the top; the TLS or connection reason is further down). A gRPC status
/// contributes its message alone.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = match error.downcast_ref::<tonic::Status>() {
        Some(status) => status.message().to_owned(),
        None => error.to_string(),
    };
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
