//! Two destinations fed by the same finished traces: the first (the Modelmetry API or the
//! console) counted in the main counters of [`stats`](crate::stats), the others in
//! `stats().also`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use super::{Exporter, Tally};
use crate::diag;
use crate::error::Error;
use crate::record::FinishedTrace;
use crate::stats;

pub(crate) struct Fanout {
    first: Box<dyn Exporter>,
    also: Vec<Box<dyn Exporter>>,
}

impl Fanout {
    pub(crate) fn new(first: Box<dyn Exporter>, also: Vec<Box<dyn Exporter>>) -> Self {
        Fanout { first, also }
    }
}

impl Exporter for Fanout {
    fn export(&self, traces: &[FinishedTrace], deadline: Instant) -> Tally {
        let tally = self.first.export(traces, deadline);
        let records: u64 = traces.iter().map(FinishedTrace::record_count).sum();
        for also in &self.also {
            // A panic in one destination must not cost the other its records: the pipeline
            // catches the first's, this catches the others'.
            match catch_unwind(AssertUnwindSafe(|| also.export(traces, deadline))) {
                Ok(t) => stats::count_also(t.sent, t.rejected, records),
                Err(_) => {
                    stats::count_also(0, 0, records);
                    diag::report(format_args!(
                        "the second exporter panicked; {records} record(s) not delivered there"
                    ));
                }
            }
        }
        tally
    }

    fn paused_until(&self) -> Option<Instant> {
        self.first.paused_until()
    }

    fn keeps(&self) -> bool {
        self.first.keeps()
    }

    fn keep(&self, traces: &[FinishedTrace]) -> Option<Tally> {
        self.first.keep(traces)
    }

    fn replay(&self, deadline: Instant) -> Result<(), Error> {
        self.first.replay(deadline)
    }
}
