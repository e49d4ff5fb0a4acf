//! The Modelmetry exporter: finished traces to `IngestSignalsV1RequestBody`, packed into
//! requests bounded by record count and bytes, sent by the HTTP transport.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ops::Range;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value};

use super::delivery::Delivery;
use super::ingest_json::{self as json, Entry, Extra};
use super::{Exporter, Prepared, Tally};
use crate::capture;
use crate::config::Config;
use crate::diag;
use crate::error::Error;
use crate::id::{IdGen, SpanId, span_xid_bits, uuid_text, uuid_v4};
use crate::record::{FinishedTrace, Kind, Signal, SignalBody, SpanRecord, TraceInfo};
use crate::stats;
use crate::wire::{
    CompletionFamilyData, Cost, CreateEventParams, CreateFindingParams, CreateSessionParams,
    CreateSpanParams, CreateTraceParams, Document, EmbeddingsFamilyData, Family, FamilyData,
    FindingSource, FindingValue, IngestSignalsV1RequestBody, Message, Options, RetrievalFamilyData,
    Usage,
};
use crate::{sanitize, truncate};

pub(crate) struct Ingest {
    delivery: Delivery,
    record_limit: usize,
    max_records: usize,
    max_bytes: usize,
}

/// How many requests' worth of traces one round encodes at a time.
const CHUNK_BATCHES: usize = 4;

impl Ingest {
    pub(crate) fn new(config: &Config) -> Result<Self, Error> {
        Ok(Ingest {
            delivery: Delivery::new(config)?,
            record_limit: config.record_limit(),
            max_records: config.max_batch_records,
            max_bytes: config.max_batch_bytes,
        })
    }
}

impl Exporter for Ingest {
    fn name(&self) -> &'static str {
        "Modelmetry"
    }

    fn export(&self, traces: &[FinishedTrace], deadline: Instant) -> Tally {
        // A round may hold a whole buffer: encode and send it a few requests' worth at a
        // time, so its wire body and JSON never take as much memory again.
        let mut tally = Tally::default();
        let mut rest = traces;
        while !rest.is_empty() {
            let mut take = 0;
            let (mut records, mut bytes) = (0, 0);
            for t in rest {
                records += t.record_count() as usize;
                bytes += t.approx_bytes();
                if take > 0
                    && (records > CHUNK_BATCHES * self.max_records
                        || bytes > CHUNK_BATCHES * self.max_bytes)
                {
                    break;
                }
                take += 1;
            }
            let (chunk, later) = rest.split_at(take);
            rest = later;
            let (encoded, unencodable) = encode_traces(chunk, self.record_limit);
            tally.derived += sessions(&encoded);
            let t = self.delivery.deliver(&encoded, deadline);
            tally.add(&t);
            if unencodable > 0 {
                tally.rejected += unencodable;
                diag::report(format_args!(
                    "{unencodable} record(s) could not be encoded as JSON and were dropped"
                ));
            }
        }
        tally
    }

    fn paused_until(&self) -> Option<Instant> {
        self.delivery.paused_until()
    }

    fn keeps(&self) -> bool {
        self.delivery.has_spool()
    }

    fn keep(&self, traces: &[FinishedTrace]) -> Option<Tally> {
        let (records, unencodable) = encode_traces(traces, self.record_limit);
        let mut tally = self.delivery.keep(&records)?;
        tally.rejected += unencodable;
        tally.derived = sessions(&records);
        Some(tally)
    }

    fn replay(&self, deadline: Instant) -> Result<(), Error> {
        self.delivery.replay(deadline)
    }

    fn journal(&self) -> Option<std::sync::Arc<crate::transport::spool::Spool>> {
        self.delivery.spool()
    }

    fn prepare(&self, trace: &FinishedTrace) -> (Prepared, Vec<u8>) {
        let (records, unencodable) = encode_traces(std::slice::from_ref(trace), self.record_limit);
        let refs: Vec<&Encoded> = records.iter().collect();
        let mut line = assemble(&refs).body;
        // JSON never holds a raw newline, so one line is one body.
        line.push(b'\n');
        let prepared = Prepared {
            records,
            given: trace.record_count(),
            unencodable,
            on_disk: false,
        };
        (prepared, line)
    }

    fn export_prepared(
        &self,
        items: Vec<Prepared>,
        deadline: Instant,
        segment: Option<crate::transport::spool::SpoolFile>,
    ) -> Tally {
        let mut tally = Tally::default();
        let (mut ahead, mut not_ahead) = (Vec::new(), Vec::new());
        for item in items {
            tally.rejected += item.unencodable;
            if item.on_disk {
                ahead.extend(item.records);
            } else {
                not_ahead.extend(item.records);
            }
        }
        if tally.rejected > 0 {
            diag::report(format_args!(
                "{} record(s) could not be encoded as JSON and were dropped",
                tally.rejected
            ));
        }
        let ahead = in_send_order(ahead);
        tally.derived += sessions(&ahead);
        if !ahead.is_empty() || segment.is_some() {
            tally.add(&self.delivery.deliver_journaled(&ahead, deadline, segment));
        }
        if !not_ahead.is_empty() {
            // The journal could not take them (full, or failing): written ahead per request.
            let not_ahead = in_send_order(not_ahead);
            tally.derived += sessions(&not_ahead);
            tally.add(&self.delivery.deliver(&not_ahead, deadline));
        }
        tally
    }

    fn keep_prepared(&self, items: &[Prepared]) -> Option<Tally> {
        let mut tally = Tally::default();
        let mut not_ahead = Vec::new();
        for item in items {
            tally.rejected += item.unencodable;
            if item.on_disk {
                // Already in the journal, whose segment the pipeline leaves on disk: the
                // next run sends them (their session records with them).
                tally.spooled += item.given - item.unencodable;
            } else {
                not_ahead.extend(item.records.iter().map(|r| Encoded {
                    section: r.section,
                    json: r.json.clone(),
                }));
            }
        }
        if !not_ahead.is_empty() {
            let records = in_send_order(not_ahead);
            tally.derived += sessions(&records);
            tally.add(&self.delivery.keep(&records)?);
        }
        Some(tally)
    }

    fn cut(&self) {
        self.delivery.cut();
    }
}

// ---- finished traces to ingest records ----------------------------------------------------
//
// One source of truth: `encode_traces` writes every record's JSON, and `to_body` (what tests
// and the `Recorder` see) reads those bytes back. Most records are written straight from the
// finished trace by the writer in `ingest_json` (no wire struct, no allocation but the record's
// own bytes). A record the spec's checks would change (`sanitize`), or one over the per-record
// limit (`truncate`), or one of the rarer shapes, is built as its wire struct, checked, cut and
// serialised: the slow path, and the reference that debug builds compare the fast one with.

/// The ingest records for `traces`: their traces, spans, events and findings, and one session
/// record per distinct session id; checked against the spec's constraints (`sanitize`) and
/// each record cut to `record_limit` bytes of JSON (`truncate`). Sessions and traces come
/// first, so a trace is never sent after its spans; the second value counts records that could
/// not be serialised.
pub(crate) fn encode_traces(traces: &[FinishedTrace], record_limit: usize) -> (Vec<Encoded>, u64) {
    let mut enc = Encoder {
        scratch: Vec::with_capacity(1024),
        limit: record_limit,
        failed: 0,
        truncated: 0,
        ids: IdGen::unseeded(),
        traces: Vec::new(),
        spans: Vec::with_capacity(traces.iter().map(|t| t.spans.len()).sum()),
        events: Vec::new(),
        findings: Vec::new(),
    };
    let mut sessions: BTreeSet<Cow<'_, str>> = BTreeSet::new();
    for t in traces {
        let mut xid_buf = [0; 36];
        let trace_xid = json::uuid(t.trace_id.0, &mut xid_buf);
        if let Some(info) = &t.info {
            if let Some(session) = enc.trace(t, info, trace_xid) {
                sessions.insert(session);
            }
        }
        for s in &t.spans {
            enc.span(t, s, trace_xid);
        }
        for sig in &t.signals {
            enc.signal(t, sig, trace_xid);
        }
    }
    if enc.truncated > 0 {
        stats::count_truncated(enc.truncated);
    }
    // Sessions come from the traces once their ids are checked, so the two always agree.
    let mut out = Vec::with_capacity(
        sessions.len() + enc.traces.len() + enc.spans.len() + enc.events.len() + enc.findings.len(),
    );
    for xid in sessions {
        let fast = |w: &mut Vec<u8>| {
            let mut o = json::Obj::start(w);
            o.str("XID", &xid);
            o.end();
            true
        };
        let slow = || CreateSessionParams {
            xid: xid.to_string(),
            name: None,
            metadata: Map::new(),
        };
        if let Some(json) = enc.record(fast, slow, |_| ()) {
            out.push(Encoded {
                section: Section::Sessions,
                json,
            });
        }
    }
    out.append(&mut enc.traces);
    out.append(&mut enc.spans);
    out.append(&mut enc.events);
    out.append(&mut enc.findings);
    (out, enc.failed)
}

/// Records of several traces, encoded one trace at a time, as one batch: one session record
/// per distinct session, then traces, spans, events and findings (a trace is never sent after
/// its spans), each section in the order given.
pub(crate) fn in_send_order(mut records: Vec<Encoded>) -> Vec<Encoded> {
    let mut seen = std::collections::HashSet::new();
    records.retain(|r| r.section != Section::Sessions || seen.insert(r.json.clone()));
    records.sort_by_key(|r| r.section);
    records
}

/// The session records among `records`: made by the encoder, one per distinct session id.
fn sessions(records: &[Encoded]) -> u64 {
    records
        .iter()
        .filter(|r| r.section == Section::Sessions)
        .count() as u64
}

/// The ingest body for `traces`, as [`encode_traces`] encodes it, read back into the wire
/// model.
pub(crate) fn to_body(traces: &[FinishedTrace], record_limit: usize) -> IngestSignalsV1RequestBody {
    let (records, _) = encode_traces(traces, record_limit);
    let mut body = IngestSignalsV1RequestBody::default();
    for r in &records {
        // Our own output always reads back; a record that did not would be left out.
        let _ = match r.section {
            Section::Sessions => serde_json::from_slice(&r.json).map(|v| body.sessions.push(v)),
            Section::Traces => serde_json::from_slice(&r.json).map(|v| body.traces.push(v)),
            Section::Spans => serde_json::from_slice(&r.json).map(|v| body.spans.push(v)),
            Section::Events => serde_json::from_slice(&r.json).map(|v| body.events.push(v)),
            Section::Findings => serde_json::from_slice(&r.json).map(|v| body.findings.push(v)),
        };
    }
    body
}

struct Encoder {
    /// Where each record is written before it is copied out at its exact size.
    scratch: Vec<u8>,
    limit: usize,
    failed: u64,
    truncated: u64,
    /// Event and finding XIDs: random, from one generator per call.
    ids: IdGen,
    traces: Vec<Encoded>,
    spans: Vec<Encoded>,
    events: Vec<Encoded>,
    findings: Vec<Encoded>,
}

impl Encoder {
    /// One record: written by `fast` when it takes the record (returns `true`) and the result
    /// fits the limit; otherwise built by `slow`, checked by `check`, cut and serialised.
    fn record<T: Serialize + serde::de::DeserializeOwned>(
        &mut self,
        fast: impl FnOnce(&mut Vec<u8>) -> bool,
        slow: impl FnOnce() -> T,
        check: impl FnOnce(&mut T),
    ) -> Option<Vec<u8>> {
        self.scratch.clear();
        if fast(&mut self.scratch) && self.scratch.len() <= self.limit {
            #[cfg(debug_assertions)]
            {
                let reference = serde_json::to_vec(&slow()).unwrap_or_default();
                debug_assert_eq!(
                    String::from_utf8_lossy(&self.scratch),
                    String::from_utf8_lossy(&reference),
                    "the fast writer and the wire model disagree"
                );
            }
            return Some(self.scratch.as_slice().to_vec());
        }
        let mut rec = slow();
        check(&mut rec);
        self.truncated += truncate::record(&mut rec, self.limit);
        match serde_json::to_vec(&rec) {
            Ok(json) => Some(json),
            Err(_) => {
                self.failed += 1;
                None
            }
        }
    }

    /// The trace's record; returns its (checked) session id.
    fn trace<'t>(
        &mut self,
        t: &'t FinishedTrace,
        info: &'t TraceInfo,
        trace_xid: &str,
    ) -> Option<Cow<'t, str>> {
        let end = info.end.unwrap_or(info.start);
        let fast = |w: &mut Vec<u8>| {
            if info
                .session_id
                .as_ref()
                .is_some_and(|id| id.len() > sanitize::MAX_ID_BYTES)
            {
                return false;
            }
            let mut o = json::Obj::start(w);
            o.raw_str("XID", trace_xid);
            o.str("Name", &info.name);
            if let Some(session) = &info.session_id {
                o.str("SessionID", session);
            }
            o.time("Start", &t.anchor, info.start);
            o.time("End", &t.anchor, end);
            let mut extra: [Entry<'_>; 6] = [Entry::NONE; 6];
            let mut n = 0;
            let mut add = |key, value| {
                extra[n] = Entry {
                    key,
                    value,
                    overrides: true,
                };
                n += 1;
            };
            if let Some(user) = &info.user_id {
                add("user_id", Extra::Str(user));
            }
            if !info.tags.is_empty() {
                add("tags", Extra::Strs(&info.tags));
            }
            if let Some(v) = &info.input {
                add("input", Extra::Value(v));
            }
            if let Some(v) = &info.output {
                add("output", Extra::Value(v));
            }
            if let Some(sev) = info.severity {
                add("severity", Extra::Str(sev.as_str()));
            }
            if let Some(m) = &info.message {
                add("message", Extra::Str(m));
            }
            let fits = metadata(&mut o, Some(&info.metadata), &mut extra[..n]);
            o.end();
            fits
        };
        let mut session = None;
        let slow = || trace_params(t, info, trace_xid);
        let check = |r: &mut CreateTraceParams| {
            sanitize::trace(r);
            session = r.session_id.clone().map(Cow::Owned);
        };
        let json = self.record(fast, slow, check);
        if let Some(json) = json {
            self.traces.push(Encoded {
                section: Section::Traces,
                json,
            });
        }
        session.or_else(|| {
            info.session_id
                .as_deref()
                .filter(|id| id.len() <= sanitize::MAX_ID_BYTES)
                .map(Cow::Borrowed)
        })
    }

    fn span(&mut self, t: &FinishedTrace, s: &SpanRecord, trace_xid: &str) {
        let fast = |w: &mut Vec<u8>| {
            if !plain_span(s) {
                return false;
            }
            let mut o = json::Obj::start(w);
            o.uuid("XID", span_xid_bits(t.trace_id, s.id));
            o.raw_str("TraceID", trace_xid);
            if s.parent != t.root_span && s.parent != SpanId::NONE {
                o.uuid("ParentID", span_xid_bits(t.trace_id, s.parent));
            }
            o.str("Name", &s.name);
            o.time("Start", &t.anchor, s.start);
            o.time("End", &t.anchor, s.end.unwrap_or(s.start));
            o.raw_str("Family", family_name(s.kind));
            let d = s.data.as_deref();
            match (s.kind, d) {
                (Kind::Llm, Some(d)) => {
                    let llm = &d.llm;
                    o.serde(
                        "FamilyData",
                        &CompletionView {
                            messages: &llm.messages,
                            options: llm.options.as_ref(),
                            usage: llm.usage.as_ref(),
                            cost: llm.cost.as_ref(),
                            documents: &llm.documents,
                        },
                    );
                }
                (Kind::Embeddings, d) => {
                    let none = Options::default();
                    let llm = d.map(|d| &d.llm);
                    o.serde(
                        "FamilyData",
                        &EmbeddingsView {
                            inputs: llm.map_or(&[], |l| &l.embedding_inputs),
                            options: llm.and_then(|l| l.options.as_ref()).unwrap_or(&none),
                        },
                    );
                }
                (Kind::Retriever, _) => {
                    o.serde("FamilyData", &RetrievalFamilyData::default());
                }
                _ => {}
            }
            if let Some(m) = d.and_then(|d| d.message.as_ref()) {
                o.str("Message", m);
            }
            if let Some(sev) = s.severity {
                o.raw_str("Severity", sev.as_str());
            }
            let mut extra: [Entry<'_>; 9] = [Entry::NONE; 9];
            extra[0] = Entry {
                key: "kind",
                value: Extra::Str(s.kind.as_str()),
                overrides: false,
            };
            let mut n = 1;
            if let Some(d) = d {
                let llm = &d.llm;
                let mut add = |key, value| {
                    extra[n] = Entry {
                        key,
                        value,
                        overrides: true,
                    };
                    n += 1;
                };
                if let Some(v) = &d.input {
                    add("input", Extra::Value(v));
                }
                if let Some(v) = &d.output {
                    add("output", Extra::Value(v));
                }
                if let Some(v) = &llm.response_id {
                    add("response_id", Extra::Str(v));
                }
                if let Some(v) = &llm.response_model {
                    add("response_model", Extra::Str(v));
                }
                if !llm.finish_reasons.is_empty() {
                    add("finish_reasons", Extra::Strs(&llm.finish_reasons));
                }
                // A model call's details on a span of another kind: kept in metadata.
                if !matches!(s.kind, Kind::Llm | Kind::Embeddings | Kind::Retriever) {
                    if let Some(v) = &llm.options {
                        add("options", Extra::Options(v));
                    }
                    if let Some(v) = &llm.usage {
                        add("usage", Extra::Usage(v));
                    }
                    if let Some(v) = &llm.cost {
                        add("cost", Extra::Cost(v));
                    }
                }
            }
            let fits = metadata(&mut o, d.map(|d| &d.metadata), &mut extra[..n]);
            o.end();
            fits
        };
        let slow = || span_params(t, s, trace_xid);
        if let Some(json) = self.record(fast, slow, sanitize::span) {
            self.spans.push(Encoded {
                section: Section::Spans,
                json,
            });
        }
    }

    fn signal(&mut self, t: &FinishedTrace, sig: &Signal, trace_xid: &str) {
        let mut xid_buf = [0; 36];
        let xid = json::uuid(uuid_v4(random_bits(&mut self.ids)), &mut xid_buf);
        let span = (sig.target != SpanId::NONE).then(|| span_xid_bits(t.trace_id, sig.target));
        let mut span_buf = [0; 36];
        let span_id = span.map(|bits| json::uuid(bits, &mut span_buf));
        match &sig.body {
            SignalBody::Event { name, metadata } => {
                let fast = |w: &mut Vec<u8>| {
                    let mut o = json::Obj::start(w);
                    o.raw_str("XID", xid);
                    o.str("Name", name);
                    o.time("At", &t.anchor, sig.at);
                    o.raw_str("TraceID", trace_xid);
                    if let Some(span) = span_id {
                        o.raw_str("SpanID", span);
                    }
                    let fits = self::metadata(&mut o, Some(metadata), &mut []);
                    o.end();
                    fits
                };
                let slow = || CreateEventParams {
                    xid: xid.to_owned(),
                    name: name.to_string(),
                    at: Some(t.anchor.rfc3339(sig.at)),
                    trace_id: Some(trace_xid.to_owned()),
                    span_id: span_id.map(str::to_owned),
                    entry_id: None,
                    metadata: metadata.clone(),
                };
                if let Some(json) = self.record(fast, slow, |_| ()) {
                    self.events.push(Encoded {
                        section: Section::Events,
                        json,
                    });
                }
            }
            SignalBody::Finding(f) => {
                let fast = |w: &mut Vec<u8>| {
                    if matches!(f.value, FindingValue::Number(n) if !n.is_finite()) {
                        return false;
                    }
                    let mut o = json::Obj::start(w);
                    o.raw_str("XID", xid);
                    o.str("Name", &f.name);
                    o.serde("Value", &f.value);
                    o.time("At", &t.anchor, sig.at);
                    if let Some(c) = &f.comment {
                        o.str("Comment", c);
                    }
                    if let Some(d) = &f.description {
                        o.str("Description", d);
                    }
                    o.raw_str("Source", "sdk");
                    o.raw_str("TraceID", trace_xid);
                    if let Some(span) = span_id {
                        o.raw_str("SpanID", span);
                    }
                    let fits = metadata(&mut o, Some(&f.metadata), &mut []);
                    o.end();
                    fits
                };
                let slow = || CreateFindingParams {
                    xid: xid.to_owned(),
                    name: f.name.to_string(),
                    value: f.value.clone(),
                    at: Some(t.anchor.rfc3339(sig.at)),
                    comment: f.comment.clone(),
                    description: f.description.clone(),
                    source: Some(FindingSource::Sdk),
                    trace_id: Some(trace_xid.to_owned()),
                    span_id: span_id.map(str::to_owned),
                    entry_id: None,
                    metadata: f.metadata.clone(),
                };
                if let Some(json) = self.record(fast, slow, sanitize::finding) {
                    self.findings.push(Encoded {
                        section: Section::Findings,
                        json,
                    });
                }
            }
        }
    }
}

/// The record's `Metadata`, left out when it would be empty. `false` when a value in it would
/// have been cut (see [`json::merged`]).
fn metadata(
    o: &mut json::Obj<'_>,
    map: Option<&Map<String, Value>>,
    extra: &mut [Entry<'_>],
) -> bool {
    let empty = map.is_none_or(Map::is_empty) && extra.is_empty();
    empty || json::merged(o.key("Metadata"), map, extra, capture::value_limit())
}

fn family_name(kind: Kind) -> &'static str {
    match kind.family() {
        Family::Completion => "completion",
        Family::Embeddings => "embeddings",
        Family::Retrieval => "retrieval",
        Family::Other => "other",
    }
}

/// True when the fast writer takes this span: nothing in it that `sanitize` would change, and
/// none of the shapes it leaves to the wire model (message and document lists, model-call
/// details on a span of another kind).
fn plain_span(s: &SpanRecord) -> bool {
    let Some(d) = &s.data else { return true };
    let llm = &d.llm;
    match s.kind {
        Kind::Llm => {
            llm.messages.is_empty()
                && llm.documents.is_empty()
                && llm.options.as_ref().is_none_or(options_valid)
                && llm.usage.as_ref().is_none_or(usage_valid)
                && llm.cost.as_ref().is_none_or(cost_valid)
        }
        Kind::Embeddings => llm.options.as_ref().is_none_or(options_valid),
        Kind::Retriever => llm.queries.is_empty() && llm.documents.is_empty(),
        // Kept in metadata as `capture::metadata` would: the same JSON unless a number is
        // not finite or a tool is listed (`Tool`'s fields are not in sorted order).
        _ => {
            llm.options
                .as_ref()
                .is_none_or(|o| o.tools.as_ref().is_none_or(Vec::is_empty) && options_finite(o))
                && llm.usage.as_ref().is_none_or(usage_valid)
                && llm.cost.as_ref().is_none_or(|c| {
                    [&c.input, &c.output, &c.total]
                        .into_iter()
                        .flatten()
                        .all(|m| m.amount.is_finite())
                })
        }
    }
}

fn options_finite(o: &Options) -> bool {
    [
        o.frequency_penalty,
        o.presence_penalty,
        o.temperature,
        o.timeout,
        o.top_p,
    ]
    .into_iter()
    .flatten()
    .all(f64::is_finite)
}

/// The checks of `sanitize::options`, without changing anything.
fn options_valid(o: &Options) -> bool {
    let unit = |v: Option<f64>| v.is_none_or(|v| v.is_finite() && (0.0..=1.0).contains(&v));
    unit(o.temperature)
        && unit(o.top_p)
        && o.timeout.is_none_or(|v| v.is_finite() && v >= 0.0)
        && o.frequency_penalty.is_none_or(f64::is_finite)
        && o.presence_penalty.is_none_or(f64::is_finite)
        && o.tools
            .iter()
            .flatten()
            .all(|tool| !tool.name.trim().is_empty())
}

/// The checks of `sanitize::usage`, without changing anything.
fn usage_valid(u: &Usage) -> bool {
    [&u.input, &u.output, &u.total]
        .into_iter()
        .flatten()
        .all(|v| v.amount.is_finite() && !v.unit.trim().is_empty())
}

/// The checks of `sanitize::money`, without changing anything.
fn cost_valid(c: &Cost) -> bool {
    [&c.input, &c.output, &c.total]
        .into_iter()
        .flatten()
        .all(|m| m.amount.is_finite() && sanitize::is_currency(&m.currency))
}

/// `CompletionFamilyData`, borrowed.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CompletionView<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    messages: &'a [Message],
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<&'a Options>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<&'a Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<&'a Cost>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    documents: &'a [Document],
}

/// `EmbeddingsFamilyData`, borrowed.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EmbeddingsView<'a> {
    inputs: &'a [String],
    options: &'a Options,
}

fn random_bits(ids: &mut IdGen) -> u128 {
    (u128::from(ids.next_u64()) << 64) | u128::from(ids.next_u64())
}

fn trace_params(t: &FinishedTrace, info: &TraceInfo, trace_xid: &str) -> CreateTraceParams {
    let mut metadata = info.metadata.clone();
    if let Some(user) = &info.user_id {
        metadata.insert("user_id".into(), user.clone().into());
    }
    if !info.tags.is_empty() {
        metadata.insert("tags".into(), info.tags.clone().into());
    }
    put(&mut metadata, "input", info.input.clone());
    put(&mut metadata, "output", info.output.clone());
    if let Some(sev) = info.severity {
        metadata.insert("severity".into(), sev.as_str().into());
    }
    put(
        &mut metadata,
        "message",
        info.message.clone().map(Value::from),
    );
    CreateTraceParams {
        xid: trace_xid.to_owned(),
        name: Some(info.name.to_string()),
        session_id: info.session_id.clone(),
        start: t.anchor.rfc3339(info.start),
        end: Some(t.anchor.rfc3339(info.end.unwrap_or(info.start))),
        metadata,
    }
}

fn put(m: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(key.to_owned(), v);
    }
}

fn span_params(t: &FinishedTrace, s: &SpanRecord, trace_xid: &str) -> CreateSpanParams {
    let mut metadata = Map::new();
    metadata.insert("kind".into(), s.kind.as_str().into());
    let mut message = None;
    let mut family_data = None;
    if let Some(d) = &s.data {
        for (k, v) in &d.metadata {
            metadata.insert(k.clone(), v.clone());
        }
        put(&mut metadata, "input", d.input.clone());
        put(&mut metadata, "output", d.output.clone());
        message = d.message.clone();
        let llm = &d.llm;
        // The wire model has no fields for these: keep them in metadata.
        put(
            &mut metadata,
            "response_id",
            llm.response_id.clone().map(Value::from),
        );
        put(
            &mut metadata,
            "response_model",
            llm.response_model.clone().map(Value::from),
        );
        if !llm.finish_reasons.is_empty() {
            metadata.insert("finish_reasons".into(), llm.finish_reasons.clone().into());
        }
        family_data = match s.kind {
            Kind::Llm => Some(FamilyData::Completion(CompletionFamilyData {
                messages: llm.messages.clone(),
                options: llm.options.clone(),
                usage: llm.usage.clone(),
                cost: llm.cost.clone(),
                documents: llm.documents.clone(),
            })),
            Kind::Embeddings => Some(FamilyData::Embeddings(EmbeddingsFamilyData {
                inputs: llm.embedding_inputs.clone(),
                options: llm.options.clone().unwrap_or_default(),
            })),
            Kind::Retriever => Some(FamilyData::Retrieval(RetrievalFamilyData {
                queries: llm.queries.clone(),
                documents: llm.documents.clone(),
            })),
            _ => {
                // Spans of other kinds can still carry a model call's details (a tool that
                // calls a model): keep them in metadata rather than lose them.
                if let Some(options) = &llm.options {
                    capture::metadata(options).insert_into(&mut metadata, "options");
                }
                if let Some(usage) = &llm.usage {
                    capture::metadata(usage).insert_into(&mut metadata, "usage");
                }
                if let Some(cost) = &llm.cost {
                    capture::metadata(cost).insert_into(&mut metadata, "cost");
                }
                None
            }
        };
    }
    // The spec requires both lists of a retrieval span and both fields of an embeddings span,
    // so those families always carry their data, even when nothing was set.
    if family_data.is_none() {
        family_data = match s.kind {
            Kind::Embeddings => Some(FamilyData::Embeddings(EmbeddingsFamilyData::default())),
            Kind::Retriever => Some(FamilyData::Retrieval(RetrievalFamilyData::default())),
            _ => None,
        };
    }
    let parent_id = (s.parent != t.root_span && s.parent != SpanId::NONE)
        .then(|| uuid_text(span_xid_bits(t.trace_id, s.parent)));
    CreateSpanParams {
        xid: uuid_text(span_xid_bits(t.trace_id, s.id)),
        trace_id: trace_xid.to_owned(),
        parent_id,
        name: s.name.to_string(),
        start: t.anchor.rfc3339(s.start),
        end: t.anchor.rfc3339(s.end.unwrap_or(s.start)),
        family: Some(s.kind.family()),
        family_data,
        message,
        severity: s.severity,
        metadata,
    }
}

// ---- packing into requests ----------------------------------------------------------------

/// The arrays of the ingest body, in the order a request lists them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Section {
    Sessions,
    Traces,
    Spans,
    Events,
    Findings,
}

impl Section {
    const ALL: [Section; 5] = [
        Section::Sessions,
        Section::Traces,
        Section::Spans,
        Section::Events,
        Section::Findings,
    ];

    /// The section a body's key names.
    pub(crate) fn from_key(key: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.key() == key)
    }

    fn key(self) -> &'static str {
        match self {
            Section::Sessions => "Sessions",
            Section::Traces => "Traces",
            Section::Spans => "Spans",
            Section::Events => "Events",
            Section::Findings => "Findings",
        }
    }
}

/// One record, serialised once: retries and re-packing reuse these bytes, so a record's XIDs
/// never change between attempts.
pub(crate) struct Encoded {
    pub(crate) section: Section,
    pub(crate) json: Vec<u8>,
}

/// Serialise every record of `body`. Sessions and traces come first, so a trace is never sent
/// after its spans; the second value counts records that could not be serialised.
pub(crate) fn encode(body: &IngestSignalsV1RequestBody) -> (Vec<Encoded>, u64) {
    let mut out = Vec::with_capacity(body.record_count());
    let mut failed = 0;
    fn add<T: Serialize>(out: &mut Vec<Encoded>, failed: &mut u64, section: Section, items: &[T]) {
        for item in items {
            match serde_json::to_vec(item) {
                Ok(json) => out.push(Encoded { section, json }),
                Err(_) => *failed += 1,
            }
        }
    }
    add(&mut out, &mut failed, Section::Sessions, &body.sessions);
    add(&mut out, &mut failed, Section::Traces, &body.traces);
    add(&mut out, &mut failed, Section::Spans, &body.spans);
    add(&mut out, &mut failed, Section::Events, &body.events);
    add(&mut out, &mut failed, Section::Findings, &body.findings);
    (out, failed)
}

/// A request body, the number of records in it, and where they lie in the packed slice.
pub(crate) struct Request {
    pub(crate) body: Vec<u8>,
    pub(crate) records: u64,
    pub(crate) range: Range<usize>,
}

/// Pack records into request bodies of at most `max_records` records and `max_bytes` bytes.
/// A record larger than `max_bytes` on its own goes alone.
pub(crate) fn pack(records: &[Encoded], max_records: usize, max_bytes: usize) -> Vec<Request> {
    let mut requests = Vec::new();
    let mut group: Vec<&Encoded> = Vec::new();
    let mut start = 0;
    let mut size = 2; // {}
    let mut sections = BTreeSet::new();
    for (i, r) in records.iter().enumerate() {
        let section_cost = if sections.contains(&r.section) {
            0
        } else {
            r.section.key().len() + 6
        };
        let cost = r.json.len() + 1 + section_cost;
        if !group.is_empty() && (group.len() >= max_records || size + cost > max_bytes) {
            requests.push(Request {
                range: start..i,
                ..assemble(&group)
            });
            start = i;
            group.clear();
            sections.clear();
            size = 2;
        }
        let section_cost = if sections.contains(&r.section) {
            0
        } else {
            r.section.key().len() + 6
        };
        size += r.json.len() + 1 + section_cost;
        sections.insert(r.section);
        group.push(r);
    }
    if !group.is_empty() {
        requests.push(Request {
            range: start..records.len(),
            ..assemble(&group)
        });
    }
    requests
}

/// One request body holding `group`, each record in its section.
pub(crate) fn assemble(group: &[&Encoded]) -> Request {
    let mut body = Vec::with_capacity(group.iter().map(|r| r.json.len() + 1).sum::<usize>() + 64);
    body.push(b'{');
    let mut first_section = true;
    for section in Section::ALL {
        let mut first = true;
        for r in group.iter().filter(|r| r.section == section) {
            if first {
                if !first_section {
                    body.push(b',');
                }
                body.extend_from_slice(format!("\"{}\":[", section.key()).as_bytes());
                first = false;
                first_section = false;
            } else {
                body.push(b',');
            }
            body.extend_from_slice(&r.json);
        }
        if !first {
            body.push(b']');
        }
    }
    body.push(b'}');
    Request {
        body,
        records: group.len() as u64,
        range: 0..group.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(section: Section, n: usize) -> Encoded {
        Encoded {
            section,
            json: format!("{{\"Name\":\"{}\"}}", "x".repeat(n)).into_bytes(),
        }
    }

    #[test]
    fn packs_by_count_and_bytes_into_valid_json() {
        let records: Vec<Encoded> = (0..10)
            .map(|i| {
                rec(
                    if i % 2 == 0 {
                        Section::Spans
                    } else {
                        Section::Events
                    },
                    100,
                )
            })
            .collect();
        let by_count = pack(&records, 3, 1 << 20);
        assert_eq!(
            by_count.iter().map(|r| r.records).collect::<Vec<_>>(),
            vec![3, 3, 3, 1]
        );
        let by_bytes = pack(&records, 1000, 400);
        assert!(by_bytes.len() > 2);
        for r in by_count.iter().chain(&by_bytes) {
            assert!(
                r.body.len() <= 400
                    || r.records == 1
                    || by_count.iter().any(|c| std::ptr::eq(c, r))
            );
            let v: serde_json::Value = serde_json::from_slice(&r.body).expect("valid JSON");
            let n: usize = ["Spans", "Events"]
                .iter()
                .map(|k| v.get(k).map_or(0, |a| a.as_array().map_or(0, Vec::len)))
                .sum();
            assert_eq!(n as u64, r.records);
        }
        assert_eq!(by_bytes.iter().map(|r| r.records).sum::<u64>(), 10);
        assert!(
            by_bytes.iter().all(|r| r.body.len() <= 400),
            "every body within the byte limit"
        );
    }

    #[test]
    fn an_oversized_record_goes_alone() {
        let records = vec![
            rec(Section::Spans, 10),
            rec(Section::Spans, 5000),
            rec(Section::Spans, 10),
        ];
        let reqs = pack(&records, 100, 1024);
        assert_eq!(
            reqs.iter().map(|r| r.records).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
    }
}
