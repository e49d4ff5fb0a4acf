//! Tracing for LLM applications.
//!
//! Annotate functions, get traces of every model call, tool call and retrieval step, with
//! their inputs, outputs, token usage, cost, events and findings, delivered to
//! [Modelmetry](https://modelmetry.com) (or printed to stderr when no API key is set).
//!
//! ```
//! use modelmetry::{Usage, finding, llm, span, trace};
//!
//! #[trace(name = "chatbot.turn", session = "conversation-42")]
//! fn handle_turn(message: &str) -> String {
//!     let answer = generate(message);
//!     finding!(response_safe_score = 0.93);
//!     answer
//! }
//!
//! #[span(kind = "llm", model = "gpt-4o", provider = "openai")]
//! fn generate(prompt: &str) -> String {
//!     llm::set_usage(Usage::tokens(12, 7));
//!     format!("You asked: {prompt}")
//! }
//!
//! let _guard = modelmetry::init(); // from MODELMETRY_* (no key: traces print to stderr)
//! let answer = handle_turn("Where is my order?");
//! # let _ = answer;
//! ```
//!
//! The [`macro@trace`] and [`macro@span`] attributes record a function's arguments as input
//! and its return value as output (`Err` and panics as errors), on any function shape,
//! `async fn` included; [`finding!`] and [`event!`] record on the current span;
//! [`llm`] fills in a model call's messages, usage and cost. Underneath is a manual API
//! ([`start_trace`], [`start_span`] and their guards) for what attributes cannot reach.
//!
//! # How it works
//!
//! ```text
//! span guard ──▶ thread-local stack ──(trace closes)──▶ bounded buffer ──▶ exporter
//!                                                         (background thread, or
//!                                                          synchronous delivery)
//! ```
//!
//! - Opening a span pushes a record onto a thread-local stack: no lock, no formatting, no
//!   allocation beyond the stack's growth. Guards close spans on drop, so early returns, `?`
//!   and panics (which mark the span `error`) all close them.
//! - A span opened with no trace open starts a trace of its own, named after the span.
//! - When a trace's root closes, the whole trace moves to a bounded buffer. A background
//!   thread exports it ([`Delivery::Background`], the default) or the closing thread does
//!   ([`Delivery::Synchronous`]).
//! - [`Context`] carries the current span to another thread; [`Instrument`] makes a span
//!   follow a future across polls, on any executor.
//! - Without [`init`] (or with `MODELMETRY_EXPORTER=none`) every span costs one atomic load
//!   and a test, and records nothing.
//!
//! # Delivery and loss
//!
//! Keep the [`InitGuard`] that [`init`] returns alive in `main`: its drop delivers what is left,
//! within a timeout. [`flush`] and [`shutdown`] never run past their deadline. Every record
//! lost (buffer full, refused by the server, non-finite finding, …) is counted in [`stats`].

// No `unsafe` anywhere but `time/counter.rs` (one inlined `rdtsc`, documented and tested,
// and run under Miri in CI), which allows it for itself.
#![deny(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(feature = "__bench")]
#[doc(hidden)]
pub mod bench_support;
mod capture;
mod client;
mod config;
mod context;
mod diag;
mod dispatch;
mod error;
mod export;
pub mod fold;
mod id;
mod metadata_keys;
mod pipeline;
mod pricing;
pub mod propagation;
mod record;
mod redact;
mod redacted;
mod sampling;
mod sanitize;
mod signal;
#[cfg(all(feature = "signal", unix))]
mod signal_flush;
mod stats;
mod switch;
mod time;
mod transport;
mod truncate;

pub mod llm;
#[cfg(feature = "async-openai")]
pub mod openai;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(feature = "tracing")]
pub mod tracing;
pub mod unversioned;
mod values;

#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;

pub use capture::content_enabled;
#[allow(deprecated)] // the old name stays, deprecated, for one release
pub use client::Guard;
pub use client::{InitGuard, flush, init, replay_spool, shutdown};
#[cfg(feature = "otlp")]
pub use config::otlp::{DEFAULT_OTLP_ENDPOINT, OtlpCompression, OtlpConfig, OtlpProtocol};
pub use config::{Config, DEFAULT_BASE_URL, Delivery, ExporterKind};
pub use context::future::{Instrument, Instrumented, WithContext};
pub use context::guard::{
    SpanGuard, SpanRef, TraceGuard, TraceRef, current_span, current_trace, start_span, start_trace,
};
pub use context::handle::{Context, ContextGuard};
pub use context::stream::{InStreamSpan, StreamSpan, Traced};
pub use error::Error;
pub use fold::{Fold, FoldOutput};
pub use id::{SpanId, TraceId};
pub use modelmetry_macros::{event, finding, span, trace};
pub use record::{Kind, Severity};
#[cfg(feature = "regex")]
pub use redact::RegexPattern;
pub use redact::{RedactPattern, redact_strings};
pub use redacted::Redacted;
pub use sampling::Threshold;
pub use signal::{Event, Finding};
#[cfg(all(feature = "signal", unix))]
pub use signal_flush::install_signal_flush;
pub use stats::{AlsoDelivered, Dropped, Redaction, Sampling, Stats, stats};
pub use values::{
    AssistantMessage, Cost, DataPart, Detail, Document, FindingValue, Function, Message, Money,
    Options, Part, RetrievalQuery, SystemMessage, TextPart, Tool, ToolCall, ToolCallType,
    ToolMessage, Usage, UsageValue, UserMessage,
};

/// The README's Rust examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
