//! The bounded buffers between finished traces and the exporters, and the background threads
//! that drain them.
//!
//! Each destination (the Modelmetry API, an OpenTelemetry collector, the console) is a *lane*:
//! its own bounded buffer, flusher thread, deadline, losses and counters. Closing a trace
//! pushes it into every lane (one short lock each; a copy for each lane after the first), so a
//! destination that hangs fills and drops from its own buffer, never delaying another.
//!
//! A lane's flusher exports what is buffered every `flush_interval`, sooner when the buffer is
//! a quarter full, and at once on `flush`. In synchronous delivery there is no thread: the
//! closing thread exports to each lane in turn.
//!
//! Waking the flusher early is rare by design: waking a sleeping thread is a system call and a
//! context switch (in a virtual machine, an interrupt between cores too), which cost more than
//! thousands of spans. The flusher packs whatever it takes into requests of `max_batch_*`.
//!
//! With a spool in background delivery, a lane whose destination keeps one (the Modelmetry
//! API) *journals*: the closing thread redacts the trace, encodes it as the records it will be
//! sent as, and appends them to the spool's open journal segment before `submit` returns, so
//! that what waits in the buffer outlives the process (`exit`, SIGTERM, `kill -9`). The append
//! and the push into the buffer happen under the buffer's lock, so the segment the flusher
//! takes with a batch holds that batch and nothing else; it is removed once the batch is
//! counted (delivered, spooled again, or dropped), and left for the next start when shutdown
//! runs out of time.
//!
//! The buffer's bounds (records and bytes) cover the traces being exported too, so memory
//! held by finished traces never passes them. While the server's rate limit is in force (a
//! 429) the flusher leaves traces in the buffer. Only shutdown shortens an export's deadline:
//! a `flush` that times out leaves its records to be delivered by the export under way.
//!
//! Every record is counted once, by the time `shutdown` returns, whatever the scheduler does.
//! The flusher counts the batch in flight request by request, as each is answered (see
//! [`Settle`]), under the buffer's lock. A little before shutdown's deadline the request in
//! flight is cut (its sockets closed), so the flusher usually counts its records itself; if
//! it has not by the deadline (it did not get the CPU, or it is running the user's redaction
//! hook), shutdown *claims* what the batch has not counted: `spooled` if the journal holds it,
//! else `dropped.shutdown`. From then on the flusher counts nothing of that batch, so nothing
//! is counted twice or never; a record the server accepted after the claim stays counted as
//! the claim counted it (and, journaled, stays on disk to be sent again with the same `XID`).

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{Config, Delivery};
use crate::diag;
use crate::error::Error;
use crate::export::{Exporter, Prepared, Settle, Tally};
use crate::record::FinishedTrace;
use crate::redact;
use crate::stats::{self, Loss};
use crate::transport::spool::{Segment, Spool, SpoolError};

pub(crate) struct Pipeline {
    config: Arc<Config>,
    /// The redaction every trace passes before the fan-out (hook and patterns).
    redaction: redact::Redaction,
    lanes: Vec<Arc<Lane>>,
}

/// Which counters a lane's outcomes go to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The first destination: the main counters of `stats()`.
    Main,
    /// Any other: `stats().also`.
    Also,
}

/// One destination with its own buffer, flusher thread, deadline and counters.
struct Lane {
    config: Arc<Config>,
    exporter: Box<dyn Exporter>,
    role: Role,
    /// Where finished traces are written ahead of the buffer (background delivery with a
    /// spool); `None`: they wait in memory only.
    journal: Option<Arc<Spool>>,
    queue: Mutex<Queue>,
    /// Wakes the flusher: a batch is full, a flush was asked for, or shutdown began.
    wake: Condvar,
    /// Wakes waiters in `flush` and `shutdown`: an export round finished.
    progress: Condvar,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// Records lost since the last `flush` or `shutdown` returned, for the error they return.
    losses: Mutex<Losses>,
}

#[derive(Default)]
struct Queue {
    traces: VecDeque<FinishedTrace>,
    /// Traces prepared and journaled by their closing thread (a lane with a journal).
    prepared: Vec<Prepared>,
    /// The journal segment holding the lines of `prepared`.
    segment: Option<Segment>,
    records: u64,
    bytes: usize,
    /// Records and bytes of the batch the flusher took, until it is done with it (memory the
    /// buffer's bounds cover).
    in_flight: u64,
    in_flight_bytes: usize,
    /// Of `in_flight`, the records not yet counted (as sent, dropped or spooled).
    unsettled: u64,
    /// Of `unsettled`, the records the journal holds: a claim counts them as spooled.
    unsettled_journaled: u64,
    /// Shutdown's deadline came with the batch in flight not all counted, and shutdown counted
    /// the rest: the flusher counts nothing more of it.
    claimed: bool,
    /// Flush requests made and completed: a flush waits until `completed` reaches its number.
    requested: u64,
    completed: u64,
    /// Shutdown's deadline: the last export must end by then.
    deadline: Option<Instant>,
    /// The flusher has been woken early and has not taken the buffer yet: later traces need not
    /// wake it again.
    wake_pending: bool,
    stopping: bool,
    stopped: bool,
}

/// Records lost, by the counter they went to, and the last problem in words.
#[derive(Default)]
struct Losses {
    records: u64,
    by: BTreeMap<&'static str, u64>,
    problem: Option<String>,
}

impl Losses {
    fn add(&mut self, counter: &'static str, records: u64) {
        if records > 0 {
            self.records += records;
            *self.by.entry(counter).or_insert(0) += records;
        }
    }

    fn add_tally(&mut self, t: &Tally) {
        self.add("rejected", t.rejected);
        self.add("too_large", t.too_large);
        self.add("network", t.network);
        self.add("rate_limited", t.rate_limited);
        self.add("spool_full", t.spool_full);
        self.add("spool_write_failed", t.spool_write_failed);
        self.add("write_failed", t.write_failed);
        self.add("shutdown", t.shutdown);
        if t.problem.is_some() && t.total_lost() > 0 {
            self.problem.clone_from(&t.problem);
        }
    }
}

impl Pipeline {
    /// Start a lane for each destination of `exporter` (see
    /// [`Exporter::take_destinations`]).
    pub(crate) fn start(config: Config, mut exporter: Box<dyn Exporter>) -> Arc<Pipeline> {
        let config = Arc::new(config);
        let destinations = exporter
            .take_destinations()
            .unwrap_or_else(|| vec![exporter]);
        let lanes = destinations
            .into_iter()
            .enumerate()
            .map(|(i, exporter)| {
                let role = if i == 0 { Role::Main } else { Role::Also };
                Lane::start(config.clone(), exporter, role)
            })
            .collect();
        let redaction = config.redaction();
        if config.sampling.rate < 1.0 {
            // A trace that head sampling drops is priced on its closing thread (for the tail
            // rules and the dropped-cost counts), but only once the table is decoded: decode it
            // now, on a thread of its own, so that neither `init` nor a trace waits for it.
            crate::pricing::warm_in_background();
        }
        Arc::new(Pipeline {
            config,
            redaction,
            lanes,
        })
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// Take a finished trace. Never blocks on the network in background delivery.
    ///
    /// The finished trace passes, in order: pricing if head sampling dropped it (`pricing`),
    /// sampling's tail decision (`sampling::decide`),
    /// then the one redaction boundary (`redact::boundary`), then the fan-out to each
    /// destination's lane. Nothing reaches an exporter without passing redaction.
    pub(crate) fn submit(&self, mut trace: FinishedTrace) {
        if self.lanes.is_empty() {
            return;
        }
        if !trace.sampled {
            // Dropped at its head: this is the only place it can be priced, and the tail rules
            // (`keep_if_cost_over`) and the dropped-cost counts need its cost; never waiting
            // for the price table (decoded at `init`, on a thread of its own). A kept trace is
            // priced off this thread, in each destination's lane.
            crate::pricing::apply_without_waiting(&self.config.prices, &mut trace);
        }
        if !crate::sampling::decide(&self.config.sampling, &mut trace) {
            crate::record::recycle_arena(trace.spans);
            return;
        }
        if let Err(records) = redact::boundary(&self.redaction, &mut trace) {
            for lane in &self.lanes {
                lane.count_produced_lost(records);
            }
            return;
        }
        let Some((first, others)) = self.lanes.split_first() else {
            return;
        };
        for lane in others {
            lane.submit(trace.clone());
        }
        first.submit(trace);
    }

    /// Export everything buffered now and wait for it, until `timeout`. Records lost since the
    /// last flush or shutdown make it an [`Error::Lost`].
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        // Ask every lane first, so they flush side by side, then wait for each.
        let asked: Vec<Option<u64>> = self.lanes.iter().map(|l| l.request_flush()).collect();
        let mut pending = 0;
        for (lane, generation) in self.lanes.iter().zip(asked) {
            if let Some(generation) = generation {
                if let Err(Error::Timeout { pending: p }) =
                    lane.wait(lane.lock(), deadline, |q| q.completed >= generation)
                {
                    pending += p;
                }
            }
        }
        if pending > 0 {
            return Err(Error::Timeout { pending });
        }
        self.take_losses()
    }

    /// Send what the spool holds now, on this thread, until `timeout`.
    pub(crate) fn replay_spool(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let mut result = Ok(());
        for lane in self.lanes.iter().filter(|l| l.exporter.keeps()) {
            let r = catch_unwind(AssertUnwindSafe(|| lane.exporter.replay(deadline)))
                .unwrap_or_else(|_| {
                    diag::report(format_args!(
                        "{}: the spool replay failed (a panic in the SDK); its files stay on disk for the next replay",
                        lane.exporter.name()
                    ));
                    Err(Error::Timeout { pending: 0 })
                });
            if result.is_ok() {
                result = r;
            }
        }
        result
    }

    /// Export what is buffered, stop the flushers and wait for them, until `timeout`. What
    /// cannot go before the deadline is kept in the spool or counted as dropped at shutdown;
    /// a request still in flight then is cut, so its records are counted by the deadline.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        // Streams still open (leaked, or still being read) go out as they stand: what they
        // recorded has been delivered already, and needs its parent span.
        for trace in crate::context::owned::unfinished() {
            self.submit(trace);
        }
        if self.config.delivery == Delivery::Synchronous {
            for lane in &self.lanes {
                lane.lock().stopping = true;
            }
            return self.take_losses();
        }
        for lane in &self.lanes {
            lane.begin_shutdown(deadline);
        }
        // Stop waiting a little early: what is still buffered then (a flusher is stuck on a
        // slow server) must reach the disk, and a request in flight must be cut and counted,
        // before the deadline.
        let reserve = timeout.min(Duration::from_millis(500)) / 5;
        let early = deadline.checked_sub(reserve).unwrap_or(deadline);
        for lane in &self.lanes {
            let _ = lane.wait(lane.lock(), early, |q| q.stopped);
        }
        for lane in &self.lanes {
            if !lane.lock().stopped {
                lane.give_up_buffered();
                catch_unwind(AssertUnwindSafe(|| lane.exporter.cut())).ok();
            }
        }
        let mut pending = 0;
        for lane in &self.lanes {
            if lane.wait(lane.lock(), deadline, |q| q.stopped).is_ok() {
                if let Some(handle) = lane
                    .worker
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                {
                    // The thread has said it is done, so this join returns at once.
                    let _ = handle.join();
                }
            } else {
                // The flusher has not counted its batch by the deadline (it has not run since
                // its request was cut, or it is in the user's hook): count it here.
                pending += lane.claim_in_flight();
            }
        }
        if pending > 0 {
            return Err(Error::Timeout { pending });
        }
        self.take_losses()
    }

    /// The losses of every lane since the last call, as one error (or `Ok` if none).
    fn take_losses(&self) -> Result<(), Error> {
        let mut records = 0;
        let mut parts = Vec::new();
        for lane in &self.lanes {
            let l =
                std::mem::take(&mut *lane.losses.lock().unwrap_or_else(PoisonError::into_inner));
            if l.records == 0 {
                continue;
            }
            records += l.records;
            let counters: Vec<String> =
                l.by.iter()
                    .map(|(counter, n)| {
                        let place = match lane.role {
                            Role::Main => "stats().dropped.",
                            Role::Also => "stats().also.dropped, ",
                        };
                        format!("{n} {counter} ({place}{counter})")
                    })
                    .collect();
            let mut part = format!("{}: {}", lane.exporter.name(), counters.join(", "));
            if let Some(problem) = l.problem {
                part.push_str(&format!("; last problem: {problem}"));
            }
            parts.push(part);
        }
        if records == 0 {
            return Ok(());
        }
        Err(Error::Lost {
            records,
            reason: diag::scrub(&parts.join("; ")),
        })
    }
}

impl Lane {
    fn start(config: Arc<Config>, exporter: Box<dyn Exporter>, role: Role) -> Arc<Lane> {
        let background = config.delivery == Delivery::Background;
        let journal = if background { exporter.journal() } else { None };
        if !background || journal.is_some() {
            // Traces are priced where they are exported or journaled: here, that is the
            // closing thread, so start decoding the price table now (at `init`, on a thread of
            // its own: `init` does not wait), not on the first trace's thread. A flusher
            // decodes it when it first needs it instead (a trace without usage never waits).
            crate::pricing::warm_in_background();
        }
        let lane = Arc::new(Lane {
            config,
            exporter,
            role,
            journal,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            progress: Condvar::new(),
            worker: Mutex::new(None),
            losses: Mutex::new(Losses::default()),
        });
        if !background && lane.exporter.keeps() {
            // What earlier runs left in the spool goes out on a thread of its own: in
            // synchronous delivery there is no flusher, and `init` must not wait for it.
            let replayer = lane.clone();
            let _ = std::thread::Builder::new()
                .name("modelmetry-replay".into())
                .spawn(move || {
                    let deadline = Instant::now() + replayer.config.export_timeout;
                    let _ = catch_unwind(AssertUnwindSafe(|| replayer.exporter.replay(deadline)));
                });
        }
        if background {
            let worker = lane.clone();
            let spawned = std::thread::Builder::new()
                .name("modelmetry-flusher".into())
                .spawn(move || worker.run());
            match spawned {
                Ok(handle) => {
                    *lane.worker.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle)
                }
                Err(e) => {
                    // Without a thread, nothing would ever drain the buffer: say so, and stop
                    // accepting traces so they are counted instead of piling up.
                    diag::report(format_args!(
                        "could not start the flusher thread for {} ({e}); traces will be dropped and counted",
                        lane.exporter.name()
                    ));
                    let mut q = lane.lock();
                    q.stopping = true;
                    q.stopped = true;
                }
            }
        }
        lane
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn losses(&self) -> MutexGuard<'_, Losses> {
        self.losses.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Count a trace of `records` records that redaction lost before it reached this lane.
    fn count_produced_lost(&self, records: u64) {
        if self.role == Role::Main {
            stats::count_produced(records);
        }
        self.count_lost(Loss::RedactionFailed, "redaction_failed", records);
    }

    /// Count `records` lost for `reason` before any export (a full buffer, shutdown, a panic).
    fn count_lost(&self, reason: Loss, counter: &'static str, records: u64) {
        match self.role {
            Role::Main => stats::count_drop(reason, records),
            Role::Also => stats::count_also(0, 0, 0, records),
        }
        self.losses().add(counter, records);
    }

    /// Count the outcome of an export of `records` records.
    fn count(&self, tally: &Tally, records: u64) {
        match self.role {
            Role::Main => tally.count(records),
            Role::Also => stats::count_also(
                tally.sent,
                tally.rejected,
                tally.spooled,
                records + tally.derived,
            ),
        }
        let mut losses = self.losses();
        losses.add_tally(tally);
        // What the tally does not account for is counted as lost to the network.
        let unaccounted = (records + tally.derived).saturating_sub(tally.total());
        losses.add("network", unaccounted);
    }

    fn buffered_add(&self, records: u64) {
        if self.role == Role::Main {
            stats::buffered_add(records);
        }
    }

    fn buffered_sub(&self, records: u64) {
        if self.role == Role::Main {
            stats::buffered_sub(records);
        }
    }

    /// Take a finished trace. Never blocks on the network in background delivery.
    fn submit(&self, trace: FinishedTrace) {
        let records = trace.record_count();
        if self.role == Role::Main {
            stats::count_produced(records);
        }
        if self.config.delivery == Delivery::Synchronous {
            self.buffered_add(records);
            let deadline = Instant::now() + self.config.export_timeout;
            self.export(vec![trace], records, deadline, false);
            return;
        }
        if let Some(journal) = &self.journal {
            return self.submit_journaled(trace, records, journal);
        }
        let bytes = trace.approx_bytes();
        if records > self.config.max_buffer_records || bytes > self.config.max_buffer_bytes {
            // It could not fit even in an empty buffer: holding it would break the bound the
            // buffer promises for memory, and waiting for room in parts would put the network
            // on the application's path. Synchronous delivery sends it, in several requests.
            self.count_lost(Loss::TraceTooLarge, "trace_too_large", records);
            diag::once(
                "trace_too_large",
                format_args!(
                    "a trace of {records} records (about {bytes} bytes) is larger than the whole \
                     buffer (max_buffer_records {}, max_buffer_bytes {}) and was dropped (counted \
                     in stats().dropped.trace_too_large); raise those bounds, or use synchronous \
                     delivery, which sends a trace of any size in several requests",
                    self.config.max_buffer_records, self.config.max_buffer_bytes
                ),
            );
            return;
        }
        let Some(mut q) = self.admit(records, bytes) else {
            return;
        };
        q.traces.push_back(trace);
        self.enqueued(q, records, bytes);
    }

    /// Count a trace just queued (under the lock `q`), and wake the flusher if the buffer has
    /// grown enough that it should not wait for its interval.
    fn enqueued(&self, mut q: MutexGuard<'_, Queue>, records: u64, bytes: usize) {
        q.records += records;
        q.bytes += bytes;
        self.buffered_add(records);
        let wake = !q.wake_pending && self.wake_early(&q);
        q.wake_pending |= wake;
        drop(q);
        if wake {
            self.wake.notify_one();
        }
    }

    /// The buffer, locked, if a trace of `records` records and `bytes` bytes may enter it;
    /// else the trace is counted lost (shutdown has begun, or the buffer is full) and `None`.
    fn admit(&self, records: u64, bytes: usize) -> Option<MutexGuard<'_, Queue>> {
        let q = self.lock();
        if q.stopping {
            drop(q);
            self.count_lost(Loss::Shutdown, "shutdown", records);
            return None;
        }
        if q.records + q.in_flight + records > self.config.max_buffer_records
            || q.bytes + q.in_flight_bytes + bytes > self.config.max_buffer_bytes
        {
            drop(q);
            self.count_lost(Loss::BufferFull, "buffer_full", records);
            diag::once(
                "buffer_full",
                format_args!(
                    "the trace buffer is full; finished traces are being dropped (counted in stats().dropped.buffer_full)"
                ),
            );
            return None;
        }
        Some(q)
    }

    /// Take a finished trace (redacted already, by `Pipeline::submit`), encode it, and
    /// append it to the journal before returning: from then on it outlives the process.
    fn submit_journaled(&self, trace: FinishedTrace, records: u64, journal: &Spool) {
        // Costs computed from usage (after the redaction boundary, which ran in
        // `Pipeline::submit`; a hook that removes a span's model leaves it unpriced).
        let mut trace = trace;
        crate::pricing::apply(&self.config.prices, std::slice::from_mut(&mut trace));
        let prepared = catch_unwind(AssertUnwindSafe(|| self.exporter.prepare(&trace)));
        crate::record::recycle_arena(trace.spans);
        let Ok((mut prepared, line)) = prepared else {
            self.count_lost(Loss::ExporterPanic, "exporter_panic", records);
            diag::report(format_args!(
                "{} panicked; {records} record(s) dropped (counted in stats().dropped.exporter_panic)",
                self.exporter.name()
            ));
            return;
        };
        let bytes = prepared.bytes();
        let Some(mut q) = self.admit(records, bytes) else {
            return;
        };
        let appended = match q.segment.as_mut() {
            Some(segment) => journal.append(segment, &line),
            None => journal.open_segment().and_then(|mut segment| {
                let appended = journal.append(&mut segment, &line);
                q.segment = Some(segment);
                appended
            }),
        };
        prepared.on_disk = appended.is_ok();
        q.prepared.push(prepared);
        self.enqueued(q, records, bytes);
        if let Err(e) = appended {
            // Reported outside the lock: the report may run the user's `on_error` hook.
            let why = match e {
                SpoolError::Full => "no room left in the spool for the journal".to_owned(),
                SpoolError::Io(e) => format!("cannot write the journal in the spool ({e})"),
            };
            diag::once(
                "journal_failed",
                format_args!(
                    "{why}; finished traces wait in memory only until they are sent (an exit before then loses them)"
                ),
            );
        }
    }

    /// True when the buffer holds enough that the flusher should not wait for its interval: a
    /// quarter of either bound (or a full request, if that is more), so that it drains well
    /// before traces are dropped.
    fn wake_early(&self, q: &Queue) -> bool {
        let c = &self.config;
        q.records >= (c.max_buffer_records / 4).max(c.max_batch_records as u64)
            || q.bytes >= (c.max_buffer_bytes / 4).max(c.max_batch_bytes)
    }

    /// Export `traces` (holding `records` records) and count the outcome, whatever happens.
    /// `in_flight`: they are the flusher's batch, which shutdown may claim.
    fn export(&self, traces: Vec<FinishedTrace>, records: u64, deadline: Instant, in_flight: bool) {
        let books = Books::new(self, records, in_flight);
        // Costs computed from usage, off the application's thread (a trace that head sampling
        // dropped was priced in `Pipeline::submit`, for the tail rules and the counts), before
        // every exporter, so each destination gets the same figures.
        let mut traces = traces;
        crate::pricing::apply(&self.config.prices, &mut traces);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            self.exporter.export(&traces, deadline, &books)
        }));
        match outcome {
            Ok(tally) => books.close(&tally),
            Err(_) => self.exporter_panicked(&books),
        }
        // Dropping the traces may run user `Drop` code inside captured values: keep it outside
        // any lock, and after the counters are right.
        for trace in traces {
            crate::record::recycle_arena(trace.spans);
        }
    }

    /// An exporter panicked: what it had not counted is lost.
    fn exporter_panicked(&self, books: &Books<'_>) {
        let records = books.left.get();
        if books.close_lost(Loss::ExporterPanic, "exporter_panic") {
            diag::report(format_args!(
                "{} panicked; {records} record(s) dropped (counted in stats().dropped.exporter_panic)",
                self.exporter.name()
            ));
        }
    }

    /// Keep `traces` in the spool if this destination has one, else count them as dropped at
    /// shutdown. `in_flight`: as for [`export`](Self::export).
    fn keep_or_drop(&self, mut traces: Vec<FinishedTrace>, records: u64, in_flight: bool) {
        let books = Books::new(self, records, in_flight);
        // Kept for the next start, they go out then as they are: priced now.
        crate::pricing::apply(&self.config.prices, &mut traces);
        match catch_unwind(AssertUnwindSafe(|| self.exporter.keep(&traces))) {
            Ok(Some(tally)) => books.close(&tally),
            _ => {
                books.close_lost(Loss::Shutdown, "shutdown");
            }
        }
        drop(traces);
    }

    /// Export traces this lane prepared and journaled (in `segment`), holding `records`
    /// records, the flusher's batch, and count the outcome. The exporter takes the segment over: it goes once every record in it is
    /// answered for, and keeps what is left undelivered (or claimed by shutdown) otherwise.
    fn export_prepared(
        &self,
        items: Vec<Prepared>,
        records: u64,
        segment: Option<Segment>,
        deadline: Instant,
    ) {
        let segment = match (&self.journal, segment) {
            (Some(journal), Some(segment)) => Some(journal.seal(segment)),
            _ => None,
        };
        let books = Books::new(self, records, true);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            self.exporter
                .export_prepared(items, deadline, segment, &books)
        }));
        match outcome {
            Ok(tally) => books.close(&tally),
            Err(_) => self.exporter_panicked(&books),
        }
    }

    /// Keep prepared traces for the next start (shutdown ran out of time): those journaled
    /// stay in their segment, left on disk unclaimed; the others go to the spool.
    /// `in_flight`: as for [`export`](Self::export).
    fn keep_prepared(
        &self,
        items: Vec<Prepared>,
        records: u64,
        segment: Option<Segment>,
        in_flight: bool,
    ) {
        let books = Books::new(self, records, in_flight);
        match catch_unwind(AssertUnwindSafe(|| self.exporter.keep_prepared(&items))) {
            Ok(Some(tally)) => books.close(&tally),
            _ => {
                books.close_lost(Loss::Shutdown, "shutdown");
            }
        }
        if let (Some(journal), Some(segment)) = (&self.journal, segment) {
            journal.release(journal.seal(segment));
        }
    }

    /// Shutdown's deadline has come and the flusher has not finished: count what its batch in
    /// flight has not counted yet (`spooled` if the journal holds it, else `dropped.shutdown`),
    /// so that every record is counted when `shutdown` returns. The flusher counts nothing
    /// more of that batch. Returns the records still uncounted (none, unless traces sit in
    /// the buffer, which shutdown emptied already).
    fn claim_in_flight(&self) -> u64 {
        let mut q = self.lock();
        if q.stopped {
            return 0;
        }
        let records = std::mem::take(&mut q.unsettled);
        let journaled = std::mem::take(&mut q.unsettled_journaled).min(records);
        q.claimed = true;
        if records > 0 {
            let tally = Tally {
                spooled: journaled,
                shutdown: records - journaled,
                problem: Some(
                    "still being sent when shutdown's deadline came (the request was cut)"
                        .to_owned(),
                ),
                ..Tally::default()
            };
            // Under the lock, as the flusher counts: one of us counts each record.
            self.count(&tally, records);
            self.buffered_sub(records);
        }
        q.records
    }

    /// The flusher thread.
    fn run(self: Arc<Self>) {
        if self.exporter.keeps() {
            // First, what earlier runs left in the spool.
            let deadline = Instant::now() + self.config.export_timeout;
            if catch_unwind(AssertUnwindSafe(|| self.exporter.replay(deadline))).is_err() {
                diag::report(format_args!(
                    "the spool replay panicked; the files stay on disk"
                ));
            }
        }
        let mut next_due = Instant::now() + self.config.flush_interval;
        loop {
            let mut q = self.lock();
            loop {
                let now = Instant::now();
                let due = q.stopping
                    || q.requested > q.completed
                    || self.wake_early(&q)
                    || now >= next_due;
                // After a 429 the server asked for silence: traces wait here (bounded, and
                // counted if the buffer fills) instead of being sent or dropped. Shutdown
                // cannot wait; its export deals with the limit.
                let paused = if q.stopping {
                    None
                } else {
                    self.exporter.paused_until()
                };
                let wake_at = match (due, paused) {
                    (true, None) => break,
                    (_, Some(until)) => until.max(now + Duration::from_millis(1)),
                    (false, None) => next_due,
                };
                q = self
                    .wake
                    .wait_timeout(q, wake_at.saturating_duration_since(now))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            let generation = q.requested;
            let stopping = q.stopping;
            let deadline = match q.deadline {
                Some(d) if stopping => d,
                _ => Instant::now() + self.config.export_timeout,
            };
            q.wake_pending = false;
            let traces: Vec<FinishedTrace> = q.traces.drain(..).collect();
            let prepared = std::mem::take(&mut q.prepared);
            let segment = q.segment.take();
            let records = std::mem::take(&mut q.records);
            q.in_flight = records;
            q.in_flight_bytes = std::mem::take(&mut q.bytes);
            q.unsettled = records;
            q.unsettled_journaled = prepared
                .iter()
                .filter(|p| p.on_disk)
                .map(|p| p.given - p.unencodable)
                .sum();
            q.claimed = false;
            drop(q);

            let prepared_records: u64 = prepared.iter().map(|p| p.given).sum();
            let trace_records = records - prepared_records;
            let late = Instant::now() >= deadline;
            if !traces.is_empty() {
                if late {
                    // Shutdown's deadline passed before this batch could go.
                    self.keep_or_drop(traces, trace_records, true);
                } else {
                    self.export(traces, trace_records, deadline, true);
                }
            }
            if !prepared.is_empty() || segment.is_some() {
                if late {
                    self.keep_prepared(prepared, prepared_records, segment, true);
                } else {
                    self.export_prepared(prepared, prepared_records, segment, deadline);
                }
            }
            next_due = Instant::now() + self.config.flush_interval;

            let mut q = self.lock();
            q.in_flight = 0;
            q.in_flight_bytes = 0;
            q.unsettled = 0;
            q.unsettled_journaled = 0;
            q.completed = q.completed.max(generation);
            let done = stopping && q.traces.is_empty() && q.prepared.is_empty();
            if done {
                q.stopped = true;
            }
            drop(q);
            self.progress.notify_all();
            if done {
                return;
            }
        }
    }

    /// Ask for a flush; the generation to wait for, or `None` if there is nothing to wait for
    /// (synchronous delivery, or stopped).
    fn request_flush(&self) -> Option<u64> {
        if self.config.delivery == Delivery::Synchronous {
            return None;
        }
        let mut q = self.lock();
        if q.stopped {
            return None;
        }
        q.requested += 1;
        let generation = q.requested;
        drop(q);
        self.wake.notify_one();
        Some(generation)
    }

    fn begin_shutdown(&self, deadline: Instant) {
        let mut q = self.lock();
        if !q.stopping {
            q.stopping = true;
            q.requested += 1;
            q.deadline = Some(q.deadline.map_or(deadline, |d| d.min(deadline)));
        }
        drop(q);
        self.wake.notify_one();
    }

    /// Shutdown ran out of time with traces still buffered (the flusher is stuck on a slow
    /// server): keep them in the spool if there is one, else count them as dropped.
    fn give_up_buffered(&self) {
        let (traces, prepared, segment, records) = {
            let mut q = self.lock();
            let traces: Vec<FinishedTrace> = q.traces.drain(..).collect();
            let prepared = std::mem::take(&mut q.prepared);
            q.bytes = 0;
            let segment = q.segment.take();
            (traces, prepared, segment, std::mem::take(&mut q.records))
        };
        let prepared_records: u64 = prepared.iter().map(|p| p.given).sum();
        if !traces.is_empty() {
            self.keep_or_drop(traces, records - prepared_records, false);
        }
        if !prepared.is_empty() || segment.is_some() {
            self.keep_prepared(prepared, prepared_records, segment, false);
        }
    }

    fn wait(
        &self,
        mut q: MutexGuard<'_, Queue>,
        deadline: Instant,
        done: impl Fn(&Queue) -> bool,
    ) -> Result<(), Error> {
        while !done(&q) {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    pending: q.records + q.unsettled,
                });
            }
            q = self
                .progress
                .wait_timeout(q, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Ok(())
    }
}

/// Where one export of a lane counts its records: against the flusher's batch in flight,
/// which shutdown may claim (`in_flight`), or directly (synchronous delivery, and what
/// shutdown itself takes out of the buffer: nothing else can count those).
struct Books<'a> {
    lane: &'a Lane,
    /// This export's records not counted yet.
    left: Cell<u64>,
    in_flight: bool,
}

impl<'a> Books<'a> {
    fn new(lane: &'a Lane, records: u64, in_flight: bool) -> Self {
        Books {
            lane,
            left: Cell::new(records),
            in_flight,
        }
    }

    /// Count `records` of this export's records with `count`, unless shutdown has claimed
    /// them; `journaled` of them are in the journal. True if counted here.
    fn count(&self, records: u64, journaled: u64, count: impl FnOnce()) -> bool {
        let records = records.min(self.left.get());
        self.left.set(self.left.get() - records);
        if !self.in_flight {
            count();
            self.lane.buffered_sub(records);
            return true;
        }
        // Counted under the buffer's lock, which a claim takes too: whoever comes first
        // counts. The counters only take their own short locks, never this one.
        let mut q = self.lane.lock();
        if q.claimed {
            return false;
        }
        q.unsettled = q.unsettled.saturating_sub(records);
        q.unsettled_journaled = q
            .unsettled_journaled
            .saturating_sub(journaled)
            .min(q.unsettled);
        count();
        self.lane.buffered_sub(records);
        true
    }

    /// Count the rest of this export's records with `tally`, which the exporter returned
    /// (what it does not account for is lost to the network).
    fn close(&self, tally: &Tally) {
        let left = self.left.get();
        if left > 0 {
            self.count(left, left, || self.lane.count(tally, left));
        }
    }

    /// Count the rest of this export's records as lost for `reason`; false if there was
    /// nothing left to count here.
    fn close_lost(&self, reason: Loss, counter: &'static str) -> bool {
        let left = self.left.get();
        left > 0 && self.count(left, left, || self.lane.count_lost(reason, counter, left))
    }
}

impl Settle for Books<'_> {
    fn settle(&self, tally: &Tally, journaled: bool) -> bool {
        let records = tally.total().saturating_sub(tally.derived);
        let on_disk = if journaled { records } else { 0 };
        self.count(records, on_disk, || self.lane.count(tally, records))
    }
}

impl crate::dispatch::Sink for Pipeline {
    fn submit(&self, trace: FinishedTrace) {
        Pipeline::submit(self, trace);
    }
}
