//! Errors of the privacy crate.

/// What can go wrong in privacy accounting.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PrivacyError {
    /// A mechanism parameter is out of its range.
    #[error("invalid {field}: {message}")]
    InvalidParameter {
        /// The parameter.
        field: &'static str,
        /// Why it is refused.
        message: String,
    },
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, PrivacyError>;
