//! The crate's error type.

use std::fmt;

/// What can go wrong when configuring, flushing or shutting down.
///
/// Recording spans never fails: problems there are counted in [`stats`](crate::stats).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A setting is invalid (from code or the environment). Returned by
    /// [`Config::init`](crate::Config::init) (and reported by [`init`](crate::init)), by
    /// `OtlpConfig::from_env` (feature `otlp`), and by `install_signal_flush` (feature
    /// `signal`) when the handlers cannot be registered.
    Config {
        /// The setting, e.g. `MODELMETRY_BASE_URL`.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// [`flush`](crate::flush), [`shutdown`](crate::shutdown) or
    /// [`replay_spool`](crate::replay_spool) returned with records not yet delivered: the
    /// deadline came first (or, for `replay_spool`, the server is still unreachable). They
    /// stay buffered (flush), on disk (replay_spool, or shutdown with a spool), or are counted
    /// as dropped (shutdown).
    Timeout {
        /// Records still waiting, in flight or on disk; 0 when `replay_spool` stopped on a
        /// failure of its own before it could count them (reported through
        /// [`Config::on_error`](crate::Config::on_error); the files stay on disk).
        pending: u64,
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
            Error::AlreadyInitialized => f.write_str(
                "already initialised: a client is running (its guard is alive), and it was kept",
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
