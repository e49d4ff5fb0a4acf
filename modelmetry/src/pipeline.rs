//! The bounded buffer between finished traces and the exporter, and the background thread
//! that drains it.
//!
//! Closing a trace only pushes it here (one short lock); the flusher thread exports batches
//! every `flush_interval`, sooner when a batch fills up, and at once on `flush`. In
//! synchronous delivery there is no thread: the closing thread exports.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{Config, Delivery};
use crate::diag;
use crate::error::Error;
use crate::export::{Exporter, Tally};
use crate::record::FinishedTrace;
use crate::stats::{self, Drop as DropReason};

pub(crate) struct Pipeline {
    config: Config,
    exporter: Box<dyn Exporter>,
    queue: Mutex<Queue>,
    /// Wakes the flusher: a batch is full, a flush was asked for, or shutdown began.
    wake: Condvar,
    /// Wakes waiters in `flush` and `shutdown`: an export round finished.
    progress: Condvar,
    worker: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct Queue {
    traces: VecDeque<FinishedTrace>,
    records: u64,
    bytes: usize,
    /// Records taken by the flusher and not yet counted as sent or dropped.
    in_flight: u64,
    /// Flush requests made and completed: a flush waits until `completed` reaches its number.
    requested: u64,
    completed: u64,
    /// The earliest deadline among pending flush requests.
    deadline: Option<Instant>,
    stopping: bool,
    stopped: bool,
}

impl Pipeline {
    pub(crate) fn start(config: Config, exporter: Box<dyn Exporter>) -> Arc<Pipeline> {
        let background = config.delivery == Delivery::Background;
        let p = Arc::new(Pipeline {
            config,
            exporter,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            progress: Condvar::new(),
            worker: Mutex::new(None),
        });
        if background {
            let worker = p.clone();
            let spawned = std::thread::Builder::new()
                .name("modelmetry-flusher".into())
                .spawn(move || worker.run());
            match spawned {
                Ok(handle) => {
                    *p.worker.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle)
                }
                Err(e) => {
                    // Without a thread, nothing would ever drain the buffer: say so, and stop
                    // accepting traces so they are counted instead of piling up.
                    diag::report(format_args!(
                        "could not start the flusher thread ({e}); traces will be dropped and counted"
                    ));
                    p.lock().stopping = true;
                }
            }
        }
        p
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// Take a finished trace. Never blocks on the network in background delivery.
    pub(crate) fn submit(&self, trace: FinishedTrace) {
        let records = trace.record_count();
        stats::count_produced(records);
        if self.config.delivery == Delivery::Synchronous {
            stats::buffered_add(records);
            let deadline = Instant::now() + self.config.export_timeout;
            self.export(vec![trace], records, deadline);
            return;
        }
        let bytes = trace.approx_bytes();
        let mut q = self.lock();
        if q.stopping {
            drop(q);
            stats::count_drop(DropReason::Shutdown, records);
            return;
        }
        if q.records + records > self.config.max_buffer_records
            || q.bytes + bytes > self.config.max_buffer_bytes
        {
            drop(q);
            stats::count_drop(DropReason::BufferFull, records);
            diag::once(
                "buffer_full",
                format_args!(
                    "the trace buffer is full; finished traces are being dropped (counted in stats().dropped.buffer_full)"
                ),
            );
            return;
        }
        q.traces.push_back(trace);
        q.records += records;
        q.bytes += bytes;
        stats::buffered_add(records);
        let full = q.records >= self.config.max_batch_records as u64
            || q.bytes >= self.config.max_batch_bytes;
        drop(q);
        if full {
            self.wake.notify_one();
        }
    }

    /// Export `traces` (holding `records` records) and count the outcome, whatever happens.
    fn export(&self, traces: Vec<FinishedTrace>, records: u64, deadline: Instant) {
        let outcome = catch_unwind(AssertUnwindSafe(|| self.exporter.export(&traces, deadline)));
        match outcome {
            Ok(tally) => account(&tally, records),
            Err(_) => {
                stats::count_drop(DropReason::ExporterPanic, records);
                diag::report(format_args!(
                    "the exporter panicked; {records} record(s) dropped (counted in stats().dropped.exporter_panic)"
                ));
            }
        }
        // Dropping the traces may run user `Drop` code inside captured values: keep it outside
        // any lock, and after the counters are right.
        drop(traces);
        stats::buffered_sub(records);
    }

    /// The flusher thread.
    fn run(self: Arc<Self>) {
        let mut next_due = Instant::now() + self.config.flush_interval;
        loop {
            let mut q = self.lock();
            loop {
                let batch_full = q.records >= self.config.max_batch_records as u64
                    || q.bytes >= self.config.max_batch_bytes;
                if q.stopping || q.requested > q.completed || batch_full {
                    break;
                }
                let now = Instant::now();
                if now >= next_due {
                    break;
                }
                q = self
                    .wake
                    .wait_timeout(q, next_due - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            let generation = q.requested;
            let stopping = q.stopping;
            let deadline = q
                .deadline
                .take()
                .unwrap_or_else(|| Instant::now() + self.config.export_timeout);
            let traces: Vec<FinishedTrace> = q.traces.drain(..).collect();
            let records = std::mem::take(&mut q.records);
            q.bytes = 0;
            q.in_flight = records;
            drop(q);

            if !traces.is_empty() {
                if Instant::now() >= deadline {
                    // Shutdown's deadline passed before this batch could go: say so.
                    stats::count_drop(DropReason::Shutdown, records);
                    stats::buffered_sub(records);
                } else {
                    self.export(traces, records, deadline);
                }
            }
            next_due = Instant::now() + self.config.flush_interval;

            let mut q = self.lock();
            q.in_flight = 0;
            q.completed = q.completed.max(generation);
            let done = stopping && q.traces.is_empty();
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

    /// Export everything buffered now and wait for it, until `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), Error> {
        if self.config.delivery == Delivery::Synchronous {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let mut q = self.lock();
        if q.stopped {
            return Ok(());
        }
        q.requested += 1;
        let generation = q.requested;
        q.deadline = Some(q.deadline.map_or(deadline, |d| d.min(deadline)));
        self.wake.notify_one();
        self.wait(q, deadline, |q| q.completed >= generation)
    }

    /// Export what is buffered, stop the flusher and wait for it, until `timeout`. Anything
    /// that cannot go before the deadline is counted as dropped at shutdown.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), Error> {
        if self.config.delivery == Delivery::Synchronous {
            self.lock().stopping = true;
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let mut q = self.lock();
        if !q.stopping {
            q.stopping = true;
            q.requested += 1;
            q.deadline = Some(q.deadline.map_or(deadline, |d| d.min(deadline)));
        }
        self.wake.notify_one();
        let result = self.wait(q, deadline, |q| q.stopped);
        if result.is_ok() {
            if let Some(handle) = self
                .worker
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                // The thread has said it is done, so this join returns at once.
                let _ = handle.join();
            }
        }
        result
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
                    pending: q.records + q.in_flight,
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

/// Count an export's outcome; whatever the exporter did not account for is counted as a
/// network loss, so the balance always holds.
fn account(tally: &Tally, records: u64) {
    stats::count_sent(tally.sent);
    stats::count_drop(DropReason::Rejected, tally.rejected);
    stats::count_drop(DropReason::TooLarge, tally.too_large);
    let unaccounted = records.saturating_sub(tally.sent + tally.rejected + tally.too_large);
    stats::count_drop(DropReason::Network, unaccounted);
}
