//! Delivering encoded records: requests packed by count and bytes, retries with backoff and
//! jitter, the 429 gate, splitting refused and oversized batches, and the disk spool.
//!
//! The rules, in the order a request meets them:
//!
//! - A request over the byte limit is never sent: it is split in half, down to single records;
//!   a single record over the limit is dropped as too large.
//! - Network errors and 429/502/503/504 are retried with exponential backoff and full jitter
//!   until the deadline; `Retry-After` (seconds or an HTTP date) is honoured, capped at
//!   [`MAX_RETRY_AFTER`](crate::transport::retry::MAX_RETRY_AFTER) (see `transport/retry.rs`,
//!   which the OpenTelemetry exporter shares).
//! - After a 429 nothing at all is sent (by any thread of this client) until its
//!   `Retry-After` has passed; a request whose deadline comes first is skipped and counted.
//! - A 413, or a 400/422 for a batch of many records, splits the batch in half, again and
//!   again, so the records the server refuses are isolated and the others delivered.
//! - Every other 4xx is permanent: the records are counted as rejected and the server's
//!   `detail` is reported once.
//! - With a spool, every request is written to disk before it is sent and removed once the
//!   server has answered for its records; what is still undelivered at the deadline stays
//!   there for the next run or [`replay`](IngestSender::replay). Records the pipeline journaled
//!   (background delivery) are on disk already: their journal segment plays the request
//!   file's part, removed, kept or rewritten with what is left once they are answered for.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde_json::Value;

use super::batch::{Encoded, Section, assemble, in_send_order, pack};
use super::{Settle, Tally};
use crate::config::{self, Config};

use crate::diag;
use crate::error::Error;
use crate::stats;
use crate::transport::http::{HttpTransport, Proxy, SendError, TransportOptions};
use crate::transport::retry;
use crate::transport::spool::{Spool, SpoolError, SpoolFile, destination_tag};

/// How many times one request may be split to isolate records the server refuses with
/// 400/422 (enough for a few bad records among thousands); past it, a refused batch is
/// counted as rejected whole rather than hammering the server.
const SPLIT_BUDGET: u32 = 64;
/// How much of a payload debug output shows.
const DEBUG_PAYLOAD: usize = 4096;
/// How many distinct refusals are remembered so each is reported once.
const REMEMBERED_REFUSALS: usize = 256;

/// The Modelmetry ingest endpoint, under the base URL.
const INGEST_PATH: &str = "/signals/ingest/v1";

/// The ingest endpoint under `base_url` (a query or fragment of the base URL is left out).
fn ingest_url(base_url: &str) -> String {
    let base = base_url.trim();
    let base = base.split(['?', '#']).next().unwrap_or(base);
    format!("{}{INGEST_PATH}", base.trim_end_matches('/'))
}

pub(crate) struct IngestSender {
    transport: HttpTransport,
    spool: Option<Arc<Spool>>,
    max_records: usize,
    max_bytes: usize,
    debug: bool,
    /// Refusals (status and detail) already reported: each is reported once per client.
    reported: Mutex<HashSet<(u16, String)>>,
    /// Set when records were left in the spool: a later successful send replays them.
    backlog: AtomicBool,
}

/// Why a record was not delivered (yet).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Undelivered {
    Network,
    RateLimited,
    /// Cut off by shutdown's deadline.
    Shutdown,
}

/// The state of one delivery: what happened to each record, and what to report.
struct Run<'a> {
    deadline: Instant,
    tally: Tally,
    /// Records without an answer, and why.
    pending: Vec<(&'a Encoded, Undelivered)>,
    /// Records refused, by status and detail.
    refusals: BTreeMap<(u16, String), u64>,
    splits_left: u32,
    /// The last transport error, for the report.
    last_error: Option<String>,
}

impl IngestSender {
    /// The sender to the Modelmetry ingest endpoint of `config`, authenticated by its API key
    /// (`X-API-KEY`).
    pub(crate) fn new(config: &Config) -> Result<Self, Error> {
        let key = config.key().ok_or_else(|| Error::Config {
            setting: "MODELMETRY_API_KEY",
            reason: "the http exporter needs an API key".to_owned(),
        })?;
        let url = ingest_url(&config.base_url);
        if config.base_url.trim().contains(['?', '#']) {
            // Reported through the application's hook when it set one (the client installs
            // that hook only after building its exporters).
            diag::report_to(
                config.on_error.as_ref(),
                format_args!(
                    "MODELMETRY_BASE_URL has a query or fragment, which is ignored: requests go to {}",
                    diag::without_userinfo(&url)
                ),
            );
        }
        let spool = config.spool_dir.as_deref().map(|dir| {
            let tag = destination_tag(key.expose(), &url);
            Arc::new(Spool::open(dir, config.max_spool_bytes, tag))
        });
        let backlog = spool.as_deref().is_some_and(Spool::has_backlog);
        let transport = HttpTransport::new(TransportOptions {
            proxy: Proxy::for_loopback(config::targets_loopback(&url)),
            url,
            headers: vec![("X-API-KEY".to_owned(), key.expose().to_owned())],
            content_type: "application/json",
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
        });
        Ok(IngestSender {
            transport,
            spool,
            max_records: config.max_batch_records,
            max_bytes: config.max_batch_bytes,
            debug: config.debug,
            reported: Mutex::new(HashSet::new()),
            backlog: AtomicBool::new(backlog),
        })
    }

    pub(crate) fn paused_until(&self) -> Option<Instant> {
        self.transport.paused_until()
    }

    pub(crate) fn has_spool(&self) -> bool {
        self.spool.is_some()
    }

    /// The spool, for the journal of finished traces.
    pub(crate) fn spool(&self) -> Option<Arc<Spool>> {
        self.spool.clone()
    }

    /// Interrupt the request in flight and send nothing more (shutdown's deadline).
    pub(crate) fn cut(&self) {
        self.transport.cut();
    }

    /// Deliver `records` by `deadline`, each request's outcome counted through `counted` as
    /// soon as it is known. With a spool, each request is on disk before it goes. Returns the
    /// whole outcome (counted already).
    pub(crate) fn deliver(
        &self,
        records: &[Encoded],
        deadline: Instant,
        counted: &dyn Settle,
    ) -> Tally {
        let requests = pack(records, self.max_records, self.max_bytes);
        let files: Vec<Option<Result<SpoolFile, SpoolError>>> = requests
            .iter()
            .map(|r| self.spool.as_ref().map(|s| s.write(&r.body)))
            .collect();
        let mut tally = Tally::default();
        for (request, file) in requests.into_iter().zip(files) {
            let group: Vec<&Encoded> = records[request.range.clone()].iter().collect();
            let mut run = Run::new(deadline);
            self.send(&group, Some(request.body), &mut run);
            self.settle(file, group.len(), &mut run);
            run.tally.derived = sessions(&group);
            // Counted before it is reported: the report may run the user's hook.
            counted.settle(&run.tally, false);
            self.report(&run);
            tally.add(&run.tally);
        }
        self.after_delivery(&tally, deadline);
        tally
    }

    /// Deliver `records`, all of them on disk already in the journal `segment`, by
    /// `deadline`, each request's answer counted through `counted` as soon as it is known.
    /// Nothing is written ahead; afterwards the segment goes if every record was answered for,
    /// stays as it is if none was, and is rewritten with what is left otherwise. Records
    /// shutdown claimed (counted as spooled) stay in it whatever their answer: a record the
    /// server accepted after the claim is sent again by the next start, with the same `XID`.
    /// Returns the whole outcome (counted already).
    pub(crate) fn deliver_journaled(
        &self,
        records: &[Encoded],
        deadline: Instant,
        segment: Option<SpoolFile>,
        counted: &dyn Settle,
    ) -> Tally {
        let mut run = Run::new(deadline);
        let mut claimed: Vec<&Encoded> = Vec::new();
        for request in pack(records, self.max_records, self.max_bytes) {
            let group: Vec<&Encoded> = records[request.range.clone()].iter().collect();
            // Each request has its own budget of splits, as in `deliver`.
            run.splits_left = SPLIT_BUDGET;
            let before = run.tally.clone();
            let pending_before = run.pending.len();
            self.send(&group, Some(request.body), &mut run);
            // What the server answered for now is counted now; what is still pending, once
            // the segment is settled.
            let left: HashSet<*const Encoded> = run.pending[pending_before..]
                .iter()
                .map(|(r, _)| std::ptr::from_ref(*r))
                .collect();
            let answered: Vec<&Encoded> = group
                .iter()
                .copied()
                .filter(|r| !left.contains(&std::ptr::from_ref(*r)))
                .collect();
            let outcome = Tally {
                derived: sessions(&answered),
                sent: run.tally.sent - before.sent,
                rejected: run.tally.rejected - before.rejected,
                too_large: run.tally.too_large - before.too_large,
                problem: run.tally.problem.clone(),
                ..Tally::default()
            };
            if !answered.is_empty() && !counted.settle(&outcome, true) {
                claimed.extend(answered);
            }
        }
        // Records shutdown claimed are counted as spooled: they stay in the segment.
        run.pending
            .extend(claimed.into_iter().map(|r| (r, Undelivered::Shutdown)));
        let mut rest = Run::new(deadline);
        let pending: Vec<&Encoded> = run.pending.iter().map(|(r, _)| *r).collect();
        rest.tally.derived = sessions(&pending);
        rest.pending = std::mem::take(&mut run.pending);
        rest.last_error.clone_from(&run.last_error);
        self.settle(segment.map(Ok), records.len(), &mut rest);
        counted.settle(&rest.tally, true);
        run.tally.spooled += rest.tally.spooled;
        run.tally.shutdown += rest.tally.shutdown;
        run.tally.network += rest.tally.network;
        run.tally.rate_limited += rest.tally.rate_limited;
        run.tally.spool_full += rest.tally.spool_full;
        run.tally.spool_write_failed += rest.tally.spool_write_failed;
        if rest.tally.problem.is_some() {
            run.tally.problem = rest.tally.problem;
        }
        self.report(&run);
        self.after_delivery(&run.tally, deadline);
        run.tally
    }

    /// After a delivery: if the server answered again, send what earlier failures left on
    /// disk.
    fn after_delivery(&self, tally: &Tally, deadline: Instant) {
        if tally.sent > 0 && self.backlog.load(Relaxed) && Instant::now() < deadline {
            let _ = self.replay(deadline);
        }
    }

    /// Write `records` to the spool without sending them.
    pub(crate) fn keep(&self, records: &[Encoded]) -> Option<Tally> {
        let spool = self.spool.as_ref()?;
        let mut tally = Tally::default();
        for request in pack(records, self.max_records, self.max_bytes) {
            let n = request.records;
            match spool.write(&request.body) {
                Ok(f) => {
                    spool.release(f);
                    tally.spooled += n;
                    self.backlog.store(true, Relaxed);
                }
                Err(e) => spool_failed(&mut tally, n, &e),
            }
        }
        Some(tally)
    }

    /// Send every spool file nobody in this process is sending, oldest first, until
    /// `deadline`. Stops at the first file that cannot be delivered (the server is still
    /// down). `Err(Timeout)` tells how many records are still on disk.
    pub(crate) fn replay(&self, deadline: Instant) -> Result<(), Error> {
        let Some(spool) = &self.spool else {
            return Ok(());
        };
        self.backlog.store(false, Relaxed);
        let (files, others) = spool.claim_pending();
        if others > 0 {
            diag::once(
                "spool_other_destinations",
                format_args!(
                    "the spool holds {others} file(s) for another API key or URL; left in place for the process that sends there"
                ),
            );
        }
        let mut files = files.into_iter();
        let mut left_on_disk = 0;
        let mut stalled = false;
        for file in files.by_ref() {
            if stalled || Instant::now() >= deadline {
                left_on_disk += records_in(spool, &file);
                spool.release(file);
                continue;
            }
            if file.len() > spool.max_bytes() {
                // Never read whole: a file this large did not come from this spool's writer.
                stats::count_spool_corrupt_file();
                diag::report(format_args!(
                    "spool file {} is larger than the spool's byte bound ({} bytes); skipped without reading it and renamed *.oversize",
                    file.name(),
                    spool.max_bytes()
                ));
                spool.quarantine(file, "oversize");
                continue;
            }
            let records = match spool.read(&file).map(|bytes| decode(&bytes)) {
                Ok(Some((records, unreadable))) => {
                    if unreadable > 0 {
                        diag::report(format_args!(
                            "spool file {} has {unreadable} line(s) that do not read (a process died while writing it); the rest is sent",
                            file.name()
                        ));
                    }
                    records
                }
                Ok(None) => {
                    stats::count_spool_corrupt_file();
                    diag::report(format_args!(
                        "spool file {} is not an ingest body; skipped and renamed *.corrupt",
                        file.name()
                    ));
                    spool.quarantine(file, "corrupt");
                    continue;
                }
                Err(e) => {
                    diag::report(format_args!(
                        "cannot read spool file {}: {e}; left for a later replay",
                        file.name()
                    ));
                    spool.release(file);
                    continue;
                }
            };
            let n = records.len() as u64;
            stats::count_produced(n);
            stats::count_replayed(n);
            stats::buffered_add(n);
            let mut run = Run::new(deadline);
            for request in pack(&records, self.max_records, self.max_bytes) {
                let group: Vec<&Encoded> = records[request.range].iter().collect();
                self.send(&group, Some(request.body), &mut run);
            }
            let stuck = run.pending.len() as u64;
            self.settle(Some(Ok(file)), records.len(), &mut run);
            self.report(&run);
            run.tally.count(n);
            stats::buffered_sub(n);
            if stuck > 0 {
                left_on_disk += stuck;
                stalled = true;
            }
        }
        if left_on_disk > 0 {
            self.backlog.store(true, Relaxed);
            return Err(Error::Timeout {
                pending: left_on_disk,
            });
        }
        Ok(())
    }

    /// Send `group` (its body already assembled, or not), splitting it as the rules say.
    fn send<'a>(&self, group: &[&'a Encoded], body: Option<Vec<u8>>, run: &mut Run<'a>) {
        let n = group.len() as u64;
        let body = body.unwrap_or_else(|| assemble(group).body);
        if body.len() > self.max_bytes {
            if group.len() > 1 {
                return self.halves(group, run);
            }
            run.tally.too_large += 1;
            run.tally.problem = Some(format!(
                "a record of {} bytes is over the request limit of {} bytes",
                body.len(),
                self.max_bytes
            ));
            // Status 0: refused here, never sent.
            *run.refusals
                .entry((
                    0,
                    format!(
                        "a record of {} bytes is over the request limit of {} bytes (not sent)",
                        body.len(),
                        self.max_bytes
                    ),
                ))
                .or_insert(0) += 1;
            return;
        }
        if self.debug {
            let shown = String::from_utf8_lossy(&body[..body.len().min(DEBUG_PAYLOAD)]);
            diag::report(format_args!(
                "debug: sending {n} record(s), {} bytes: {shown}{}",
                body.len(),
                if body.len() > DEBUG_PAYLOAD {
                    "…"
                } else {
                    ""
                }
            ));
        }
        match retry::send_with_retry(&self.transport, &body, n, run.deadline) {
            Ok(_) => run.tally.sent += n,
            Err(SendError::Rejected { status, detail }) => {
                let may_split = group.len() > 1
                    && (status == 413 || (matches!(status, 400 | 422) && run.splits_left > 0));
                if may_split {
                    if status != 413 {
                        run.splits_left -= 1;
                    }
                    return self.halves(group, run);
                }
                if status == 413 {
                    run.tally.too_large += n;
                } else {
                    run.tally.rejected += n;
                }
                run.tally.problem = Some(format!("refused with status {status}: {detail}"));
                *run.refusals.entry((status, detail)).or_insert(0) += n;
            }
            Err(SendError::Cut) => {
                run.pending
                    .extend(group.iter().map(|r| (*r, Undelivered::Shutdown)));
                run.last_error = Some(SendError::Cut.to_string());
            }
            Err(SendError::RateLimited) => {
                run.pending
                    .extend(group.iter().map(|r| (*r, Undelivered::RateLimited)));
                run.last_error = Some(SendError::RateLimited.to_string());
            }
            Err(e) => {
                run.pending
                    .extend(group.iter().map(|r| (*r, Undelivered::Network)));
                run.last_error = Some(e.to_string());
            }
        }
    }

    fn halves<'a>(&self, group: &[&'a Encoded], run: &mut Run<'a>) {
        let (first, second) = group.split_at(group.len() / 2);
        self.send(first, None, run);
        self.send(second, None, run);
    }

    /// Settle what `run` left undelivered of a request of `records` records (written ahead
    /// to `file`, when there is a spool): into the spool, or counted as lost.
    fn settle(
        &self,
        file: Option<Result<SpoolFile, SpoolError>>,
        records: usize,
        run: &mut Run<'_>,
    ) {
        let pending = std::mem::take(&mut run.pending);
        let n = pending.len() as u64;
        if n > 0 {
            run.tally.problem.clone_from(&run.last_error);
        }
        match (file, &self.spool) {
            (Some(Ok(file)), Some(spool)) => {
                if pending.is_empty() {
                    spool.remove(file);
                } else if pending.len() == records {
                    spool.release(file);
                } else {
                    // Keep only what is still undelivered. If that write fails the whole
                    // file stays: the delivered records may be sent twice, never lost.
                    let left: Vec<&Encoded> = pending.iter().map(|(r, _)| *r).collect();
                    let _ = spool.replace(file, &assemble(&left).body);
                }
                if n > 0 {
                    run.tally.spooled += n;
                    self.backlog.store(true, Relaxed);
                }
            }
            (Some(Err(e)), _) => spool_failed(&mut run.tally, n, &e),
            _ => {
                for (_, why) in pending {
                    match why {
                        Undelivered::Network => run.tally.network += 1,
                        Undelivered::RateLimited => run.tally.rate_limited += 1,
                        Undelivered::Shutdown => run.tally.shutdown += 1,
                    }
                }
            }
        }
    }

    /// Report a delivery's refusals (each distinct one once per client) and losses.
    fn report(&self, run: &Run<'_>) {
        for ((status, detail), n) in &run.refusals {
            let first = {
                let mut seen = self.reported.lock().unwrap_or_else(PoisonError::into_inner);
                if seen.len() >= REMEMBERED_REFUSALS {
                    seen.clear();
                }
                seen.insert((*status, detail.clone()))
            };
            if first && *status == 0 {
                diag::report(format_args!(
                    "{n} record(s) dropped: {detail} (counted in stats().dropped.too_large; further drops like this one are counted, not reported)"
                ));
            } else if first {
                let counted = if *status == 413 {
                    "too_large"
                } else {
                    "rejected"
                };
                diag::report(format_args!(
                    "the server refused {n} record(s) with status {status}: {detail} (counted in stats().dropped.{counted}; further refusals like this one are counted, not reported)"
                ));
            }
        }
        let t = &run.tally;
        let lost = t.network + t.rate_limited + t.shutdown;
        if lost > 0 {
            diag::report(format_args!(
                "{lost} record(s) not delivered: {}",
                run.last_error.as_deref().unwrap_or("unknown error")
            ));
        } else if t.spooled > 0 {
            diag::report(format_args!(
                "{} record(s) kept in the spool for a later delivery: {}",
                t.spooled,
                run.last_error.as_deref().unwrap_or("unknown error")
            ));
        }
    }
}

impl<'a> Run<'a> {
    fn new(deadline: Instant) -> Self {
        Run {
            deadline,
            tally: Tally::default(),
            pending: Vec::new(),
            refusals: BTreeMap::new(),
            splits_left: SPLIT_BUDGET,
            last_error: None,
        }
    }
}

/// The session records among `records`: made by the exporter, beyond the records it was
/// given.
fn sessions(records: &[&Encoded]) -> u64 {
    records
        .iter()
        .filter(|r| r.section == Section::Sessions)
        .count() as u64
}

fn spool_failed(tally: &mut Tally, n: u64, e: &SpoolError) {
    if n == 0 {
        return;
    }
    tally.problem = Some(match e {
        SpoolError::Full => "the spool is full".to_owned(),
        SpoolError::Io(err) => format!("cannot write to the spool: {err}"),
    });
    match e {
        SpoolError::Full => {
            tally.spool_full += n;
            diag::once(
                "spool_full",
                format_args!(
                    "the spool is full; undeliverable records are dropped (counted in stats().dropped.spool_full)"
                ),
            );
        }
        SpoolError::Io(err) => {
            tally.spool_write_failed += n;
            diag::once(
                "spool_write_failed",
                format_args!(
                    "cannot write to the spool ({err}); undeliverable records are dropped (counted in stats().dropped.spool_write_failed)"
                ),
            );
        }
    }
}

/// The records of a spool file, and how many of its lines could not be read; `None` if no
/// line is an ingest body we wrote.
///
/// A request file is one body; a journal segment is one body a line, the last of which may
/// have been cut short by the death of the process writing it (its trace's call never
/// returned): lines that do not read are skipped and counted.
fn decode(bytes: &[u8]) -> Option<(Vec<Encoded>, u64)> {
    let mut out = Vec::new();
    let mut unreadable = 0;
    for line in bytes.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match decode_body(line) {
            Some(records) => out.extend(records),
            None => unreadable += 1,
        }
    }
    if out.is_empty() {
        return None;
    }
    // Sessions and traces first, as the exporter sends them; one record per session.
    Some((in_send_order(out), unreadable))
}

/// The records of one ingest body.
fn decode_body(bytes: &[u8]) -> Option<Vec<Encoded>> {
    let body: BTreeMap<String, Vec<Value>> = serde_json::from_slice(bytes).ok()?;
    let mut out = Vec::new();
    for (key, items) in &body {
        let section = Section::from_key(key)?;
        for item in items {
            if !item.is_object() {
                return None;
            }
            out.push(Encoded {
                section,
                json: serde_json::to_vec(item).ok()?,
            });
        }
    }
    if out.is_empty() {
        return None;
    }
    Some(out)
}

/// How many records a spool file holds (0 if it cannot be read), for a report.
fn records_in(spool: &Spool, file: &SpoolFile) -> u64 {
    spool
        .read(file)
        .ok()
        .and_then(|b| decode(&b))
        .map_or(0, |(r, _)| r.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ingest_url_is_the_base_and_the_path() {
        assert_eq!(
            ingest_url(crate::config::DEFAULT_BASE_URL),
            "https://api.modelmetry.com/signals/ingest/v1"
        );
        assert_eq!(
            ingest_url(" http://127.0.0.1:9/?tenant=a#top"),
            "http://127.0.0.1:9/signals/ingest/v1"
        );
    }

    #[test]
    fn spool_files_decode_to_their_records_in_send_order() {
        let body = br#"{"Spans":[{"XID":"s1"},{"XID":"s2"}],"Traces":[{"XID":"t"}]}"#;
        let (records, unreadable) = decode(body).expect("an ingest body");
        assert_eq!(unreadable, 0);
        let order: Vec<(Section, String)> = records
            .iter()
            .map(|r| (r.section, String::from_utf8_lossy(&r.json).into_owned()))
            .collect();
        assert_eq!(
            order,
            vec![
                (Section::Traces, r#"{"XID":"t"}"#.to_owned()),
                (Section::Spans, r#"{"XID":"s1"}"#.to_owned()),
                (Section::Spans, r#"{"XID":"s2"}"#.to_owned()),
            ]
        );
    }

    #[test]
    fn a_journal_segment_decodes_line_by_line_and_skips_a_torn_last_line() {
        let segment = concat!(
            r#"{"Sessions":[{"XID":"chat-1"}],"Traces":[{"XID":"t1"}],"Spans":[{"XID":"s1"}]}"#,
            "\n",
            r#"{"Sessions":[{"XID":"chat-1"}],"Traces":[{"XID":"t2"}]}"#,
            "\n",
            r#"{"Traces":[{"XID":"t3"}],"Spa"#,
        );
        let (records, unreadable) = decode(segment.as_bytes()).expect("two whole lines");
        assert_eq!(unreadable, 1, "the torn line");
        let xids: Vec<String> = records
            .iter()
            .map(|r| String::from_utf8_lossy(&r.json).into_owned())
            .collect();
        assert_eq!(
            xids,
            [
                r#"{"XID":"chat-1"}"#,
                r#"{"XID":"t1"}"#,
                r#"{"XID":"t2"}"#,
                r#"{"XID":"s1"}"#
            ],
            "one session record, traces before spans"
        );
    }

    #[test]
    fn anything_else_is_corrupt() {
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            b"{}",
            br#"{"Spans":[]}"#,
            br#"{"Widgets":[{"XID":"x"}]}"#,
            br#"{"Spans":[1]}"#,
            b"\xff\xfe garbage",
        ] {
            assert!(decode(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
