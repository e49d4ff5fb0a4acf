//! The Modelmetry exporter: finished traces to `IngestSignalsV1RequestBody`, packed into
//! requests bounded by record count and bytes, sent by the HTTP transport.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::Value;

use super::batch::{Encoded, Section, assemble, in_send_order};
use super::delivery::IngestSender;
use super::ingest_view::{
    CompletionView, EmbeddingsView, EventView, FamilyView, FindingView, MetaValue, Metadata,
    RetrievalView, SessionView, SpanView, Time, TraceView, Uuid, WriteJson,
};
use super::{Exporter, Prepared, Settle, Tally};
use crate::capture;
use crate::config::Config;
use crate::diag;
use crate::error::Error;
use crate::id::{IdGen, SpanId, span_xid_bits, uuid_v4, write_uuid};
use crate::metadata_keys as keys;
use crate::record::{FinishedTrace, Kind, Signal, SignalBody, SpanRecord, TraceInfo};
use crate::sanitize::{self, Notes};
use crate::stats;
use crate::truncate;
use crate::unversioned::wire::Family;
use crate::values::Options;

pub(crate) struct Ingest {
    delivery: IngestSender,
    record_limit: usize,
    max_records: usize,
    max_bytes: usize,
}

/// How many requests' worth of traces one round encodes at a time.
const CHUNK_BATCHES: usize = 4;

impl Ingest {
    pub(crate) fn new(config: &Config) -> Result<Self, Error> {
        Ok(Ingest {
            delivery: IngestSender::new(config)?,
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

    fn export(&self, traces: &[FinishedTrace], deadline: Instant, settle: &dyn Settle) -> Tally {
        // A round may hold a whole buffer: encode and send it a few requests' worth at a
        // time, so its wire body and JSON never take as much memory again.
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
            if unencodable > 0 {
                settle.settle(&unencodable_tally(unencodable), false);
                diag::report(format_args!(
                    "{unencodable} record(s) could not be encoded as JSON and were dropped"
                ));
            }
            self.delivery.deliver(&encoded, deadline, settle);
        }
        Tally::default()
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
        settle: &dyn Settle,
    ) -> Tally {
        let mut unencodable = 0;
        let (mut ahead, mut not_ahead) = (Vec::new(), Vec::new());
        for item in items {
            unencodable += item.unencodable;
            if item.on_disk {
                ahead.extend(item.records);
            } else {
                not_ahead.extend(item.records);
            }
        }
        if unencodable > 0 {
            settle.settle(&unencodable_tally(unencodable), false);
            diag::report(format_args!(
                "{unencodable} record(s) could not be encoded as JSON and were dropped"
            ));
        }
        let ahead = in_send_order(ahead);
        if !ahead.is_empty() || segment.is_some() {
            self.delivery
                .deliver_journaled(&ahead, deadline, segment, settle);
        }
        if !not_ahead.is_empty() {
            // The journal could not take them (full, or failing): written ahead per request.
            let not_ahead = in_send_order(not_ahead);
            self.delivery.deliver(&not_ahead, deadline, settle);
        }
        Tally::default()
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
// One route: each record is a borrowed view of the finished trace (`ingest_view`), checked by
// `sanitize` (which copies only what it changes) and written by serde_json into one reused
// buffer, then copied out at its exact size. A record over the per-record limit, the rare
// case, is built as an owned JSON value from the same view and cut (`truncate`).

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
        sanitized: 0,
        ids: IdGen::unseeded(),
        traces: Vec::new(),
        spans: Vec::with_capacity(traces.iter().map(|t| t.spans.len()).sum()),
        events: Vec::new(),
        findings: Vec::new(),
    };
    let mut sessions: BTreeSet<Cow<'_, str>> = BTreeSet::new();
    for t in traces {
        let mut xid_buf = [0; 36];
        let trace_xid = write_uuid(t.trace_id.0, &mut xid_buf);
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
    // Sessions come from the traces once their ids are checked, so the two always agree.
    let mut out = Vec::with_capacity(
        sessions.len() + enc.traces.len() + enc.spans.len() + enc.events.len() + enc.findings.len(),
    );
    for xid in &sessions {
        if let Some(json) = enc.record(&SessionView { xid }) {
            out.push(Encoded {
                section: Section::Sessions,
                json,
            });
        }
    }
    if enc.truncated > 0 {
        stats::count_truncated(enc.truncated);
    }
    if enc.sanitized > 0 {
        stats::count_sanitized(enc.sanitized);
    }
    out.append(&mut enc.traces);
    out.append(&mut enc.spans);
    out.append(&mut enc.events);
    out.append(&mut enc.findings);
    (out, enc.failed)
}

/// The session records among `records`: made by the encoder, one per distinct session id.
/// The outcome of records that could not be encoded: refused here, never sent.
fn unencodable_tally(records: u64) -> Tally {
    Tally {
        rejected: records,
        problem: Some(format!("{records} record(s) could not be encoded as JSON")),
        ..Tally::default()
    }
}

fn sessions(records: &[Encoded]) -> u64 {
    records
        .iter()
        .filter(|r| r.section == Section::Sessions)
        .count() as u64
}

struct Encoder {
    /// Where each record is written before it is copied out at its exact size.
    scratch: Vec<u8>,
    limit: usize,
    failed: u64,
    truncated: u64,
    sanitized: u64,
    /// Event and finding XIDs: random, from one generator per call.
    ids: IdGen,
    traces: Vec<Encoded>,
    spans: Vec<Encoded>,
    events: Vec<Encoded>,
    findings: Vec<Encoded>,
}

impl Encoder {
    /// One record's JSON, cut to the limit if it is over it; `None` (counted) if it cannot be
    /// serialised.
    fn record<T: WriteJson>(&mut self, view: &T) -> Option<Vec<u8>> {
        self.scratch.clear();
        if view.write_json(&mut self.scratch).is_err() {
            self.failed += 1;
            return None;
        }
        if self.scratch.len() <= self.limit {
            return Some(self.scratch.as_slice().to_vec());
        }
        // Over the limit, the rare case: the owned fallback. The bytes just written, read back
        // as a JSON value and cut field by field.
        let Ok(mut value) = serde_json::from_slice::<Value>(&self.scratch) else {
            self.failed += 1;
            return None;
        };
        self.truncated += truncate::record(&mut value, self.limit);
        match serde_json::to_vec(&value) {
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
        let mut notes = Notes::default();
        let mut session_id = info.session_id.as_deref().map(Cow::Borrowed);
        if let Some(id) = &mut session_id {
            sanitize::session_id(id, &mut notes);
        }
        let mut metadata = Metadata::new(Some(&info.metadata));
        if let Some(user) = &info.user_id {
            metadata.put(keys::USER_ID, MetaValue::Str(user));
        }
        if !info.tags.is_empty() {
            metadata.put(keys::TAGS, MetaValue::Strs(&info.tags));
        }
        if let Some(v) = &info.input {
            metadata.put(keys::INPUT, MetaValue::Value(v));
        }
        if let Some(v) = &info.output {
            metadata.put(keys::OUTPUT, MetaValue::Value(v));
        }
        if let Some(sev) = info.severity {
            metadata.put(keys::SEVERITY, MetaValue::Str(sev.as_str()));
        }
        if let Some(m) = &info.message {
            metadata.put(keys::MESSAGE, MetaValue::Str(m));
        }
        metadata.invalid = notes.list();
        let view = TraceView {
            xid: trace_xid,
            name: &info.name,
            session_id: session_id.clone(),
            start: Time(&t.anchor, info.start),
            end: Time(&t.anchor, info.end.unwrap_or(info.start)),
            metadata,
        };
        if let Some(json) = self.record(&view) {
            self.sanitized += notes.count();
            self.traces.push(Encoded {
                section: Section::Traces,
                json,
            });
        }
        session_id
    }

    fn span(&mut self, t: &FinishedTrace, s: &SpanRecord, trace_xid: &str) {
        let mut notes = Notes::default();
        let d = s.data.as_deref();
        let llm = d.map(|d| &d.llm);
        let family_data = match s.kind {
            Kind::Llm => llm.map(|llm| {
                let mut c = CompletionView {
                    messages: Cow::Borrowed(&llm.messages),
                    options: llm.options.as_ref().map(Cow::Borrowed),
                    usage: llm.usage.as_ref().map(Cow::Borrowed),
                    cost: llm.cost.as_ref().map(Cow::Borrowed),
                    documents: Cow::Borrowed(&llm.documents),
                };
                sanitize::messages(&mut c.messages, "FamilyData.Messages", &mut notes);
                if let Some(o) = &mut c.options {
                    sanitize::options(o, "FamilyData.Options", &mut notes);
                }
                if let Some(u) = &mut c.usage {
                    sanitize::usage(u, "FamilyData.Usage", &mut notes);
                }
                if let Some(cost) = &mut c.cost {
                    sanitize::cost(cost, "FamilyData.Cost", &mut notes);
                }
                sanitize::documents(&mut c.documents, "FamilyData.Documents", &mut notes);
                FamilyView::Completion(c)
            }),
            // The spec requires both fields of an embeddings span and both lists of a
            // retrieval span, so those families always carry their data.
            Kind::Embeddings => {
                let mut options = llm
                    .and_then(|l| l.options.as_ref())
                    .map_or_else(|| Cow::Owned(Options::default()), Cow::Borrowed);
                sanitize::options(&mut options, "FamilyData.Options", &mut notes);
                Some(FamilyView::Embeddings(EmbeddingsView {
                    inputs: llm.map_or(&[], |l| &l.embedding_inputs),
                    options,
                }))
            }
            Kind::Retriever => {
                let mut r = RetrievalView {
                    queries: Cow::Borrowed(llm.map_or(&[], |l| &l.queries)),
                    documents: Cow::Borrowed(llm.map_or(&[], |l| &l.documents)),
                };
                sanitize::queries(&mut r.queries, "FamilyData.Queries", &mut notes);
                sanitize::documents(&mut r.documents, "FamilyData.Documents", &mut notes);
                Some(FamilyView::Retrieval(r))
            }
            _ => None,
        };
        // A model call's details on a span of another kind (a tool that calls a model) are
        // kept in metadata; a number that is not finite makes that value an owned copy with
        // the number as text, as for any other metadata value.
        let in_metadata = family_data.is_none() && llm.is_some();
        let owned: [Option<Value>; 3] = match llm.filter(|_| in_metadata) {
            Some(llm) => [
                llm.options
                    .as_ref()
                    .filter(|o| !sanitize::options_finite(o))
                    .map(|o| capture::metadata(o).value),
                llm.usage
                    .as_ref()
                    .filter(|u| !sanitize::usage_finite(u))
                    .map(|u| capture::metadata(u).value),
                llm.cost
                    .as_ref()
                    .filter(|c| !sanitize::cost_finite(c))
                    .map(|c| capture::metadata(c).value),
            ],
            None => [None, None, None],
        };
        let mut metadata = Metadata::new(d.map(|d| &d.metadata));
        metadata.default = Some((keys::KIND, MetaValue::Str(s.kind.as_str())));
        if let Some(d) = d {
            let llm = &d.llm;
            if let Some(v) = &d.input {
                metadata.put(keys::INPUT, MetaValue::Value(v));
            }
            if let Some(v) = &d.output {
                metadata.put(keys::OUTPUT, MetaValue::Value(v));
            }
            if let Some(v) = &llm.response_id {
                metadata.put(keys::RESPONSE_ID, MetaValue::Str(v));
            }
            if let Some(v) = &llm.response_model {
                metadata.put(keys::RESPONSE_MODEL, MetaValue::Str(v));
            }
            if !llm.finish_reasons.is_empty() {
                metadata.put(keys::FINISH_REASONS, MetaValue::Strs(&llm.finish_reasons));
            }
            if let Some(v) = &llm.service_tier {
                metadata.put(keys::SERVICE_TIER, MetaValue::Str(v));
            }
            // The usage buckets the spec's `Usage` has no field for, on whatever kind of span.
            if let Some(u) = &llm.usage {
                let buckets = [
                    (keys::USAGE_CACHE_READ, u.cache_read),
                    (keys::USAGE_CACHE_WRITE, u.cache_write),
                    (keys::USAGE_CACHE_WRITE_1H, u.cache_write_1h),
                    (keys::USAGE_REASONING, u.reasoning),
                ];
                for (key, n) in buckets {
                    if let Some(n) = n {
                        metadata.put(key, MetaValue::Count(n));
                    }
                }
            }
            if in_metadata {
                let [options, usage, cost] = &owned;
                match (options, &llm.options) {
                    (Some(v), _) => metadata.put(keys::OPTIONS, MetaValue::Value(v)),
                    (None, Some(o)) => metadata.put(keys::OPTIONS, MetaValue::Options(o)),
                    (None, None) => {}
                }
                match (usage, &llm.usage) {
                    (Some(v), _) => metadata.put(keys::USAGE, MetaValue::Value(v)),
                    (None, Some(u)) => metadata.put(keys::USAGE, MetaValue::Usage(u)),
                    (None, None) => {}
                }
                match (cost, &llm.cost) {
                    (Some(v), _) => metadata.put(keys::COST, MetaValue::Value(v)),
                    (None, Some(c)) => metadata.put(keys::COST, MetaValue::Cost(c)),
                    (None, None) => {}
                }
            }
        }
        metadata.invalid = notes.list();
        let view = SpanView {
            xid: Uuid(span_xid_bits(t.trace_id, s.id)),
            trace_id: trace_xid,
            parent_id: (s.parent != t.root_span && s.parent != SpanId::NONE)
                .then(|| Uuid(span_xid_bits(t.trace_id, s.parent))),
            name: &s.name,
            start: Time(&t.anchor, s.start),
            end: Time(&t.anchor, s.end.unwrap_or(s.start)),
            family: family_name(s.kind),
            family_data,
            message: d.and_then(|d| d.message.as_deref()),
            severity: s.severity,
            metadata,
        };
        if let Some(json) = self.record(&view) {
            self.sanitized += notes.count();
            self.spans.push(Encoded {
                section: Section::Spans,
                json,
            });
        }
    }

    fn signal(&mut self, t: &FinishedTrace, sig: &Signal, trace_xid: &str) {
        let xid = Uuid(uuid_v4(random_bits(&mut self.ids)));
        let span_id =
            (sig.target != SpanId::NONE).then(|| Uuid(span_xid_bits(t.trace_id, sig.target)));
        match &sig.body {
            SignalBody::Event { name, metadata } => {
                let view = EventView {
                    xid,
                    name,
                    at: Time(&t.anchor, sig.at),
                    trace_id: trace_xid,
                    span_id,
                    metadata: Metadata::new(Some(metadata)),
                };
                if let Some(json) = self.record(&view) {
                    self.events.push(Encoded {
                        section: Section::Events,
                        json,
                    });
                }
            }
            SignalBody::Finding(f) => {
                let mut notes = Notes::default();
                let mut value = Cow::Borrowed(&f.value);
                sanitize::finding_value(&mut value, &mut notes);
                let mut metadata = Metadata::new(Some(&f.metadata));
                metadata.invalid = notes.list();
                let view = FindingView {
                    xid,
                    name: &f.name,
                    value,
                    at: Time(&t.anchor, sig.at),
                    comment: f.comment.as_deref(),
                    description: f.description.as_deref(),
                    trace_id: trace_xid,
                    span_id,
                    metadata,
                };
                if let Some(json) = self.record(&view) {
                    self.sanitized += notes.count();
                    self.findings.push(Encoded {
                        section: Section::Findings,
                        json,
                    });
                }
            }
        }
    }
}

fn family_name(kind: Kind) -> &'static str {
    match kind.family() {
        Family::Completion => "completion",
        Family::Embeddings => "embeddings",
        Family::Retrieval => "retrieval",
        Family::Other => "other",
    }
}

fn random_bits(ids: &mut IdGen) -> u128 {
    (u128::from(ids.next_u64()) << 64) | u128::from(ids.next_u64())
}
