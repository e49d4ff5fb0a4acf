//! The Modelmetry ingest payload: serde types that mirror `IngestSignalsV1RequestBody` of the
//! Modelmetry OpenAPI spec, field for field, as
//! `testing::RecordedTrace::ingest` (feature `testing`) reads them back.
//!
//! **Not covered by semver** (see [`unversioned`](crate::unversioned)): these types follow
//! the spec, and change in any release in which it changes. The values you hand to the span
//! API ([`Message`], [`Usage`], [`Cost`], [`Options`], [`Document`], …) are the crate root's,
//! and stable.
//!
//! Names are PascalCase as in the spec, optional fields are omitted when empty, timestamps are
//! RFC 3339 UTC text and every `XID` is a UUID. Unknown fields are refused on
//! deserialisation, as the spec's `additionalProperties: false` says.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::values::{
    Cost, Document, FindingValue, Message, Options, RetrievalQuery, Severity, Usage,
};

/// A JSON object: the type of every `Metadata` field.
pub type Metadata = Map<String, Value>;

fn is_empty_map(m: &Metadata) -> bool {
    m.is_empty()
}

/// The body of `POST /signals/ingest/v1`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IngestSignalsV1RequestBody {
    /// Traces to create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traces: Vec<CreateTraceParams>,
    /// Spans to create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<CreateSpanParams>,
    /// Events to create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<CreateEventParams>,
    /// Findings to create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<CreateFindingParams>,
    /// Sessions to create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<CreateSessionParams>,
}

impl IngestSignalsV1RequestBody {
    /// The number of records (traces, spans, events, findings and sessions) in the body.
    pub fn record_count(&self) -> usize {
        self.traces.len()
            + self.spans.len()
            + self.events.len()
            + self.findings.len()
            + self.sessions.len()
    }
}

/// `CreateTraceParams`: one trace.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateTraceParams {
    /// The trace's id, a UUID.
    #[serde(rename = "XID")]
    pub xid: String,
    /// The trace's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The session the trace belongs to.
    #[serde(rename = "SessionID", default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// When the trace started (RFC 3339).
    pub start: String,
    /// When the trace ended (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Free-form metadata; the SDK keeps `user_id` and `tags` here.
    #[serde(default, skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
}

/// `CreateSpanParams`: one span.
///
/// `FamilyData` is read according to `Family`: the JSON alone cannot tell an empty completion
/// from the (always empty) data of another family.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(
    rename_all = "PascalCase",
    deny_unknown_fields,
    try_from = "SpanParamsRepr"
)]
pub struct CreateSpanParams {
    /// The span's id, a UUID.
    #[serde(rename = "XID")]
    pub xid: String,
    /// The `XID` of the trace the span belongs to.
    #[serde(rename = "TraceID")]
    pub trace_id: String,
    /// The `XID` of the parent span; absent for a span directly under its trace.
    #[serde(rename = "ParentID", default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// The span's name.
    pub name: String,
    /// When the span started (RFC 3339).
    pub start: String,
    /// When the span ended (RFC 3339).
    pub end: String,
    /// The span's family, which says what `FamilyData` holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    /// The family's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_data: Option<FamilyData>,
    /// A message about the span's outcome (an error's text, for example).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The span's severity; absent means unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Free-form metadata; the SDK keeps the span's kind, input and output here.
    #[serde(default, skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
}

/// `CreateSpanParams` as read, before `FamilyData` is decoded by `Family`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct SpanParamsRepr {
    #[serde(rename = "XID")]
    xid: String,
    #[serde(rename = "TraceID")]
    trace_id: String,
    #[serde(rename = "ParentID", default)]
    parent_id: Option<String>,
    name: String,
    start: String,
    end: String,
    #[serde(default)]
    family: Option<Family>,
    #[serde(default)]
    family_data: Option<Value>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    severity: Option<Severity>,
    #[serde(default)]
    metadata: Metadata,
}

impl TryFrom<SpanParamsRepr> for CreateSpanParams {
    type Error = serde_json::Error;

    fn try_from(r: SpanParamsRepr) -> Result<Self, Self::Error> {
        let family_data = match r.family_data {
            None | Some(Value::Null) => None,
            Some(data) => Some(match r.family {
                Some(Family::Completion) => FamilyData::Completion(serde_json::from_value(data)?),
                Some(Family::Embeddings) => FamilyData::Embeddings(serde_json::from_value(data)?),
                Some(Family::Retrieval) => FamilyData::Retrieval(serde_json::from_value(data)?),
                Some(Family::Other) => FamilyData::Other(serde_json::from_value(data)?),
                None => serde_json::from_value(data)?,
            }),
        };
        Ok(CreateSpanParams {
            xid: r.xid,
            trace_id: r.trace_id,
            parent_id: r.parent_id,
            name: r.name,
            start: r.start,
            end: r.end,
            family: r.family,
            family_data,
            message: r.message,
            severity: r.severity,
            metadata: r.metadata,
        })
    }
}

/// The family of a span: what its `FamilyData` describes.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// A completion (chat or text generation) call.
    Completion,
    /// An embeddings call.
    Embeddings,
    /// A retrieval (search) step.
    Retrieval,
    /// Anything else: tools, agents, chains, plain functions.
    Other,
}

/// The data of a span's family. Serialised as the bare object; `Family` says which it is.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
// `Options` makes the completion variant large; a body is built once per export and boxing
// would cost an allocation per span for nothing.
#[allow(clippy::large_enum_variant)]
pub enum FamilyData {
    /// `CompletionFamilyData`.
    Completion(CompletionFamilyData),
    /// `EmbeddingsFamilyData`.
    Embeddings(EmbeddingsFamilyData),
    /// `RetrievalFamilyData`.
    Retrieval(RetrievalFamilyData),
    /// `OtherFamilyData` (an empty object).
    Other(OtherFamilyData),
}

/// `CompletionFamilyData`: what a completion call sent, received, used and cost.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CompletionFamilyData {
    /// The messages sent and received, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// The request's options (model, provider, temperature, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The call's cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    /// Documents given to the model as context.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<Document>,
}

/// `EmbeddingsFamilyData`: the texts embedded and the request's options.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EmbeddingsFamilyData {
    /// The texts embedded (required by the spec, so always present).
    pub inputs: Vec<String>,
    /// The request's options (required by the spec, so always present).
    pub options: Options,
}

/// `RetrievalFamilyData`: the queries run and the documents found.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RetrievalFamilyData {
    /// The queries (required by the spec, so always present).
    pub queries: Vec<RetrievalQuery>,
    /// The documents retrieved (required by the spec, so always present).
    pub documents: Vec<Document>,
}

/// `OtherFamilyData`: an empty object.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OtherFamilyData {}

/// `CreateEventParams`: something that happened at an instant, on a span or on a trace.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateEventParams {
    /// The event's id, a UUID.
    #[serde(rename = "XID")]
    pub xid: String,
    /// The event's name.
    pub name: String,
    /// When it happened (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The trace it belongs to.
    #[serde(rename = "TraceID", default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The span it belongs to; absent for an event on the trace itself.
    #[serde(rename = "SpanID", default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// The evaluation entry it belongs to (never set by the SDK).
    #[serde(rename = "EntryID", default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
}

/// `CreateFindingParams`: a measured or judged value, on a span or on a trace.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateFindingParams {
    /// The finding's id, a UUID.
    #[serde(rename = "XID")]
    pub xid: String,
    /// The finding's name, e.g. `response_safe_score`.
    pub name: String,
    /// Its value: a number, a boolean or a string.
    pub value: FindingValue,
    /// When it was found (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who produced it; the SDK always says `sdk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<FindingSource>,
    /// The trace it belongs to.
    #[serde(rename = "TraceID", default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The span it belongs to; absent for a finding on the trace itself.
    #[serde(rename = "SpanID", default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// The evaluation entry it belongs to (never set by the SDK).
    #[serde(rename = "EntryID", default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
}

/// Who produced a finding.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FindingSource {
    /// A human annotation.
    Annotation,
    /// A Modelmetry evaluator.
    Evaluator,
    /// Code instrumented with an SDK (what this crate sends).
    Sdk,
}

/// `CreateSessionParams`: a session, which groups the traces of one conversation.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateSessionParams {
    /// The session's id, as the traces' `SessionID` names it.
    #[serde(rename = "XID")]
    pub xid: String,
    /// A name for the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_span_fields_are_omitted() {
        let v = serde_json::to_value(CreateSpanParams::default()).expect("serialises");
        assert!(v.get("End").is_some());
        assert!(v.get("Family").is_none() && v.get("ParentID").is_none());
    }
}
