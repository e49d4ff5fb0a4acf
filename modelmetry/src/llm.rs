//! Model-call data on the current span: the model, the messages sent and received, token
//! usage and cost, documents and queries.
//!
//! These are for code inside a `#[span(kind = "llm")]` function (or any open span) that does
//! not hold the span's guard. Each does nothing when tracing is off or no span is open; the
//! content ones (messages, documents, queries, embedding inputs) also do nothing when content
//! capture is off.
//!
//! ```
//! use modelmetry::{Message, Usage, llm};
//!
//! #[modelmetry::span(kind = "llm", provider = "openai")]
//! fn generate(prompt: &str) -> String {
//!     llm::set_model("gpt-4o-mini");
//!     let answer = format!("You said: {prompt}");
//!     llm::set_messages(vec![Message::user(prompt), Message::assistant(answer.clone())]);
//!     llm::set_usage(Usage::tokens(12, 7));
//!     answer
//! }
//! # let _ = generate("hi");
//! ```
//!
//! # From the provider's own JSON
//!
//! With any HTTP client, hand the request and response bodies over as they are:
//! [`record_openai_request`] / [`record_openai_response`] (chat completions and the Responses
//! API), [`record_anthropic_request`] / [`record_anthropic_response`] (Messages API),
//! [`record_provider_error`] for an error answer, and [`StreamAccumulator`] for a streamed one.
//! They fill the current span: model, provider (`openai` or `anthropic` unless the span names
//! one: a self-hosted OpenAI-compatible server keeps yours), options (temperature, max tokens,
//! top_p, seed, penalties, stop sequences, tools offered, tool choice, response format), the
//! messages of every role with their tool calls and tool results, the output message, finish
//! reasons, the response id and model, usage with its cache and reasoning buckets
//! ([`Usage::cache_read`](crate::Usage::cache_read) and the others), the service tier that
//! served the call ([`set_service_tier`]), and in the span's metadata the tier requested
//! (`service_tier_requested`) and parameters `Options` has no field for (`top_k`,
//! `reasoning_effort`, `thinking_budget_tokens`).
//!
//! - **Usage**: OpenAI's input counts include cached tokens already; Anthropic's do not, so
//!   input is `input_tokens + cache_read_input_tokens + cache_creation_input_tokens`, with
//!   `cache_creation.ephemeral_5m_input_tokens` as `cache_write` and
//!   `ephemeral_1h_input_tokens` as `cache_write_1h` (all of `cache_creation_input_tokens`
//!   is `cache_write` when there is no breakdown).
//! - **Which API**: a request with `messages` is a chat completion, one with `input` or
//!   `instructions` a Responses API request; a response with `choices` a chat completion, one
//!   with `output` a Responses API response (its finish reason: `stop`, or `tool_calls` when it
//!   calls functions, when `completed`; the reason when `incomplete`).
//! - **Content given by reference** (an image URL, a file id) is a text part naming it
//!   (`[image: https://…]`): the spec's data parts carry base64 only; a `data:` URL becomes a
//!   data part. Reasoning and thinking blocks are left out.
//! - **Odd JSON never panics**: what is understood is recorded, and what is not (an unknown
//!   role, part, item or event type, a body that is not an object) is named by its path in
//!   the span's metadata under `provider_json_unmapped` (the first 16 notes).
//!
//! ```
//! # let rec = modelmetry::testing::Recorder::install();
//! use modelmetry::llm;
//! use serde_json::json;
//!
//! #[modelmetry::span(kind = "llm", name = "chat gpt-4o-mini")]
//! fn chat(request: &serde_json::Value) -> serde_json::Value {
//!     llm::record_openai_request(request);
//!     let response = json!({ // what your HTTP client got back
//!         "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
//!         "choices": [{"index": 0, "finish_reason": "stop",
//!                      "message": {"role": "assistant", "content": "It ships tomorrow."}}],
//!         "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
//!     });
//!     llm::record_openai_response(&response);
//!     response
//! }
//!
//! chat(&json!({"model": "gpt-4o-mini", "temperature": 0.2,
//!              "messages": [{"role": "user", "content": "Where is my order?"}]}));
//! # let tree = rec.take_trees();
//! # assert!(tree.contains("llm chat gpt-4o-mini  gpt-4o-mini  tokens 12→5"), "{tree}");
//! ```

mod accumulator;
mod anthropic_json;
pub(crate) mod call;
pub(crate) mod openai_json;

pub use accumulator::StreamAccumulator;

use crate::context::target::Target;
use crate::values;

/// The current span, when tracing is on.
#[inline]
fn span() -> Target {
    if crate::dispatch::enabled() {
        Target::current_span()
    } else {
        Target::Off
    }
}

/// The model requested, e.g. `gpt-4o`.
pub fn set_model(model: impl Into<String>) {
    span().set_model(model.into());
}

/// The provider, e.g. `openai`.
pub fn set_provider(provider: impl Into<String>) {
    span().set_provider(provider.into());
}

/// The request's options (temperature, max tokens, tools, ...). A model or provider set
/// before and missing here is kept.
pub fn set_options(options: values::Options) {
    span().set_options(options);
}

/// The messages sent to and received from the model, in order (replacing any set before).
pub fn set_messages(messages: Vec<values::Message>) {
    span().set_messages(messages);
}

/// Append one message.
pub fn add_message(message: values::Message) {
    span().add_message(message);
}

/// Token usage.
pub fn set_usage(usage: values::Usage) {
    span().set_usage(usage);
}

/// The call's cost. A cost set here is sent as it is: the SDK computes a cost from the usage
/// only for spans that have none.
pub fn set_cost(cost: values::Cost) {
    span().set_cost(cost);
}

/// The service tier the call ran on, as the provider's response reports it (OpenAI's
/// `service_tier`: `default`, `flex`, `priority`, ...). It selects that tier's prices when
/// the cost is computed, and is sent as metadata `service_tier` (with OpenTelemetry,
/// `openai.response.service_tier`). Record the tier the response names, not the one
/// requested: `auto` is not a tier, and a priority request can be served at `default`.
pub fn set_service_tier(tier: impl Into<String>) {
    span().set_service_tier(tier.into());
}

/// A document retrieved, or given to the model as context.
pub fn add_document(document: values::Document) {
    span().add_document(document);
}

/// A retrieval query.
pub fn add_query(query: values::RetrievalQuery) {
    span().add_query(query);
}

/// The texts an embeddings call embedded.
pub fn set_embedding_inputs(inputs: Vec<String>) {
    span().set_embedding_inputs(inputs);
}

/// Fill the current span from an OpenAI request body: a chat completions request (with
/// `messages`) or a Responses API request (with `input` or `instructions`). Options and
/// messages replace any set before. See [the module's docs](self#from-the-providers-own-json).
pub fn record_openai_request(request: &serde_json::Value) {
    let t = span();
    if !t.is_off() {
        call::apply_request(t, openai_json::request(request));
    }
}

/// Fill the current span from an OpenAI response body: a chat completion (`choices`) or a
/// Responses API response (`output`): its id, model, finish reasons (a Responses API
/// response's `status`: `stop` or `tool_calls` when completed, the reason when incomplete),
/// the output message(s), appended after the request's, and usage. A response that carries an
/// error (`{"error": {...}}`, a failed Responses API response) marks the span as an error.
pub fn record_openai_response(response: &serde_json::Value) {
    let t = span();
    if !t.is_off() {
        call::apply_response(t, openai_json::response(response));
    }
}

/// Fill the current span from an Anthropic Messages API request body: the system prompt, the
/// messages (each `tool_result` block a tool message), options and tools.
pub fn record_anthropic_request(request: &serde_json::Value) {
    let t = span();
    if !t.is_off() {
        call::apply_request(t, anthropic_json::request(request));
    }
}

/// Fill the current span from an Anthropic Messages API response body: id, model, stop
/// reason, the assistant's message (text and `tool_use` blocks) and usage, with the cache
/// counts added to input. An error body (`{"type": "error", ...}`) marks the span as an error.
pub fn record_anthropic_response(response: &serde_json::Value) {
    let t = span();
    if !t.is_off() {
        call::apply_response(t, anthropic_json::response(response));
    }
}

/// Mark the current span as failed with a provider's error answer: `status` (the HTTP status,
/// if known) and the body, OpenAI's `{"error": {"message", "type", "code", "param"}}` or
/// Anthropic's `{"type": "error", "error": {"type", "message"}}`. The span's message is one
/// line (`401 invalid_request_error: Incorrect API key provided (code: invalid_api_key)`), and
/// the fields are kept in its metadata under `provider_error`.
pub fn record_provider_error(status: Option<u16>, body: &serde_json::Value) {
    let t = span();
    if !t.is_off() {
        call::apply_error(t, &call::ProviderError::from_body(status, body));
    }
}
