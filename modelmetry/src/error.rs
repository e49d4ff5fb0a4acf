//! The crate's error type.

use std::fmt;

/// What can go wrong when configuring, flushing or shutting down.
///
/// Recording spans never fails: problems there are counted in [`stats`](crate::stats).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A setting is invalid (from code or the environment). Returned by
    /// [`Config::init`](crate::Config::init).
    Config {
        /// The setting, e.g. `MODELMETRY_BASE_URL`.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// [`flush`](crate::flush) or [`shutdown`](crate::shutdown) reached its deadline with
    /// records not yet delivered. They stay buffered (flush) or are counted as dropped
    /// (shutdown).
    Timeout {
        /// Records still waiting or in flight.
        pending: u64,
    },
    /// The server refused a batch with this status (a 4xx other than 429). The records were
    /// counted as rejected.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The server's explanation (the problem+json `detail`, or the body's start).
        detail: String,
    },
    /// The server could not be reached or kept failing.
    Transport {
        /// What happened.
        reason: String,
    },
    /// [`Config::init`](crate::Config::init) (or [`init`](crate::init)) was called while a
    /// client was running (its guard alive). The running client was left in place.
    AlreadyInitialized,
    /// [`flush`](crate::flush), [`shutdown`](crate::shutdown) or
    /// [`replay_spool`](crate::replay_spool) was called from inside a callback the SDK runs
    /// (a redaction or `on_error` hook): waiting there would be waiting on itself.
    InCallback,
    /// [`flush`](crate::flush) or [`shutdown`](crate::shutdown) finished, but records
    /// finished since the previous `flush` or `shutdown` returned were lost (refused by the
    /// server, unreachable, a full buffer, a spool that cannot be written, cut off by
    /// shutdown's deadline, …). Each is also counted in [`stats`](crate::stats).
    Lost {
        /// How many records were lost.
        records: u64,
        /// Why: the counters they went to and the last problem in words, e.g.
        /// `3 rejected (Modelmetry: refused with status 401: invalid API key)`.
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config { setting, reason } => write!(f, "invalid setting {setting}: {reason}"),
            Error::Timeout { pending } => {
                write!(
                    f,
                    "deadline reached with {pending} record(s) not yet delivered"
                )
            }
            Error::Rejected { status, detail } => {
                write!(
                    f,
                    "the server refused the batch with status {status}: {detail}"
                )
            }
            Error::Transport { reason } => write!(f, "could not deliver: {reason}"),
            Error::AlreadyInitialized => f.write_str(
                "modelmetry is already initialised (a client's guard is alive); the running client was kept",
            ),
            Error::InCallback => f.write_str(
                "called from inside a callback the SDK runs (a redaction or on_error hook): it would wait on itself",
            ),
            Error::Lost { records, reason } => {
                write!(f, "{records} record(s) were lost: {reason}")
            }
        }
    }
}

impl std::error::Error for Error {}
