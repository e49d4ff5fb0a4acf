//! Several destinations fed by the same finished traces: the first (the Modelmetry API or the
//! console) counted in the main counters of [`stats`](crate::stats), the others in
//! `stats().also`.
//!
//! The pipeline gives each destination its own queue, worker thread, deadline and counters
//! (see `pipeline.rs`), so that a destination that hangs never delays another: this type only
//! carries the list from the client to the pipeline.

use std::time::Instant;

use super::{Exporter, Tally};
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
    /// destination in turn, the first one's tally returned.
    fn export(&self, traces: &[FinishedTrace], deadline: Instant) -> Tally {
        let tallies: Vec<Tally> = self
            .destinations
            .iter()
            .map(|d| d.export(traces, deadline))
            .collect();
        tallies.into_iter().next().unwrap_or_default()
    }

    fn take_destinations(&mut self) -> Option<Vec<Box<dyn Exporter>>> {
        Some(std::mem::take(&mut self.destinations))
    }
}
