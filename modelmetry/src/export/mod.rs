//! Exporters: each turns finished traces into its own format and delivers them.

use std::sync::Arc;
use std::time::Instant;

use crate::error::Error;
use crate::record::FinishedTrace;
use crate::stats::{self, Loss};
use crate::transport::spool::{Spool, SpoolFile};

pub(crate) mod batch;
pub(crate) mod console;
pub(crate) mod delivery;
pub(crate) mod fanout;
#[cfg(feature = "file")]
pub(crate) mod file;
#[cfg(feature = "html")]
pub(crate) mod html;
pub(crate) mod ingest;
pub(crate) mod ingest_view;
#[cfg(feature = "otlp")]
pub(crate) mod otlp;

/// What an export did with the records it was given. Records it does not account for are
/// counted as lost to the network, so the counters always balance.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Records the exporter made itself, beyond those it was given (one session record per
    /// session id): counted as produced when the tally is.
    pub(crate) derived: u64,
    pub(crate) sent: u64,
    /// Kept in the disk spool for a later delivery.
    pub(crate) spooled: u64,
    pub(crate) rejected: u64,
    pub(crate) too_large: u64,
    pub(crate) network: u64,
    pub(crate) rate_limited: u64,
    pub(crate) spool_full: u64,
    pub(crate) spool_write_failed: u64,
    /// The file or HTML exporter could not write them.
    pub(crate) write_failed: u64,
    /// Cut off by shutdown's deadline (the request in flight was interrupted) with no spool
    /// to keep them.
    pub(crate) shutdown: u64,
    /// What went wrong last, in words (a status and the server's detail, a network error),
    /// for the error `flush` and `shutdown` return when records were lost.
    pub(crate) problem: Option<String>,
}

impl Tally {
    /// Count the outcome of an export of `records` records.
    pub(crate) fn count(&self, records: u64) {
        stats::count_produced(self.derived);
        let records = records + self.derived;
        stats::count_sent(self.sent);
        stats::count_spooled(self.spooled);
        stats::count_drop(Loss::Rejected, self.rejected);
        stats::count_drop(Loss::TooLarge, self.too_large);
        stats::count_drop(Loss::RateLimited, self.rate_limited);
        stats::count_drop(Loss::SpoolFull, self.spool_full);
        stats::count_drop(Loss::SpoolWriteFailed, self.spool_write_failed);
        stats::count_drop(Loss::WriteFailed, self.write_failed);
        stats::count_drop(Loss::Shutdown, self.shutdown);
        let unaccounted = records.saturating_sub(self.total() - self.network);
        stats::count_drop(Loss::Network, unaccounted);
    }

    /// Records lost in this export.
    pub(crate) fn total_lost(&self) -> u64 {
        self.total() - self.sent - self.spooled
    }

    /// Records this tally accounts for.
    pub(crate) fn total(&self) -> u64 {
        self.sent
            + self.spooled
            + self.rejected
            + self.too_large
            + self.network
            + self.rate_limited
            + self.spool_full
            + self.spool_write_failed
            + self.write_failed
            + self.shutdown
    }

    /// Add `other`'s counts to this one (its problem replaces ours if it has one).
    pub(crate) fn add(&mut self, other: &Tally) {
        self.derived += other.derived;
        self.sent += other.sent;
        self.spooled += other.spooled;
        self.rejected += other.rejected;
        self.too_large += other.too_large;
        self.network += other.network;
        self.rate_limited += other.rate_limited;
        self.spool_full += other.spool_full;
        self.spool_write_failed += other.spool_write_failed;
        self.write_failed += other.write_failed;
        self.shutdown += other.shutdown;
        if other.problem.is_some() {
            self.problem.clone_from(&other.problem);
        }
    }
}

/// Where an export counts its records as their outcomes become known (each request as it is
/// answered), so that what is in flight shrinks as it goes.
///
/// In background delivery the records of the batch in flight can also be counted by
/// shutdown: at its deadline it *claims* whatever the batch has not counted yet (`spooled` if
/// the journal holds it, else `dropped.shutdown`), whether or not the flusher thread has had
/// the CPU to see its request cut. Each record is counted once, by whichever comes first:
/// after a claim, `settle` counts nothing.
pub(crate) trait Settle {
    /// Count `tally`: `tally.total()` records of the export's, of which `tally.derived` the
    /// exporter made itself (session records). `journaled`: they are in the journal (a claim
    /// would have counted them as spooled). False if shutdown had claimed them already: they
    /// are counted (journaled ones as spooled, so they must stay on disk), and not here.
    fn settle(&self, tally: &Tally, journaled: bool) -> bool;
}

/// Outcomes nobody counts (a destination whose tally is thrown away).
pub(crate) struct Uncounted;

impl Settle for Uncounted {
    fn settle(&self, _: &Tally, _: bool) -> bool {
        true
    }
}

/// A finished trace made ready, on the thread that finished it, for a destination that
/// journals (see [`Exporter::journal`]): redacted already, and encoded as the records it will
/// be sent as, so that the bytes written ahead are the bytes sent (the same XIDs).
pub(crate) struct Prepared {
    /// Its records, a session record among them if the trace has a session.
    pub(crate) records: Vec<batch::Encoded>,
    /// The trace's records as counted when it was produced (sessions are not among them).
    pub(crate) given: u64,
    /// Records that could not be encoded (counted as rejected when the batch is).
    pub(crate) unencodable: u64,
    /// Its line is in the journal: a later run sends it if this one does not.
    pub(crate) on_disk: bool,
}

impl Prepared {
    /// The memory it holds, for the buffer's byte bound.
    pub(crate) fn bytes(&self) -> usize {
        self.records
            .iter()
            .map(|r| r.json.len() + 48)
            .sum::<usize>()
            + 64
    }
}

pub(crate) trait Exporter: Send + Sync + 'static {
    /// The destination, in words, for diagnostics and errors.
    fn name(&self) -> &'static str {
        "the exporter"
    }

    /// The destinations this exporter stands for, taken out of it, if it is several (a
    /// [`Fanout`](fanout::Fanout)): each gets its own queue, worker, deadline and counters in
    /// the pipeline. `None`: it is one destination.
    fn take_destinations(&mut self) -> Option<Vec<Box<dyn Exporter>>> {
        None
    }

    /// Deliver `traces`, returning by `deadline` whatever happens. Outcomes may be counted
    /// as they come, through `settle`; the tally returned is the outcome of the rest (what it
    /// does not account for is counted as lost to the network).
    fn export(&self, traces: &[FinishedTrace], deadline: Instant, settle: &dyn Settle) -> Tally;

    /// The destination asked for nothing to be sent before this instant (a 429).
    fn paused_until(&self) -> Option<Instant> {
        None
    }

    /// True if this exporter can keep traces it has no time to send (a disk spool).
    fn keeps(&self) -> bool {
        false
    }

    /// Keep `traces` for a later run without sending them (shutdown ran out of time).
    fn keep(&self, traces: &[FinishedTrace]) -> Option<Tally> {
        let _ = traces;
        None
    }

    /// Interrupt every request in flight and refuse new ones: shutdown's deadline has come.
    /// Records cut off this way are counted as `shutdown` (or kept, with a spool).
    fn cut(&self) {}

    /// The spool this destination journals finished traces to, if it has one: in background
    /// delivery each trace is then [`prepare`](Self::prepare)d and appended there before the
    /// call that finished it returns.
    fn journal(&self) -> Option<Arc<Spool>> {
        None
    }

    /// `trace`, redacted already, as the records it will be sent as, and the line that
    /// writes them ahead to the journal. Only called when [`journal`](Self::journal) is some.
    fn prepare(&self, trace: &FinishedTrace) -> (Prepared, Vec<u8>) {
        let _ = trace;
        let prepared = Prepared {
            records: Vec::new(),
            given: 0,
            unencodable: 0,
            on_disk: false,
        };
        (prepared, Vec::new())
    }

    /// Deliver prepared traces, returning by `deadline` whatever happens. Those written ahead
    /// (in the journal `segment`, which this takes over) are not written again before they are
    /// sent: the segment goes once all of them are answered for, and keeps what is left of
    /// them otherwise (and what shutdown claimed). Outcomes are counted as for
    /// [`export`](Self::export).
    fn export_prepared(
        &self,
        items: Vec<Prepared>,
        deadline: Instant,
        segment: Option<SpoolFile>,
        settle: &dyn Settle,
    ) -> Tally {
        let _ = (items, deadline, segment, settle);
        Tally::default()
    }

    /// Keep prepared traces for a later run (shutdown ran out of time): those in the journal
    /// are counted as spooled where they are (the caller leaves their segment on disk), the
    /// others written to the spool.
    fn keep_prepared(&self, items: &[Prepared]) -> Option<Tally> {
        let _ = items;
        None
    }

    /// Send what was kept by earlier runs, until `deadline`.
    fn replay(&self, deadline: Instant) -> Result<(), Error> {
        let _ = deadline;
        Ok(())
    }
}
