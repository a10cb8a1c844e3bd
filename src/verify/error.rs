//! The one error type of verification, one variant per reason a sign-in is refused. The API's
//! error code of each reason is the HTTP layer's business (`crate::http::ErrorCode`).

/// Why a signed sign-in message was refused.
///
/// The `Display` text is a sentence fit for an API error `message`. It never contains the signed
/// message or the signature (reasons name a line number or a field, not the attacker's text).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The text is not a well-formed EIP-4361 / SIWS message (the reason says what is wrong).
    #[error("the signed message is not a well-formed sign-in message: {0}")]
    InvalidMessage(String),
    /// The signature is malformed, has the wrong length, is high-s, or is from another key.
    #[error("the signature is not valid for this message: {0}")]
    InvalidSignature(String),
    /// The message's domain (or, with a strict policy, its URI origin) is not one we serve.
    #[error("the message was signed for another domain")]
    DomainMismatch,
    /// The message's chain id is not in the allow-list.
    #[error("the message's chain id is not allowed")]
    ChainNotAllowed,
    /// `Expiration Time` has passed (or is not after `Issued At`, or not after `Not Before`:
    /// the message is never valid), or `Issued At` is older than the allowed age.
    #[error("the message has expired")]
    MessageExpired,
    /// `Not Before` is in the future, or `Issued At` is later than now plus the allowed skew.
    #[error("the message is not valid yet")]
    MessageNotYetValid,
    /// The nonce does not match the one the server issued.
    #[error("the nonce is unknown, already used, or does not match")]
    NonceInvalid,
    /// A policy input that every verification needs was not given (a caller bug).
    #[error("the verification policy is missing its {0}")]
    MissingPolicy(&'static str),
}

impl VerifyError {
    pub(crate) fn message(reason: impl Into<String>) -> Self {
        Self::InvalidMessage(reason.into())
    }

    pub(crate) fn signature(reason: impl Into<String>) -> Self {
        Self::InvalidSignature(reason.into())
    }
}

#[cfg(test)]
mod tests {
    use super::VerifyError;

    #[test]
    fn every_reason_is_a_sentence() {
        for error in [
            VerifyError::message("x"),
            VerifyError::signature("x"),
            VerifyError::DomainMismatch,
            VerifyError::ChainNotAllowed,
            VerifyError::MessageExpired,
            VerifyError::MessageNotYetValid,
            VerifyError::NonceInvalid,
            VerifyError::MissingPolicy("domains"),
        ] {
            assert!(!error.to_string().is_empty(), "{error:?}");
        }
    }
}
