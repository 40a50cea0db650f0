//! The error of reading a state or an outcome back from its stored text. Its own file because
//! both `execution` (states) and `outcome` (attempt outcomes) parse their text with it, and
//! neither should import the other for it.

/// Text that names no state or outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {text:?}")]
pub struct UnknownText {
    pub what: &'static str,
    pub text: String,
}
