//! The Modelmetry ingest payload: serde types that mirror `IngestSignalsV1RequestBody` of the
//! Modelmetry OpenAPI spec, field for field.
//!
//! Names are PascalCase as in the spec, optional fields are omitted when empty, timestamps are
//! RFC 3339 UTC text and every `XID` is a UUID. The types double as the values you hand to the
//! span API ([`Message`], [`Usage`], [`Cost`], [`Options`], [`Document`], …), so what you record
//! is exactly what is sent.
//!
//! Unknown fields are refused on deserialisation, as the spec's `additionalProperties: false`
//! says, with one deliberate exception: [`Options`] silently drops an `APIKey`, because a
//! provider key must never travel inside a span.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// `RetrievalQuery`: one query of a retrieval step.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RetrievalQuery {
    /// The query as text.
    pub text_representation: String,
    /// The query's embedding, if one was computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<Vec<f32>>,
}

/// `Document`: a document retrieved or given to a model.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Document {
    /// A stable identifier (a URL, a database key, …).
    pub identifier: String,
    /// A human-readable title.
    pub title: String,
    /// The MIME type of `Content`, e.g. `text/plain`.
    pub content_type: String,
    /// The document's content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// Free-form metadata (a relevance score, for example).
    #[serde(default, skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
}

/// A completion message, tagged by `Role` as the spec's discriminator says.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "Role", rename_all = "lowercase")]
pub enum Message {
    /// `SystemMessage`.
    System(SystemMessage),
    /// `UserMessage`.
    User(UserMessage),
    /// `AssistantMessage`.
    Assistant(AssistantMessage),
    /// `ToolMessage`: a tool's answer to a tool call.
    Tool(ToolMessage),
}

impl Message {
    /// A system message of one text part.
    pub fn system(text: impl Into<String>) -> Self {
        Message::System(SystemMessage {
            contents: vec![Part::text(text)],
            name: None,
        })
    }

    /// A user message of one text part.
    pub fn user(text: impl Into<String>) -> Self {
        Message::User(UserMessage {
            contents: vec![Part::text(text)],
            name: None,
        })
    }

    /// An assistant message of one text part.
    pub fn assistant(text: impl Into<String>) -> Self {
        Message::Assistant(AssistantMessage {
            contents: vec![Part::text(text)],
            name: None,
            tool_calls: None,
        })
    }

    /// An assistant message that calls tools (no text).
    pub fn assistant_tool_calls(calls: Vec<ToolCall>) -> Self {
        Message::Assistant(AssistantMessage {
            contents: Vec::new(),
            name: None,
            tool_calls: Some(calls),
        })
    }

    /// A tool's answer to the call `tool_call_id`, as one text part.
    pub fn tool(tool_call_id: impl Into<String>, text: impl Into<String>) -> Self {
        Message::Tool(ToolMessage {
            contents: vec![Part::text(text)],
            tool_call_id: tool_call_id.into(),
        })
    }

    /// The message's role as the spec spells it.
    pub fn role(&self) -> &'static str {
        match self {
            Message::System(_) => "system",
            Message::User(_) => "user",
            Message::Assistant(_) => "assistant",
            Message::Tool(_) => "tool",
        }
    }

    /// The message's parts.
    pub fn contents(&self) -> &[Part] {
        match self {
            Message::System(m) => &m.contents,
            Message::User(m) => &m.contents,
            Message::Assistant(m) => &m.contents,
            Message::Tool(m) => &m.contents,
        }
    }

    /// The message's text parts joined with newlines.
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self
            .contents()
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.text.as_str()),
                Part::Data(_) => None,
            })
            .collect();
        texts.join("\n")
    }
}

/// `SystemMessage`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SystemMessage {
    /// The message's parts.
    pub contents: Vec<Part>,
    /// An optional participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `UserMessage`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct UserMessage {
    /// The message's parts.
    pub contents: Vec<Part>,
    /// An optional participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `AssistantMessage`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AssistantMessage {
    /// The message's parts (empty when the message only calls tools).
    pub contents: Vec<Part>,
    /// An optional participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The tools the assistant called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
}

/// `ToolMessage`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ToolMessage {
    /// The tool's answer.
    pub contents: Vec<Part>,
    /// The id of the tool call this answers.
    #[serde(rename = "ToolCallID")]
    pub tool_call_id: String,
}

/// A part of a message: text or base64 data.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum Part {
    /// `TextPart`.
    Text(TextPart),
    /// `DataPart` (an image, audio, a file).
    Data(DataPart),
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Part::Text(TextPart { text: text.into() })
    }
}

/// `TextPart`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TextPart {
    /// The text.
    pub text: String,
}

/// `DataPart`: binary content, base64-encoded.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DataPart {
    /// The MIME type, e.g. `image/png`.
    pub mime_type: String,
    /// The content, base64-encoded.
    pub data: String,
    /// The detail level an image was sent at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
}

/// The detail level of an image part.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Detail {
    /// Let the provider choose.
    Auto,
    /// Low detail.
    Low,
    /// High detail.
    High,
}

/// `ToolCall`: a function the assistant asked to run.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ToolCall {
    /// Always `function`.
    #[serde(rename = "Type")]
    pub kind: ToolCallType,
    /// The call's id, which the tool's answer refers to.
    #[serde(rename = "ID")]
    pub id: String,
    /// The function and its arguments.
    pub function: Function,
}

impl ToolCall {
    /// A call of the function `name` with `arguments`.
    pub fn function(id: impl Into<String>, name: impl Into<String>, arguments: Value) -> Self {
        ToolCall {
            kind: ToolCallType::Function,
            id: id.into(),
            function: Function {
                name: name.into(),
                arguments,
            },
        }
    }
}

/// The type of a tool call: the spec allows only `function`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ToolCallType {
    /// A function call.
    #[default]
    Function,
}

/// `Function`: a function's name and arguments.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Function {
    /// The function's name.
    pub name: String,
    /// Its arguments (any JSON).
    pub arguments: Value,
}

/// `Options`: the parameters of a model request.
///
/// The spec's `APIKey` field is deliberately absent: the SDK never sends a provider key, and
/// deserialising options that carry one drops it.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Options {
    /// The provider's API version.
    #[serde(
        rename = "APIVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    /// The provider's base URL.
    #[serde(rename = "BaseURL", default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// A deployment id (Azure).
    #[serde(
        rename = "DeploymentID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub deployment_id: Option<String>,
    /// Frequency penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Legacy function-call mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<String>,
    /// Legacy function names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<Vec<String>>,
    /// Logit bias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logit_bias: Option<Metadata>,
    /// Whether log probabilities were requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    /// The token limit of the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i64>,
    /// The model requested, e.g. `gpt-4o`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Fallback models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_list: Option<Vec<String>>,
    /// The number of choices requested.
    #[serde(rename = "N", default, skip_serializing_if = "Option::is_none")]
    pub n: Option<i64>,
    /// Presence penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// The provider, e.g. `openai`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The response format requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Metadata>,
    /// The sampling seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Metadata>,
    /// Whether the answer was streamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Sampling temperature. The spec allows [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// The request timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Tool choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<String>,
    /// The tools offered to the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// The number of top log probabilities requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<i64>,
    /// Nucleus sampling. The spec allows [0, 1].
    #[serde(rename = "TopP", default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// The end user the request was made for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// `Tool`: a tool offered to a model.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Tool {
    /// The tool's name.
    pub name: String,
    /// What the tool does.
    pub description: String,
    /// The tool's parameters (a JSON schema).
    pub parameters: Value,
}

/// `Usage`: how much of each kind of token (or other unit) a call used.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Usage {
    /// Input (prompt) usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<UsageValue>,
    /// Output (completion) usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<UsageValue>,
    /// Total usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<UsageValue>,
}

impl Usage {
    /// Token usage: input and output tokens, and their sum as the total.
    pub fn tokens(input: u64, output: u64) -> Self {
        Usage {
            input: Some(UsageValue::tokens(input)),
            output: Some(UsageValue::tokens(output)),
            total: Some(UsageValue::tokens(input + output)),
        }
    }
}

/// `UsageValue`: an amount and its unit.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UsageValue {
    /// The amount.
    pub amount: f64,
    /// The unit (`tokens` by default).
    pub unit: String,
}

impl UsageValue {
    /// An amount of tokens.
    pub fn tokens(amount: u64) -> Self {
        UsageValue {
            amount: amount as f64,
            unit: "tokens".to_owned(),
        }
    }
}

/// `Cost`: what a call cost.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Cost {
    /// The cost of the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Money>,
    /// The cost of the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Money>,
    /// The total cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Money>,
}

impl Cost {
    /// Input and output costs in one currency, and their sum as the total.
    pub fn new(input: f64, output: f64, currency: &str) -> Self {
        Cost {
            input: Some(Money::new(input, currency)),
            output: Some(Money::new(output, currency)),
            total: Some(Money::new(input + output, currency)),
        }
    }
}

/// `Money`: an amount in a currency (ISO 4217, three capital letters).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Money {
    /// The amount.
    pub amount: f64,
    /// The currency, e.g. `USD`.
    pub currency: String,
}

impl Money {
    /// An amount in `currency`.
    pub fn new(amount: f64, currency: &str) -> Self {
        Money {
            amount,
            currency: currency.to_owned(),
        }
    }
}

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

/// The value of a finding.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum FindingValue {
    /// A number (always finite: non-finite values are dropped and counted before they get here).
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Text(String),
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

/// The `application/problem+json` body of an error answer (`ErrorModel`).
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
pub struct ErrorModel {
    /// A short summary of the problem.
    #[serde(default)]
    pub title: Option<String>,
    /// The HTTP status.
    #[serde(default)]
    pub status: Option<i64>,
    /// What went wrong with this request.
    #[serde(default)]
    pub detail: Option<String>,
    /// Individual errors, each with where it occurred.
    #[serde(default)]
    pub errors: Option<Vec<ErrorDetail>>,
}

/// One error of an [`ErrorModel`].
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
pub struct ErrorDetail {
    /// Where the error occurred, e.g. `body.Spans[3].Name`.
    #[serde(default)]
    pub location: Option<String>,
    /// The error's text.
    #[serde(default)]
    pub message: Option<String>,
}

/// How a span or trace went. Unset (no severity) is the normal case.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Diagnostic detail.
    Debug,
    /// Worth knowing.
    Info,
    /// Something went partly wrong.
    Warning,
    /// The work failed (an `Err`, a panic).
    Error,
}

impl Severity {
    /// The severity as the wire spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Debug => "debug",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_are_tagged_by_role() {
        let m = Message::user("hi");
        assert_eq!(
            serde_json::to_value(&m).ok(),
            Some(json!({"Role": "user", "Contents": [{"Text": "hi"}]}))
        );
        let back: Message =
            serde_json::from_value(json!({"Role": "tool", "ToolCallID": "c1", "Contents": []}))
                .expect("valid tool message");
        assert_eq!(back.role(), "tool");
    }

    #[test]
    fn options_drop_an_api_key() {
        let o: Options =
            serde_json::from_value(json!({"APIKey": "sk-secret", "Model": "gpt-4o", "TopP": 0.5}))
                .expect("options parse");
        assert_eq!(o.model.as_deref(), Some("gpt-4o"));
        let text = serde_json::to_string(&o).expect("serialises");
        assert!(!text.contains("sk-secret"), "{text}");
        assert!(text.contains("\"TopP\":0.5"), "{text}");
    }

    #[test]
    fn optional_span_fields_are_omitted() {
        let v = serde_json::to_value(CreateSpanParams::default()).expect("serialises");
        assert!(v.get("End").is_some());
        assert!(v.get("Family").is_none() && v.get("ParentID").is_none());
    }
}
