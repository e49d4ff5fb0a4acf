//! The Modelmetry exporter: finished traces to `IngestSignalsV1RequestBody`, packed into
//! requests bounded by record count and bytes, sent by the HTTP transport.

use std::collections::BTreeSet;
use std::ops::Range;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value};

use super::delivery::Delivery;
use super::{Exporter, Tally};
use crate::capture;
use crate::config::Config;
use crate::diag;
use crate::error::Error;
use crate::id::{SpanId, span_xid};
use crate::record::{FinishedTrace, Kind, SignalBody, SpanRecord};
use crate::stats;
use crate::wire::{
    CompletionFamilyData, CreateEventParams, CreateFindingParams, CreateSessionParams,
    CreateSpanParams, CreateTraceParams, EmbeddingsFamilyData, FamilyData, FindingSource,
    IngestSignalsV1RequestBody, RetrievalFamilyData,
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
            let body = to_body(chunk, self.record_limit);
            let (encoded, unencodable) = encode(&body);
            tally.derived += body.sessions.len() as u64;
            drop(body);
            let t = self.delivery.deliver(&encoded, deadline);
            super::delivery::add(&mut tally, &t);
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
        let body = to_body(traces, self.record_limit);
        let (records, unencodable) = encode(&body);
        let mut tally = self.delivery.keep(&records)?;
        tally.rejected += unencodable;
        tally.derived = body.sessions.len() as u64;
        Some(tally)
    }

    fn replay(&self, deadline: Instant) -> Result<(), Error> {
        self.delivery.replay(deadline)
    }
}

// ---- finished traces to the wire model ---------------------------------------------------

/// The ingest body for `traces`: their traces, spans, events and findings, and one session
/// record per distinct session id; checked against the spec's constraints (`sanitize`) and
/// each record cut to `record_limit` bytes of JSON (`truncate`).
pub(crate) fn to_body(traces: &[FinishedTrace], record_limit: usize) -> IngestSignalsV1RequestBody {
    let mut body = IngestSignalsV1RequestBody::default();
    for t in traces {
        let trace_xid = t.trace_id.to_uuid();
        let xid_of = |span: SpanId| span_xid(t.trace_id, span);
        if let Some(info) = &t.info {
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
            body.traces.push(CreateTraceParams {
                xid: trace_xid.clone(),
                name: Some(info.name.to_string()),
                session_id: info.session_id.clone(),
                start: t.anchor.rfc3339(info.start),
                end: Some(t.anchor.rfc3339(info.end.unwrap_or(info.start))),
                metadata,
            });
        }
        for s in &t.spans {
            body.spans.push(span_params(t, s, &trace_xid));
        }
        for sig in &t.signals {
            let span_id = (sig.target != SpanId::NONE).then(|| xid_of(sig.target));
            let at = Some(t.anchor.rfc3339(sig.at));
            match &sig.body {
                SignalBody::Event { name, metadata } => body.events.push(CreateEventParams {
                    xid: crate::id::random_uuid(),
                    name: name.to_string(),
                    at,
                    trace_id: Some(trace_xid.clone()),
                    span_id,
                    entry_id: None,
                    metadata: metadata.clone(),
                }),
                SignalBody::Finding(f) => body.findings.push(CreateFindingParams {
                    xid: crate::id::random_uuid(),
                    name: f.name.to_string(),
                    value: f.value.clone(),
                    at,
                    comment: f.comment.clone(),
                    description: f.description.clone(),
                    source: Some(FindingSource::Sdk),
                    trace_id: Some(trace_xid.clone()),
                    span_id,
                    entry_id: None,
                    metadata: f.metadata.clone(),
                }),
            }
        }
    }
    sanitize::body(&mut body);
    // Sessions come from the traces once their ids are checked, so the two always agree.
    let sessions: BTreeSet<&String> = body
        .traces
        .iter()
        .filter_map(|t| t.session_id.as_ref())
        .collect();
    body.sessions = sessions
        .into_iter()
        .map(|xid| CreateSessionParams {
            xid: xid.clone(),
            name: None,
            metadata: Map::new(),
        })
        .collect();
    fit_records(&mut body, record_limit);
    body
}

/// Cut every record over `limit` bytes, field by field, and count the fields cut.
fn fit_records(body: &mut IngestSignalsV1RequestBody, limit: usize) {
    let mut cut = 0;
    cut += body
        .traces
        .iter_mut()
        .map(|r| truncate::record(r, limit))
        .sum::<u64>();
    cut += body
        .spans
        .iter_mut()
        .map(|r| truncate::record(r, limit))
        .sum::<u64>();
    cut += body
        .events
        .iter_mut()
        .map(|r| truncate::record(r, limit))
        .sum::<u64>();
    cut += body
        .findings
        .iter_mut()
        .map(|r| truncate::record(r, limit))
        .sum::<u64>();
    cut += body
        .sessions
        .iter_mut()
        .map(|r| truncate::record(r, limit))
        .sum::<u64>();
    if cut > 0 {
        stats::count_truncated(cut);
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
        .then(|| span_xid(t.trace_id, s.parent));
    CreateSpanParams {
        xid: span_xid(t.trace_id, s.id),
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
