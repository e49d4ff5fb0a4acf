//! The bounded buffer between finished traces and the exporter, and the background thread
//! that drains it.
//!
//! Closing a trace only pushes it here (one short lock); the flusher thread exports what is
//! buffered every `flush_interval`, sooner when the buffer is a quarter full, and at once on
//! `flush`. In synchronous delivery there is no thread: the closing thread exports.
//!
//! Waking the flusher early is rare by design: waking a sleeping thread is a system call and a
//! context switch (in a virtual machine, an interrupt between cores too), which cost more than
//! thousands of spans. The flusher packs whatever it takes into requests of `max_batch_*`.
//!
//! The buffer's bounds (records and bytes) cover the traces being exported too, so memory
//! held by finished traces never passes them. While the server's rate limit is in force (a
//! 429) the flusher leaves traces in the buffer. Only shutdown shortens an export's deadline:
//! a `flush` that times out leaves its records to be delivered by the export under way.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{Config, Delivery};
use crate::diag;
use crate::error::Error;
use crate::export::Exporter;
use crate::record::FinishedTrace;
use crate::redact;
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
    /// Records and bytes taken by the flusher and not yet counted as sent or dropped.
    in_flight: u64,
    in_flight_bytes: usize,
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
        if !background && p.exporter.keeps() {
            // What earlier runs left in the spool goes out on a thread of its own: in
            // synchronous delivery there is no flusher, and `init` must not wait for it.
            let replayer = p.clone();
            let _ = std::thread::Builder::new()
                .name("modelmetry-replay".into())
                .spawn(move || {
                    let deadline = Instant::now() + replayer.config.export_timeout;
                    let _ = catch_unwind(AssertUnwindSafe(|| replayer.exporter.replay(deadline)));
                });
        }
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
        if q.records + q.in_flight + records > self.config.max_buffer_records
            || q.bytes + q.in_flight_bytes + bytes > self.config.max_buffer_bytes
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
        let wake = !q.wake_pending && self.wake_early(&q);
        q.wake_pending |= wake;
        drop(q);
        if wake {
            self.wake.notify_one();
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
    fn export(&self, mut traces: Vec<FinishedTrace>, records: u64, deadline: Instant) {
        // Every captured value passes the user's redaction hook before any exporter sees it.
        let redaction_lost = redact::apply(self.config.redact.as_ref(), &mut traces);
        let exportable = records - redaction_lost;
        let outcome = catch_unwind(AssertUnwindSafe(|| self.exporter.export(&traces, deadline)));
        match outcome {
            Ok(tally) => tally.count(exportable),
            Err(_) => {
                stats::count_drop(DropReason::ExporterPanic, exportable);
                diag::report(format_args!(
                    "the exporter panicked; {exportable} record(s) dropped (counted in stats().dropped.exporter_panic)"
                ));
            }
        }
        // Dropping the traces may run user `Drop` code inside captured values: keep it outside
        // any lock, and after the counters are right.
        for trace in traces {
            crate::record::recycle_arena(trace.spans);
        }
        stats::buffered_sub(records);
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
            let records = std::mem::take(&mut q.records);
            q.in_flight = records;
            q.in_flight_bytes = std::mem::take(&mut q.bytes);
            drop(q);

            if !traces.is_empty() {
                if Instant::now() >= deadline {
                    // Shutdown's deadline passed before this batch could go: keep it in the
                    // spool if there is one, else say it is lost.
                    match catch_unwind(AssertUnwindSafe(|| self.exporter.keep(&traces))) {
                        Ok(Some(tally)) => tally.count(records),
                        _ => stats::count_drop(DropReason::Shutdown, records),
                    }
                    drop(traces);
                    stats::buffered_sub(records);
                } else {
                    self.export(traces, records, deadline);
                }
            }
            next_due = Instant::now() + self.config.flush_interval;

            let mut q = self.lock();
            q.in_flight = 0;
            q.in_flight_bytes = 0;
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
        self.wake.notify_one();
        self.wait(q, deadline, |q| q.completed >= generation)
    }

    /// Send what the spool holds now, on this thread, until `timeout`.
    pub(crate) fn replay_spool(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        catch_unwind(AssertUnwindSafe(|| self.exporter.replay(deadline))).unwrap_or_else(|_| {
            Err(Error::Transport {
                reason: "the spool replay panicked; the files stay on disk".to_owned(),
            })
        })
    }

    /// Export what is buffered, stop the flusher and wait for it, until `timeout`. Anything
    /// that cannot go before the deadline is counted as dropped at shutdown.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), Error> {
        // Streams still open (leaked, or still being read) go out as they stand: what they
        // recorded has been delivered already, and needs its parent span.
        for trace in crate::context::owned::unfinished() {
            self.submit(trace);
        }
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
        // With a spool, stop waiting a little early: what is still buffered then (the flusher
        // is stuck on a slow server) must reach the disk before the deadline.
        let reserve = if self.exporter.keeps() {
            timeout.min(Duration::from_millis(500)) / 5
        } else {
            Duration::ZERO
        };
        let early = deadline.checked_sub(reserve).unwrap_or(deadline);
        let mut result = self.wait(q, early, |q| q.stopped);
        if result.is_err() {
            self.give_up_buffered();
            result = self.wait(self.lock(), deadline, |q| q.stopped);
        }
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

    /// Shutdown ran out of time with traces still buffered (the flusher is stuck on a slow
    /// server): keep them in the spool if there is one, else count them as dropped.
    fn give_up_buffered(&self) {
        let (traces, records) = {
            let mut q = self.lock();
            let traces: Vec<FinishedTrace> = q.traces.drain(..).collect();
            q.bytes = 0;
            (traces, std::mem::take(&mut q.records))
        };
        if traces.is_empty() {
            return;
        }
        match catch_unwind(AssertUnwindSafe(|| self.exporter.keep(&traces))) {
            Ok(Some(tally)) => tally.count(records),
            _ => stats::count_drop(DropReason::Shutdown, records),
        }
        drop(traces);
        stats::buffered_sub(records);
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

impl crate::dispatch::Sink for Pipeline {
    fn submit(&self, trace: FinishedTrace) {
        Pipeline::submit(self, trace);
    }
}
