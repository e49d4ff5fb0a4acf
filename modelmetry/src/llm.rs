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

use crate::context::guard::{SpanRef, current_span};
use crate::wire;

#[inline]
fn span() -> Option<SpanRef> {
    crate::dispatch::enabled().then(current_span)
}

/// The model requested, e.g. `gpt-4o`.
pub fn set_model(model: impl Into<String>) {
    if let Some(s) = span() {
        s.set_model(model);
    }
}

/// The provider, e.g. `openai`.
pub fn set_provider(provider: impl Into<String>) {
    if let Some(s) = span() {
        s.set_provider(provider);
    }
}

/// The request's options (temperature, max tokens, tools, ...). A model or provider set
/// before and missing here is kept.
pub fn set_options(options: wire::Options) {
    if let Some(s) = span() {
        s.set_options(options);
    }
}

/// The messages sent to and received from the model, in order (replacing any set before).
pub fn set_messages(messages: Vec<wire::Message>) {
    if let Some(s) = span() {
        s.set_messages(messages);
    }
}

/// Append one message.
pub fn add_message(message: wire::Message) {
    if let Some(s) = span() {
        s.add_message(message);
    }
}

/// Token usage.
pub fn set_usage(usage: wire::Usage) {
    if let Some(s) = span() {
        s.set_usage(usage);
    }
}

/// The call's cost.
pub fn set_cost(cost: wire::Cost) {
    if let Some(s) = span() {
        s.set_cost(cost);
    }
}

/// A document retrieved, or given to the model as context.
pub fn add_document(document: wire::Document) {
    if let Some(s) = span() {
        s.add_document(document);
    }
}

/// A retrieval query.
pub fn add_query(query: wire::RetrievalQuery) {
    if let Some(s) = span() {
        s.add_query(query);
    }
}

/// The texts an embeddings call embedded.
pub fn set_embedding_inputs(inputs: Vec<String>) {
    if let Some(s) = span() {
        s.set_embedding_inputs(inputs);
    }
}
