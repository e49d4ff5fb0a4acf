//! Exporters: each turns finished traces into its own format and delivers them.

use std::time::Instant;

use crate::record::FinishedTrace;

pub(crate) mod console;
pub(crate) mod ingest;
#[cfg(feature = "otlp")]
pub(crate) mod otlp;

/// What an export did with the records it was given. Records it does not account for are
/// counted as lost to the network by the pipeline, so the counters always balance.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) sent: u64,
    pub(crate) rejected: u64,
    pub(crate) too_large: u64,
}

pub(crate) trait Exporter: Send + Sync + 'static {
    /// Deliver `traces`, returning by `deadline` whatever happens.
    fn export(&self, traces: &[FinishedTrace], deadline: Instant) -> Tally;
}
