//! The values you hand to the span API ([`Message`], [`Usage`], [`Cost`], [`Options`],
//! [`Document`], [`RetrievalQuery`], [`ToolCall`], [`FindingValue`], …), serialised exactly as
//! the Modelmetry ingest spec names them: what you record is what is sent.
//!
//! Every type is `#[non_exhaustive]`, so that a field the spec adds is not a breaking change:
//! build them with their constructors and builder methods
//! (`Options::new().model("gpt-4o").temperature(0.2)`), read them through their public fields.
//!
//! Unknown fields are refused on deserialisation, as the spec's `additionalProperties: false`
//! says, with one deliberate exception: [`Options`] silently drops an `APIKey`, because a
//! provider key must never travel inside a span.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON object: the type of every `Metadata` field.
type Metadata = Map<String, Value>;

fn is_empty_map(m: &Metadata) -> bool {
    m.is_empty()
}

/// `RetrievalQuery`: one query of a retrieval step.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
pub struct TextPart {
    /// The text.
    pub text: String,
}

/// `DataPart`: binary content, base64-encoded.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
pub enum ToolCallType {
    /// A function call.
    #[default]
    Function,
}

/// `Function`: a function's name and arguments.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
pub struct Tool {
    /// The tool's name.
    pub name: String,
    /// What the tool does.
    pub description: String,
    /// The tool's parameters (a JSON schema).
    pub parameters: Value,
}

/// `Usage`: how much of each kind of token (or other unit) a call used.
///
/// `Input`, `Output` and `Total` are the spec's fields, sent as the span's `Usage`. The token
/// *buckets* below them (cache reads, cache writes, reasoning) are the SDK's: the spec has no
/// place for them, so they travel in the span's metadata (`usage.cache_read_tokens`,
/// `usage.cache_write_tokens`, `usage.cache_write_1h_tokens`, `usage.reasoning_tokens`) and,
/// with OpenTelemetry, as `gen_ai.usage.cache_read.input_tokens`,
/// `gen_ai.usage.cache_creation.input_tokens` (5-minute and 1-hour writes together) and
/// `gen_ai.usage.reasoning.output_tokens`. They are what cost is computed from.
///
/// # The rule: `input` is every input token
///
/// `input` counts *all* the input tokens of the call, cached ones included, and each bucket is
/// a part of it (reasoning tokens are a part of `output`). That is how OpenAI reports
/// `prompt_tokens` / `input_tokens` (with `cached_tokens` inside), so OpenAI's numbers go in as
/// they are:
///
/// ```
/// use modelmetry::Usage;
///
/// // OpenAI: prompt_tokens 1200 (of which cached_tokens 1024), completion_tokens 300
/// // (of which reasoning_tokens 200).
/// let usage = Usage::tokens(1200, 300).cache_read(1024).reasoning(200);
/// assert_eq!(usage.input_tokens(), Some(1200));
/// ```
///
/// Anthropic reports otherwise: its `input_tokens` *excludes* the tokens read from or written
/// to the cache. Add them back:
///
/// ```
/// use modelmetry::Usage;
///
/// // Anthropic: input_tokens 50, cache_read_input_tokens 1000,
/// // cache_creation_input_tokens 2000 (cache_creation: ephemeral_5m_input_tokens 500,
/// // ephemeral_1h_input_tokens 1500), output_tokens 80.
/// let (input, read, created, one_hour, output) = (50, 1000, 2000, 1500, 80);
/// let usage = Usage::tokens(input + read + created, output)
///     .cache_read(read)
///     .cache_write(created - one_hour) // the 5-minute (default) writes
///     .cache_write_1h(one_hour);
/// assert_eq!(usage.input_tokens(), Some(3050));
/// assert_eq!(usage.cache_write_tokens(), Some(500));
/// ```
///
/// (When Anthropic gives no `cache_creation` breakdown, all of `cache_creation_input_tokens`
/// is 5-minute writes: `.cache_write(cache_creation_input_tokens)`.) Google's Gemini reports
/// like OpenAI (`prompt_token_count` includes `cached_content_token_count`).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Usage {
    /// Input (prompt) usage: every input token, cached ones included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<UsageValue>,
    /// Output (completion) usage: every output token, reasoning ones included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<UsageValue>,
    /// Total usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<UsageValue>,
    /// Of the input tokens, those read from the provider's prompt cache. Not a spec field:
    /// sent as metadata `usage.cache_read_tokens`.
    #[serde(skip)]
    pub cache_read: Option<u64>,
    /// Of the input tokens, those written to the prompt cache with the default (5-minute)
    /// lifetime. Not a spec field: sent as metadata `usage.cache_write_tokens`.
    #[serde(skip)]
    pub cache_write: Option<u64>,
    /// Of the input tokens, those written to the prompt cache with a 1-hour lifetime
    /// (Anthropic's `ephemeral_1h_input_tokens`), priced apart from 5-minute writes. Not a
    /// spec field: sent as metadata `usage.cache_write_1h_tokens`.
    #[serde(skip)]
    pub cache_write_1h: Option<u64>,
    /// Of the output tokens, those the model spent reasoning. Not a spec field: sent as
    /// metadata `usage.reasoning_tokens`.
    #[serde(skip)]
    pub reasoning: Option<u64>,
}

impl Usage {
    /// Token usage: `input` tokens (all of them, cached ones included: see the rule above)
    /// and `output` tokens, and their sum as the total. Add the buckets with
    /// [`cache_read`](Self::cache_read), [`cache_write`](Self::cache_write),
    /// [`cache_write_1h`](Self::cache_write_1h) and [`reasoning`](Self::reasoning).
    pub fn tokens(input: u64, output: u64) -> Self {
        Usage {
            input: Some(UsageValue::tokens(input)),
            output: Some(UsageValue::tokens(output)),
            total: Some(UsageValue::tokens(input.saturating_add(output))),
            ..Usage::default()
        }
    }

    /// Of the input tokens, `n` were read from the prompt cache (OpenAI's `cached_tokens`,
    /// Anthropic's `cache_read_input_tokens`).
    pub fn cache_read(mut self, n: u64) -> Self {
        self.cache_read = Some(n);
        self
    }

    /// Of the input tokens, `n` were written to the prompt cache with the default (5-minute)
    /// lifetime (Anthropic's `ephemeral_5m_input_tokens`, or all of
    /// `cache_creation_input_tokens` when it gives no breakdown).
    pub fn cache_write(mut self, n: u64) -> Self {
        self.cache_write = Some(n);
        self
    }

    /// Of the input tokens, `n` were written to the prompt cache with a 1-hour lifetime
    /// (Anthropic's `ephemeral_1h_input_tokens`).
    pub fn cache_write_1h(mut self, n: u64) -> Self {
        self.cache_write_1h = Some(n);
        self
    }

    /// Of the output tokens, `n` were reasoning tokens (OpenAI's `reasoning_tokens`).
    pub fn reasoning(mut self, n: u64) -> Self {
        self.reasoning = Some(n);
        self
    }

    /// The input tokens (cached ones included), when `input` is counted in tokens and is a
    /// whole, non-negative, finite number.
    pub fn input_tokens(&self) -> Option<u64> {
        self.input.as_ref().and_then(UsageValue::as_tokens)
    }

    /// The output tokens (reasoning ones included), as [`input_tokens`](Self::input_tokens)
    /// reads them.
    pub fn output_tokens(&self) -> Option<u64> {
        self.output.as_ref().and_then(UsageValue::as_tokens)
    }

    /// The input tokens read from the prompt cache, if given.
    pub fn cache_read_tokens(&self) -> Option<u64> {
        self.cache_read
    }

    /// The input tokens written to the prompt cache with the default (5-minute) lifetime,
    /// if given.
    pub fn cache_write_tokens(&self) -> Option<u64> {
        self.cache_write
    }

    /// The input tokens written to the prompt cache with a 1-hour lifetime, if given.
    pub fn cache_write_1h_tokens(&self) -> Option<u64> {
        self.cache_write_1h
    }

    /// The output tokens spent reasoning, if given.
    pub fn reasoning_tokens(&self) -> Option<u64> {
        self.reasoning
    }
}

/// `UsageValue`: an amount and its unit.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[non_exhaustive]
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

    /// The amount as a count of tokens: `None` unless the unit is `tokens` and the amount a
    /// finite, non-negative number (a fraction is cut; one past `u64::MAX` saturates).
    pub fn as_tokens(&self) -> Option<u64> {
        (self.unit == "tokens" && self.amount.is_finite() && self.amount >= 0.0)
            .then_some(self.amount as u64)
    }
}

/// `Cost`: what a call cost.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[non_exhaustive]
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
#[non_exhaustive]
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

/// The value of a finding.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
#[non_exhaustive]
pub enum FindingValue {
    /// A number (always finite: non-finite values are dropped and counted before they get here).
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Text(String),
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

impl RetrievalQuery {
    /// A query given as text.
    pub fn new(text: impl Into<String>) -> Self {
        RetrievalQuery {
            text_representation: text.into(),
            embeddings: None,
        }
    }

    /// The query's embedding.
    pub fn embeddings(mut self, embeddings: Vec<f32>) -> Self {
        self.embeddings = Some(embeddings);
        self
    }
}

impl Document {
    /// A document named `identifier` (a URL, a database key, …) with `content`: a string is
    /// taken as `text/plain`, any other JSON as `application/json` (change it with
    /// [`content_type`](Self::content_type)); `Value::Null` means no content.
    pub fn new(identifier: impl Into<String>, content: impl Into<Value>) -> Self {
        let content = content.into();
        let content_type = match content {
            Value::Null => "",
            Value::String(_) => "text/plain",
            _ => "application/json",
        };
        Document {
            identifier: identifier.into(),
            title: String::new(),
            content_type: content_type.to_owned(),
            content: (!content.is_null()).then_some(content),
            metadata: Metadata::new(),
        }
    }

    /// A human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// The MIME type of the content, e.g. `text/markdown`.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// One metadata entry (a relevance score, for example); a later value of the same key
    /// replaces the earlier one.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

impl SystemMessage {
    /// A system message of these parts.
    pub fn new(contents: Vec<Part>) -> Self {
        SystemMessage {
            contents,
            name: None,
        }
    }

    /// A participant name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl UserMessage {
    /// A user message of these parts (text, images, files).
    pub fn new(contents: Vec<Part>) -> Self {
        UserMessage {
            contents,
            name: None,
        }
    }

    /// A participant name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl AssistantMessage {
    /// An assistant message of these parts.
    pub fn new(contents: Vec<Part>) -> Self {
        AssistantMessage {
            contents,
            name: None,
            tool_calls: None,
        }
    }

    /// A participant name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The tools the assistant called.
    pub fn tool_calls(mut self, calls: Vec<ToolCall>) -> Self {
        self.tool_calls = Some(calls);
        self
    }
}

impl ToolMessage {
    /// A tool's answer, of these parts, to the call `tool_call_id`.
    pub fn new(tool_call_id: impl Into<String>, contents: Vec<Part>) -> Self {
        ToolMessage {
            contents,
            tool_call_id: tool_call_id.into(),
        }
    }
}

impl From<SystemMessage> for Message {
    fn from(m: SystemMessage) -> Self {
        Message::System(m)
    }
}

impl From<UserMessage> for Message {
    fn from(m: UserMessage) -> Self {
        Message::User(m)
    }
}

impl From<AssistantMessage> for Message {
    fn from(m: AssistantMessage) -> Self {
        Message::Assistant(m)
    }
}

impl From<ToolMessage> for Message {
    fn from(m: ToolMessage) -> Self {
        Message::Tool(m)
    }
}

impl DataPart {
    /// Binary content of MIME type `mime_type`, base64-encoded in `data`.
    pub fn new(mime_type: impl Into<String>, data: impl Into<String>) -> Self {
        DataPart {
            mime_type: mime_type.into(),
            data: data.into(),
            detail: None,
        }
    }

    /// The detail level an image was sent at.
    pub fn detail(mut self, detail: Detail) -> Self {
        self.detail = Some(detail);
        self
    }
}

impl From<DataPart> for Part {
    fn from(p: DataPart) -> Self {
        Part::Data(p)
    }
}

impl Function {
    /// The function `name`, called with `arguments` (any JSON).
    pub fn new(name: impl Into<String>, arguments: Value) -> Self {
        Function {
            name: name.into(),
            arguments,
        }
    }
}

impl Tool {
    /// A tool offered to a model: its name, what it does, and its parameters as a JSON
    /// schema.
    pub fn new(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Self {
        Tool {
            name: name.into(),
            description: description.into(),
            parameters,
        }
    }
}

/// One builder method per optional field of [`Options`].
macro_rules! options_setters {
    ($($(#[$doc:meta])* $field:ident: $arg:ty => $conv:expr;)*) => {
        impl Options {
            $(
                $(#[$doc])*
                pub fn $field(mut self, value: $arg) -> Self {
                    self.$field = Some($conv(value));
                    self
                }
            )*
        }
    };
}

fn to_string(s: impl Into<String>) -> String {
    s.into()
}

fn same<T>(v: T) -> T {
    v
}

options_setters! {
    /// The provider's API version.
    api_version: impl Into<String> => to_string;
    /// The provider's base URL.
    base_url: impl Into<String> => to_string;
    /// A deployment id (Azure).
    deployment_id: impl Into<String> => to_string;
    /// Frequency penalty.
    frequency_penalty: f64 => same;
    /// Legacy function-call mode.
    function_call: impl Into<String> => to_string;
    /// Legacy function names.
    functions: Vec<String> => same;
    /// Logit bias.
    logit_bias: Map<String, Value> => same;
    /// Whether log probabilities were requested.
    logprobs: bool => same;
    /// The token limit of the answer.
    max_tokens: i64 => same;
    /// The model requested, e.g. `gpt-4o`.
    model: impl Into<String> => to_string;
    /// Fallback models.
    model_list: Vec<String> => same;
    /// The number of choices requested.
    n: i64 => same;
    /// Presence penalty.
    presence_penalty: f64 => same;
    /// The provider, e.g. `openai`.
    provider: impl Into<String> => to_string;
    /// The response format requested.
    response_format: Map<String, Value> => same;
    /// The sampling seed.
    seed: i64 => same;
    /// Stop sequences.
    stop: Map<String, Value> => same;
    /// Whether the answer was streamed.
    stream: bool => same;
    /// Sampling temperature. The spec allows [0, 1]; a value outside moves to the span's
    /// metadata (`modelmetry.invalid`).
    temperature: f64 => same;
    /// The request timeout in seconds.
    timeout: f64 => same;
    /// Tool choice.
    tool_choice: impl Into<String> => to_string;
    /// The tools offered to the model.
    tools: Vec<Tool> => same;
    /// The number of top log probabilities requested.
    top_logprobs: i64 => same;
    /// Nucleus sampling. The spec allows [0, 1].
    top_p: f64 => same;
    /// The end user the request was made for.
    user: impl Into<String> => to_string;
}

impl Options {
    /// No options set: add them with the builder methods,
    /// `Options::new().model("gpt-4o").temperature(0.2).max_tokens(100)`.
    pub fn new() -> Self {
        Options::default()
    }
}

impl Usage {
    /// No usage set: add it with [`input`](Self::input), [`output`](Self::output) and
    /// [`total`](Self::total), or start from [`Usage::tokens`].
    pub fn new() -> Self {
        Usage::default()
    }

    /// Input (prompt) usage.
    pub fn input(mut self, value: UsageValue) -> Self {
        self.input = Some(value);
        self
    }

    /// Output (completion) usage.
    pub fn output(mut self, value: UsageValue) -> Self {
        self.output = Some(value);
        self
    }

    /// Total usage.
    pub fn total(mut self, value: UsageValue) -> Self {
        self.total = Some(value);
        self
    }
}

impl UsageValue {
    /// An amount in `unit` (`characters`, `images`, `seconds`, …).
    pub fn new(amount: f64, unit: impl Into<String>) -> Self {
        UsageValue {
            amount,
            unit: unit.into(),
        }
    }
}

impl Cost {
    /// The cost of the input.
    pub fn input(mut self, money: Money) -> Self {
        self.input = Some(money);
        self
    }

    /// The cost of the output.
    pub fn output(mut self, money: Money) -> Self {
        self.output = Some(money);
        self
    }

    /// The total cost.
    pub fn total(mut self, money: Money) -> Self {
        self.total = Some(money);
        self
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
    fn builders_write_what_the_fields_say() {
        let o = Options::new()
            .model("gpt-4o")
            .temperature(0.2)
            .max_tokens(100);
        assert_eq!(
            serde_json::to_value(&o).ok(),
            Some(json!({"Model": "gpt-4o", "Temperature": 0.2, "MaxTokens": 100}))
        );
        let u = Usage::new()
            .input(UsageValue::new(3.0, "images"))
            .total(UsageValue::tokens(9));
        assert_eq!(
            serde_json::to_value(&u).ok(),
            Some(
                json!({"Input": {"Amount": 3.0, "Unit": "images"}, "Total": {"Amount": 9.0, "Unit": "tokens"}})
            )
        );
        let c = Cost::default().total(Money::new(0.5, "USD"));
        assert_eq!(
            serde_json::to_value(&c).ok(),
            Some(json!({"Total": {"Amount": 0.5, "Currency": "USD"}}))
        );
        let m: Message = UserMessage::new(vec![
            Part::text("look"),
            DataPart::new("image/png", "AAEC")
                .detail(Detail::Low)
                .into(),
        ])
        .name("customer")
        .into();
        assert_eq!(
            serde_json::to_value(&m).ok(),
            Some(json!({"Role": "user", "Name": "customer", "Contents": [
                {"Text": "look"}, {"MimeType": "image/png", "Data": "AAEC", "Detail": "low"}]}))
        );
    }

    #[test]
    fn a_document_s_content_type_follows_its_content() {
        let text = Document::new("kb/1", "Orders ship in two days.").title("Shipping");
        assert_eq!(
            serde_json::to_value(&text).ok(),
            Some(
                json!({"Identifier": "kb/1", "Title": "Shipping", "ContentType": "text/plain",
                        "Content": "Orders ship in two days."})
            )
        );
        let json_doc = Document::new("kb/2", json!({"k": 1})).metadata("score", 0.5);
        assert_eq!(json_doc.content_type, "application/json");
        assert_eq!(json_doc.metadata.get("score"), Some(&json!(0.5)));
        let none = Document::new("kb/3", Value::Null).content_type("text/markdown");
        assert_eq!(none.content, None);
        assert_eq!(none.content_type, "text/markdown");
    }
}
