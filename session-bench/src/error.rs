//! The benchmark's one error type.

/// What can stop a benchmark run or one measurement.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A store of this project failed.
    #[error("store: {0}")]
    Store(#[from] session_api::Error),
    /// A peer (raw client, tower-sessions, actix-session, the cookie crate, Django)
    /// failed.
    #[error("{peer}: {message}")]
    Peer {
        /// Which peer.
        peer: &'static str,
        /// What went wrong.
        message: String,
    },
    /// An operation found no session where one was expected: the measurement would
    /// not be of the work it claims.
    #[error("{0}: the session was not found")]
    NotFound(&'static str),
    /// A server or a peer process could not be set up.
    #[error("setup: {0}")]
    Setup(String),
}

impl BenchError {
    /// A peer's error.
    pub fn peer(peer: &'static str, err: impl std::fmt::Display) -> Self {
        BenchError::Peer {
            peer,
            message: err.to_string(),
        }
    }
}

/// The benchmark's result type.
pub type Result<T> = std::result::Result<T, BenchError>;
