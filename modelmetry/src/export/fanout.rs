//! Several destinations fed by the same finished traces: the first (the Modelmetry API or the
//! console) counted in the main counters of [`stats`](crate::stats), the others in
//! `stats().also`.
//!
//! The pipeline gives each destination its own queue, worker thread, deadline and counters
//! (see `pipeline.rs`), so that a destination that hangs never delays another: this type only
//! carries the list from the client to the pipeline.

use std::time::Instant;

use super::{Exporter, Settle, Tally, Uncounted};
use crate::record::FinishedTrace;

pub(crate) struct Fanout {
    destinations: Vec<Box<dyn Exporter>>,
}

impl Fanout {
    pub(crate) fn new(first: Box<dyn Exporter>, also: Vec<Box<dyn Exporter>>) -> Self {
        let mut destinations = vec![first];
        destinations.extend(also);
        Fanout { destinations }
    }
}

impl Exporter for Fanout {
    /// Only reached if something exports through a `Fanout` without splitting it: each
    /// destination in turn, the first one's outcome counted.
    fn export(&self, traces: &[FinishedTrace], deadline: Instant, settle: &dyn Settle) -> Tally {
        let mut first = None;
        for d in &self.destinations {
            match first {
                None => first = Some(d.export(traces, deadline, settle)),
                Some(_) => {
                    d.export(traces, deadline, &Uncounted);
                }
            }
        }
        first.unwrap_or_default()
    }

    fn take_destinations(&mut self) -> Option<Vec<Box<dyn Exporter>>> {
        Some(std::mem::take(&mut self.destinations))
    }
}
