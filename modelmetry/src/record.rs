//! Finished traces in memory: what the context stack hands to the exporters.
//!
//! Everything here is raw: clock ticks, id bits, `&'static str` names where possible.
//! Exporters turn it into their own wire format (ingest JSON, OTLP, console text).

use std::borrow::Cow;
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::id::{SpanId, TraceId};
use crate::time::{Anchor, Tick};
use crate::unversioned::wire::Family;
use crate::values;

/// A span's or trace's name: borrowed from the binary when it is a literal, owned otherwise.
pub(crate) type Name = Cow<'static, str>;

/// What kind of work a span records.
///
/// The kind decides the span's wire `Family` (and so what its `FamilyData` holds) and, with
/// OpenTelemetry, its `gen_ai.operation.name`:
///
/// | kind | wire `Family` | `FamilyData` |
/// | --- | --- | --- |
/// | [`Llm`](Kind::Llm) | `completion` | messages, options, usage, cost, documents |
/// | [`Embeddings`](Kind::Embeddings) | `embeddings` | inputs, options |
/// | [`Retriever`](Kind::Retriever) | `retrieval` | queries, documents |
/// | [`Tool`](Kind::Tool), [`Agent`](Kind::Agent), [`Chain`](Kind::Chain), [`Other`](Kind::Other) | `other` | none; the kind is kept in `Metadata.kind` |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Kind {
    /// A call to a language model (alias `completion`).
    Llm,
    /// A call to an embeddings model.
    Embeddings,
    /// A retrieval step (alias `retrieval`).
    Retriever,
    /// A tool the model called.
    Tool,
    /// An agent's run.
    Agent,
    /// A chain of steps.
    Chain,
    /// Anything else (the default).
    #[default]
    Other,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 7] = [
        Kind::Llm,
        Kind::Embeddings,
        Kind::Retriever,
        Kind::Tool,
        Kind::Agent,
        Kind::Chain,
        Kind::Other,
    ];

    /// The kind's canonical name (`llm`, `embeddings`, `retriever`, `tool`, `agent`, `chain`,
    /// `other`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Llm => "llm",
            Kind::Embeddings => "embeddings",
            Kind::Retriever => "retriever",
            Kind::Tool => "tool",
            Kind::Agent => "agent",
            Kind::Chain => "chain",
            Kind::Other => "other",
        }
    }

    /// A kind from its name or alias (`completion` for `llm`, `retrieval` for `retriever`).
    pub fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "llm" | "completion" => Kind::Llm,
            "embeddings" => Kind::Embeddings,
            "retriever" | "retrieval" => Kind::Retriever,
            "tool" => Kind::Tool,
            "agent" => Kind::Agent,
            "chain" => Kind::Chain,
            "other" => Kind::Other,
            _ => return None,
        })
    }

    /// The wire `Family` of spans of this kind.
    pub(crate) const fn family(self) -> Family {
        match self {
            Kind::Llm => Family::Completion,
            Kind::Embeddings => Family::Embeddings,
            Kind::Retriever => Family::Retrieval,
            _ => Family::Other,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use crate::values::Severity;

/// One span, open or closed, in a trace's arena.
#[derive(Clone)]
pub(crate) struct SpanRecord {
    pub(crate) id: SpanId,
    /// The parent span, or the trace's root span id for a span directly under the trace.
    pub(crate) parent: SpanId,
    pub(crate) start: Tick,
    /// `None` while the span is open.
    pub(crate) end: Option<Tick>,
    pub(crate) name: Name,
    pub(crate) kind: Kind,
    pub(crate) severity: Option<Severity>,
    /// The span that was innermost on the stack when this one opened (an index in the same
    /// arena, or `NO_SPAN`): the chain of open spans. Meaningless once the trace has closed.
    pub(crate) prev: u32,
    /// Everything optional lives behind one box, allocated on first use.
    pub(crate) data: Option<Box<SpanData>>,
}

impl SpanRecord {
    pub(crate) fn data_mut(&mut self) -> &mut SpanData {
        self.data.get_or_insert_with(Default::default)
    }
}

/// The optional parts of a span.
#[derive(Clone, Default)]
pub(crate) struct SpanData {
    pub(crate) message: Option<String>,
    /// Closed by an unwinding panic (`message` holds the panic's text).
    pub(crate) panicked: bool,
    pub(crate) input: Option<Value>,
    pub(crate) output: Option<Value>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) llm: LlmData,
}

/// What a model call sent, received, used and cost (and what a retrieval or embeddings step
/// worked on).
#[derive(Clone, Default)]
pub(crate) struct LlmData {
    pub(crate) options: Option<values::Options>,
    pub(crate) messages: Vec<values::Message>,
    pub(crate) usage: Option<values::Usage>,
    pub(crate) cost: Option<values::Cost>,
    pub(crate) documents: Vec<values::Document>,
    pub(crate) queries: Vec<values::RetrievalQuery>,
    pub(crate) embedding_inputs: Vec<String>,
    pub(crate) response_id: Option<String>,
    pub(crate) response_model: Option<String>,
    pub(crate) finish_reasons: Vec<String>,
    /// The service tier the call ran on (`flex`, `priority`, ...): it selects tier prices.
    pub(crate) service_tier: Option<String>,
}

impl LlmData {
    pub(crate) fn options_mut(&mut self) -> &mut values::Options {
        self.options.get_or_insert_with(Default::default)
    }
}

/// An event or finding, addressed to a span (or to the trace when `target` is
/// [`SpanId::NONE`]).
#[derive(Clone)]
pub(crate) struct Signal {
    pub(crate) target: SpanId,
    pub(crate) at: Tick,
    pub(crate) body: SignalBody,
}

#[derive(Clone)]
pub(crate) enum SignalBody {
    Event {
        name: Name,
        metadata: Map<String, Value>,
    },
    Finding(Box<FindingRecord>),
}

#[derive(Clone)]
pub(crate) struct FindingRecord {
    pub(crate) name: Name,
    pub(crate) value: values::FindingValue,
    pub(crate) comment: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) metadata: Map<String, Value>,
}

/// The trace's own data, carried by the fragment that owns the trace.
#[derive(Clone)]
pub(crate) struct TraceInfo {
    pub(crate) name: Name,
    pub(crate) start: Tick,
    pub(crate) end: Option<Tick>,
    pub(crate) session_id: Option<String>,
    pub(crate) user_id: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) input: Option<Value>,
    pub(crate) output: Option<Value>,
    pub(crate) severity: Option<Severity>,
    pub(crate) message: Option<String>,
    /// Closed by an unwinding panic (`message` holds the panic's text).
    pub(crate) panicked: bool,
}

impl TraceInfo {
    pub(crate) fn new(name: Name, start: Tick) -> Self {
        TraceInfo {
            name,
            start,
            end: None,
            session_id: None,
            user_id: None,
            tags: Vec::new(),
            metadata: Map::new(),
            input: None,
            output: None,
            severity: None,
            message: None,
            panicked: false,
        }
    }
}

/// A finished trace, or a fragment of one, on its way to the exporters.
///
/// The fragment that owns the trace carries `info`; spans that closed on another thread after
/// the trace had gone (a detached task outliving its request, a remote parent) travel as
/// fragments without it, addressed to the same trace id.
#[derive(Clone)]
pub(crate) struct FinishedTrace {
    pub(crate) trace_id: TraceId,
    /// The id of the trace's own (root) span: the parent of spans directly under the trace.
    pub(crate) root_span: SpanId,
    pub(crate) anchor: Anchor,
    pub(crate) info: Option<Box<TraceInfo>>,
    pub(crate) spans: Vec<SpanRecord>,
    pub(crate) signals: Vec<Signal>,
}

impl FinishedTrace {
    /// The number of ingest records this becomes: the trace, its spans, events and findings.
    pub(crate) fn record_count(&self) -> u64 {
        (usize::from(self.info.is_some()) + self.spans.len() + self.signals.len()) as u64
    }

    /// A cheap estimate of the trace's size, for the buffer's byte bound: its JSON, plus what
    /// it holds in memory besides its text (its structs, their boxes and map nodes), so that
    /// the bound holds for memory as well.
    pub(crate) fn approx_bytes(&self) -> usize {
        use std::mem::size_of;
        const SPAN_BASE: usize = 320;
        const SIGNAL_BASE: usize = 200;
        let mut n = 400 + size_of::<FinishedTrace>();
        // A span vector may hold up to twice its length while it grows.
        n += (2 * size_of::<SpanRecord>() + SPAN_BASE) * self.spans.len();
        n += 2 * size_of::<Signal>() * self.signals.len();
        for sig in &self.signals {
            n += match &sig.body {
                SignalBody::Event { metadata, .. } => map_memory(metadata),
                SignalBody::Finding(f) => size_of::<FindingRecord>() + map_memory(&f.metadata),
            };
        }
        if let Some(info) = &self.info {
            n += size_of::<TraceInfo>() + map_memory(&info.metadata);
            n += info.name.len() + map_len(&info.metadata);
            n += info.input.as_ref().map_or(0, value_len)
                + info.output.as_ref().map_or(0, value_len);
        }
        for s in &self.spans {
            n += s.name.len();
            if let Some(d) = &s.data {
                n += size_of::<SpanData>() + map_memory(&d.metadata);
                n += d.message.as_ref().map_or(0, String::len);
                n += d.input.as_ref().map_or(0, value_len) + d.output.as_ref().map_or(0, value_len);
                n += map_len(&d.metadata);
                for m in &d.llm.messages {
                    n += 40 + m.contents().iter().map(part_len).sum::<usize>();
                }
                n += d
                    .llm
                    .documents
                    .iter()
                    .map(|doc| 80 + doc.content.as_ref().map_or(0, value_len))
                    .sum::<usize>();
            }
        }
        for sig in &self.signals {
            n += SIGNAL_BASE
                + match &sig.body {
                    SignalBody::Event { metadata, .. } => map_len(metadata),
                    SignalBody::Finding(f) => {
                        f.comment.as_ref().map_or(0, String::len)
                            + f.description.as_ref().map_or(0, String::len)
                            + map_len(&f.metadata)
                    }
                };
        }
        n
    }
}

fn part_len(p: &values::Part) -> usize {
    match p {
        values::Part::Text(t) => t.text.len() + 12,
        values::Part::Data(d) => d.data.len() + d.mime_type.len() + 30,
    }
}

/// The memory of a map's nodes beyond its keys' and values' text: a B-tree node holds up to
/// eleven entries (a key and a value each) and is allocated whole.
fn map_memory(m: &Map<String, Value>) -> usize {
    const NODE: usize = 11 * (std::mem::size_of::<String>() + std::mem::size_of::<Value>()) + 64;
    m.len().div_ceil(11) * NODE
}

fn map_len(m: &Map<String, Value>) -> usize {
    m.iter().map(|(k, v)| k.len() + 4 + value_len(v)).sum()
}

/// An estimate of a value's JSON length: exact for strings up to escaping, close for the rest.
pub(crate) fn value_len(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 12,
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(|x| value_len(x) + 1).sum::<usize>(),
        Value::Object(m) => 2 + map_len(m),
    }
}

// ---- arenas -------------------------------------------------------------------------------

/// Span arenas whose traces have been exported, emptied and kept for new traces. A trace that
/// closes moves its arena to the exporter (on the flusher thread, in background delivery):
/// without this, every trace would allocate its arena on one thread and free it on another.
static ARENAS: Mutex<Arenas> = Mutex::new(Arenas {
    kept: Vec::new(),
    records: 0,
});

struct Arenas {
    kept: Vec<Vec<SpanRecord>>,
    /// Room for how many records the kept arenas hold, in all.
    records: usize,
}

/// At most this much room is kept (about 1 MiB of records), so a burst of large traces does
/// not stay in memory once it is sent.
const KEPT_RECORDS: usize = (1 << 20) / std::mem::size_of::<SpanRecord>();

/// An empty arena with room for `spans` spans, reused if one is kept.
pub(crate) fn reuse_arena(spans: usize) -> Vec<SpanRecord> {
    let kept = ARENAS.try_lock().ok().and_then(|mut arenas| {
        let arena = arenas.kept.pop()?;
        arenas.records -= arena.capacity();
        Some(arena)
    });
    match kept {
        Some(mut arena) => {
            arena.reserve(spans);
            arena
        }
        None => Vec::with_capacity(spans),
    }
}

/// Empty an exported trace's arena and keep it for a new trace, if there is room.
pub(crate) fn recycle_arena(mut spans: Vec<SpanRecord>) {
    spans.clear();
    let room = spans.capacity();
    if room == 0 {
        return;
    }
    let Ok(mut arenas) = ARENAS.lock() else {
        return;
    };
    if arenas.records + room <= KEPT_RECORDS {
        arenas.records += room;
        arenas.kept.push(spans);
    }
}
