//! Procedural macros of the [`modelmetry`](https://docs.rs/modelmetry) crate.
//!
//! This crate is an implementation detail of `modelmetry`: depend on `modelmetry` and use the
//! macros through it. Their expansions name only `::modelmetry::__private`, which is not a
//! stable API.
//!
//! Layout: options are parsed in `args.rs`, checked against the function in `valid.rs`, the
//! function is rewritten in `expand.rs` (in `expand_stream.rs` for `#[span(stream)]`), and
//! `finding!`/`event!` live in `finding.rs`.

use proc_macro::TokenStream;

mod args;
mod expand;
mod expand_async;
mod expand_stream;
mod finding;
mod tokens;
mod valid;

use args::Macro;

/// Run a function as a trace: the root of every span, finding and event recorded while it
/// runs.
///
/// ```
/// #[modelmetry::trace(name = "chatbot.turn", session = session_id, user = "customer-7",
///                     tags = ["support"], metadata(channel = "web"))]
/// fn handle_turn(session_id: &str, message: &str) -> String {
///     format!("You said: {message}")
/// }
///
/// let recorder = modelmetry::testing::Recorder::install();
/// handle_turn("conversation-42", "hello");
/// assert_eq!(
///     recorder.take_trees(),
///     "trace chatbot.turn  session=conversation-42  user=customer-7  tags=[support]\n"
/// );
/// ```
///
/// # Options
///
/// | option | meaning |
/// | --- | --- |
/// | `name = "chatbot.turn"` | the trace's name (default: the function's name); or an expression that displays as it, `name = format!("job.{kind}")`, evaluated only when tracing is on |
/// | `session = <expr>` | the session (conversation) id, any `Into<String>`, taken by reference (an owned `String` is not moved) |
/// | `user = <expr>` | the end user's id, any `Into<String>`, by reference |
/// | `tags = ["a", "b"]` | tags, each any `Into<String>`, by reference |
/// | `metadata(key = <expr>, ...)` | metadata entries, captured like arguments |
/// | `flush` | when the function returns (or panics), deliver and wait for delivery, up to the configured shutdown timeout: for CLIs and jobs |
/// | `skip(a, b)`, `skip_all`, `redact(a, b)`, `output = false` | as for [`macro@span`] |
///
/// The arguments are the trace's input and the return value its output, exactly as for
/// [`macro@span`]; an `Err` or a panic marks the trace `error`.
///
/// # Inside a trace already open
///
/// Traces do not nest. When a trace is already open on the thread (a `#[trace]` function
/// called from another), this one becomes a child span of kind `other` with the metadata
/// `nested_trace = true`; its input, output and metadata go on that span, while `session`,
/// `user` and `tags` apply to the enclosing trace. `flush` then does nothing: the enclosing
/// trace has not finished.
///
/// # Expansion
///
/// ```text
/// fn handle_turn(session_id: &str, message: &str) -> String {
///     let scope = ::modelmetry::__private::Scope::trace("chatbot.turn", /* flush */ false);
///     if scope.is_active() {                   // false at once when tracing is off
///         scope.set_session(session_id);
///         scope.set_user("customer-7");
///         scope.add_tags([tag("support")]);
///         scope.set_metadata("channel", capture(&"web"));
///         if scope.captures_content() {
///             scope.set_input(input([("session_id", capture(&session_id)),
///                                    ("message", capture(&message))]));
///         }
///     }
///     let ret = (move || { /* the body */ })();
///     if scope.is_active() { /* Ok(v) or v: output; Err(e): error */ }
///     ret                                      // scope drops: the trace closes
/// }
/// ```
#[proc_macro_attribute]
pub fn trace(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::instrument(Macro::Trace, args.into(), item.into()).into()
}

/// Run a function in a span, under the current span (or trace).
///
/// ```
/// #[derive(serde::Serialize)]
/// struct Order { id: String, status: &'static str }
///
/// #[modelmetry::span(kind = "tool", name = "GetOrderInformation")]
/// fn get_order(id: &str) -> Result<Order, String> {
///     if id.is_empty() {
///         return Err("no order id".to_owned());
///     }
///     Ok(Order { id: id.to_owned(), status: "in transit" })
/// }
///
/// let recorder = modelmetry::testing::Recorder::install();
/// let _ = get_order("A-1042");
/// let _ = get_order("");
/// let traces = recorder.take();
/// assert_eq!(traces[0].tree(), "trace GetOrderInformation\n└── tool GetOrderInformation\n");
/// assert_eq!(
///     traces[1].tree(),
///     "trace GetOrderInformation\n└── tool GetOrderInformation  error: no order id\n"
/// );
/// // Input and output travel in the span's metadata.
/// let span = &traces[0].ingest().spans[0];
/// assert_eq!(span.metadata["input"], serde_json::json!({"id": "A-1042"}));
/// assert_eq!(span.metadata["output"], serde_json::json!({"id": "A-1042", "status": "in transit"}));
/// ```
///
/// # Options
///
/// | option | meaning |
/// | --- | --- |
/// | `kind = "llm"` | `llm` (alias `completion`), `embeddings`, `retriever` (alias `retrieval`), `tool`, `agent`, `chain` or `other` (the default); see below |
/// | `name = "llm.generate"` | the span's name (default: the function's name); or an expression that displays as it, `name = format!("tool.{tool}")`, evaluated (by reference) only when tracing is on |
/// | `model = <expr>` | the model, any `Into<String>`, by reference (completion and embeddings options) |
/// | `provider = <expr>` | the provider, e.g. `"openai"`, by reference |
/// | `metadata(key = <expr>, ...)` | metadata entries, captured like arguments (not content: kept when content capture is off) |
/// | `skip(a, b)` | leave these parameters out of the input |
/// | `redact(a, b)` | record these parameters as `"<redacted: {type}>"`, never their value (in every capture mode) |
/// | `skip_all` | record no input |
/// | `output = false` | record no output (an `Err` still marks the span `error`) |
/// | `stream` | the function returns an iterator or a stream: the span lives as long as it does (see [Streams](#streams)) |
/// | `fold = <expr>` | with `stream`: how the items become the output, a [`Fold`](https://docs.rs/modelmetry/latest/modelmetry/trait.Fold.html) of your own |
/// | `stream = false` | the function returns an iterator or a stream, and its span is meant to end when it returns: without `stream` or `stream = false`, such a function gets a compile-time warning (its span would close before the first item) |
///
/// The kind decides the span's wire `Family` and what its `FamilyData` carries:
///
/// | kind | `Family` | `FamilyData` |
/// | --- | --- | --- |
/// | `llm`, `completion` | `completion` | messages, options (model, provider), usage, cost, documents: set them with [`modelmetry::llm`](https://docs.rs/modelmetry/latest/modelmetry/llm/) |
/// | `embeddings` | `embeddings` | inputs, options |
/// | `retriever`, `retrieval` | `retrieval` | queries, documents |
/// | `tool`, `agent`, `chain`, `other` | `other` | none; the kind is kept in the span's metadata |
///
/// # What is captured
///
/// - **Input**: the arguments, as a JSON object keyed by parameter name (`self` is never
///   captured: it is often a client holding credentials). Each is captured as JSON if its type
///   implements `serde::Serialize`, else as its `Debug` text, else as a placeholder naming its
///   type. The choice is made at compile time and adds no bound to your function; in a generic
///   function it follows the bounds you declared (an unbounded `T` is a placeholder).
/// - **Output**: the return value, the same way. For a `Result`, `Ok(v)` records `v`, and
///   `Err(e)` records no output, sets severity `error` and the message from `e`'s `Display`
///   (else `Debug`). A `null` output (`()`, `None`) is not recorded.
/// - **Panics** close the span with severity `error` and keep unwinding.
/// - Nothing is captured or formatted when tracing is off (one atomic load), and no input or
///   output when content capture is off (`MODELMETRY_CAPTURE_CONTENT=false`). Every captured
///   value passes [`Config::redact`](https://docs.rs/modelmetry/latest/modelmetry/struct.Config.html#method.redact)
///   before export.
///
/// `return`, `?` and `break` behave exactly as without the attribute. `async fn` works on any
/// executor: the span opens when the function is **called** (so its parent is the span
/// current at the call, even when the future is spawned onto another thread), is current
/// during each poll, and closes when the future completes (or is dropped, even unpolled: then
/// marked `cancelled`). A `const fn` is refused.
///
/// # Expansion
///
/// ```text
/// fn get_order(id: &str) -> Result<Order, String> {
///     let run = move |scope: &SpanScope| {     // FnOnce: a body may return a borrow
///         if scope.is_active() {               // false at once when tracing is off
///             if scope.captures_content() { scope.set_input(input([("id", capture(&id))])); }
///         }
///         let ret = (move || {
///             if let Some(r) = None::<Result<Order, String>> { return r; } // types the body
///             /* the body, unchanged */
///         })();
///         if scope.is_active() {
///             match outcome(&ret) {             // chosen at compile time
///                 Ok(v) => if scope.captures_content() { scope.set_output(capture(v)) },
///                 Err(e) => scope.set_error(display_or_debug(e)),
///             }
///         }
///         ret
///     };
///     if !is_enabled() { return run(&SpanScope::off()); }     // one atomic load
///     // Opens the span, runs the body, closes the span: one function, not inlined here.
///     SpanScope::run("GetOrderInformation", Kind::Tool, run)
/// }
///
/// // async fn f(&self, x: &str) -> R { body }  becomes a fn returning its future, whose
/// // span opens at the call (elided lifetimes named so the future captures what an
/// // `async fn`'s would, in edition 2021 as in 2024; `Send` exactly when the body is)
/// fn f<'l0, 'l1>(&'l0 self, x: &'l1 str)
///     -> impl Future<Output = R> + Captures<(&'l0 (), &'l1 (), *const Self)>
/// {
///     let span = AsyncScope::span("f", Kind::Other);   // parent: the current span, now
///     span.wrap(async move {
///         let x = x;                                    // every argument moves in
///         { /* input, from inside the span */ }
///         let ret = async move { body }.await;
///         { /* output or error */ }
///         ret
///     })
/// }
/// ```
///
/// # Streams
///
/// With `stream`, the span lives exactly as long as the iterator (or, with the `stream`
/// feature of `modelmetry`, the `futures_core::Stream`) the function returns, not just the
/// call that built it:
///
/// ```
/// use modelmetry::span;
///
/// #[span(kind = "llm", stream, model = "gpt-4o-mini")]
/// fn answer(prompt: &str) -> impl Iterator<Item = String> {
///     // The request: runs when `answer` is called, inside the span.
///     let chunks = vec!["Your ", "order ", "ships ", "today."];
///     chunks.into_iter().map(str::to_owned)
/// }
///
/// let recorder = modelmetry::testing::Recorder::install();
/// {
///     let _turn = modelmetry::start_trace("turn");
///     for chunk in answer("Where is my order?") {
///         print!("{chunk}"); // as it arrives
///     }
/// }
/// let traces = recorder.take();
/// assert_eq!(
///     traces[0].tree(),
///     "trace turn\n└── llm answer  gpt-4o-mini\n    └── event first_token\n"
/// );
/// let span = &traces[0].ingest().spans[0];
/// assert_eq!(span.metadata["output"], "Your order ships today.");
/// assert_eq!(span.metadata["items"], 4);
/// assert!(span.metadata["ttft_ms"].is_number());
/// ```
///
/// - **When**: the span opens when the function is called (an `async fn` too)
///   and its body runs with the span current, so the request and whatever it records land on
///   it; the arguments are its input, as for any span. Each `next()` (`poll_next`) makes it
///   current again. It closes when the stream ends; when an item is an `Err` (severity
///   `error`, the error's `Display` text, else `Debug`, as for a returned error); or when the
///   stream is dropped before its end (marked `cancelled`, with the `items` it had yielded).
///   The first item records a `first_token` event and `ttft_ms` in the span's metadata.
/// - **Output**, chosen at compile time from the item type, with no bound added: text chunks
///   (`AsRef<str>`) are joined; other `Serialize` items kept as a JSON array; for `Result`
///   items, the `Ok` values by the same rule; anything else, no output. Capped like any
///   captured value. `fold = <expr>` gives your own fold (evaluated when the function is
///   called, before its body); `output = false` keeps nothing.
/// - **Return types**: `impl Iterator<Item = T>`, `impl Stream<Item = T>`,
///   `Box<dyn Iterator<Item = T> + ..>`, `Pin<Box<dyn Stream<Item = T> + ..>>`, or a `Result`
///   of one of these. A named iterator type is refused at compile time: the function returns
///   its stream wrapped, which only these types can hold. For a `Result`, `Err` means there
///   is no stream (the request failed): the span closes at once, as an error, not cancelled.
/// - An `async fn` dropped before it returned its stream closes the span, `cancelled`.
///
/// The same wrapper, by hand: [`StreamSpan`](https://docs.rs/modelmetry/latest/modelmetry/struct.StreamSpan.html)
/// (open, run the request in it, hand it the stream) or
/// [`Traced::new`](https://docs.rs/modelmetry/latest/modelmetry/struct.Traced.html#method.new).
/// `answer` above is, written out:
///
/// ```
/// use modelmetry::{Kind, StreamSpan, fold};
///
/// fn answer(prompt: &str) -> impl Iterator<Item = String> {
///     let mut span = StreamSpan::open("answer", Kind::Llm);
///     let chunks = span.in_scope(|| {
///         let llm = modelmetry::current_span();
///         llm.set_model("gpt-4o-mini");
///         llm.set_input(&serde_json::json!({ "prompt": prompt }));
///         vec!["Your ", "order ", "ships ", "today."].into_iter().map(str::to_owned)
///     });
///     span.wrap(chunks, fold::Text::default())
/// }
/// # let recorder = modelmetry::testing::Recorder::install();
/// # assert_eq!(answer("?").count(), 4);
/// # assert!(recorder.take_trees().contains("llm answer  gpt-4o-mini"));
/// ```
///
/// The expansion:
///
/// ```text
/// fn answer(prompt: &str) -> impl Iterator<Item = String> {
///     let mut span = ::modelmetry::__private::StreamSpan::open("answer", Kind::Llm);
///     let ret = span.in_scope(move || {          // async fn: span.in_future(async move {..}).await
///         { /* model, metadata; input if content capture is on */ }
///         /* the body, unchanged */
///     });
///     let fold = /* chosen at compile time from the declared item type */;
///     span.wrap(ret, fold)                       // the span now closes with the stream
/// }
/// // -> Result<impl Iterator<..>, E>:  match ret { Ok(s) => Ok(span.wrap(s, fold)),
/// //                                               Err(e) => { span.fail(&e); Err(e) } }
/// // -> Box<dyn Iterator<..>>:  Box::new(span.wrap(ret, fold)), coerced on return
/// ```
#[proc_macro_attribute]
pub fn span(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::instrument(Macro::Span, args.into(), item.into()).into()
}

/// Record findings on the current span (or on the trace when no span is open).
///
/// ```
/// let recorder = modelmetry::testing::Recorder::install();
/// {
///     let _trace = modelmetry::start_trace("turn");
///     modelmetry::finding!(response_safe_score = 0.93);
///     modelmetry::finding!(input_tokens = 120, output_tokens = 45);
///     modelmetry::finding!(on_topic = true, "verdict.label" = "safe");
///     modelmetry::finding!(toxicity = 0.02; comment = "moderation model",
///                          description = "probability of toxic content",
///                          metadata(model = "omni-moderation-latest"));
/// }
/// assert_eq!(recorder.take_trees(), "\
/// trace turn
/// ├── finding response_safe_score = 0.93
/// ├── finding input_tokens = 120
/// ├── finding output_tokens = 45
/// ├── finding on_topic = true
/// ├── finding verdict.label = \"safe\"
/// └── finding toxicity = 0.02  (moderation model)
/// ");
/// ```
///
/// A name is an identifier or a string literal; a value is a number, a `bool` or a string.
/// After a `;`, `comment = ...`, `description = ...` and `metadata(key = value, ...)` apply to
/// every finding of the call. A NaN or infinite number cannot be sent as JSON: that finding is
/// dropped and counted in `stats().dropped.non_finite` (and reported once), never a panic. When
/// tracing is off nothing is evaluated.
///
/// # Expansion
///
/// ```text
/// if ::modelmetry::__private::is_enabled() {
///     let comment = tag("moderation model");
///     ::modelmetry::__private::Finding::new("toxicity", 0.02)
///         .comment(comment.clone())
///         .record();
/// }
/// ```
#[proc_macro]
pub fn finding(input: TokenStream) -> TokenStream {
    match syn::parse::<finding::Findings>(input) {
        Ok(f) => f.expand().into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Record an event on the current span (or on the trace when no span is open).
///
/// ```
/// let recorder = modelmetry::testing::Recorder::install();
/// {
///     let _trace = modelmetry::start_trace("turn");
///     let attempt = 2;
///     modelmetry::event!("tool_selected", tool = "GetOrderInformation", attempt);
/// }
/// assert_eq!(
///     recorder.take_trees(),
///     "trace turn\n└── event tool_selected {\"attempt\":2,\"tool\":\"GetOrderInformation\"}\n"
/// );
/// ```
///
/// The name is a string literal or an identifier; each field is `key = value` (a key is an
/// identifier or a string literal) or a variable alone, recorded under its own name. Values
/// are captured like arguments: JSON, else `Debug` text, else a placeholder. When tracing is
/// off nothing is evaluated.
///
/// # Expansion
///
/// ```text
/// if ::modelmetry::__private::is_enabled() {
///     let event = ::modelmetry::__private::Event::new("tool_selected");
///     let event = event_metadata(event, "tool", capture(&("GetOrderInformation")));
///     let event = event_metadata(event, "attempt", capture(&(attempt)));
///     event.record();
/// }
/// ```
#[proc_macro]
pub fn event(input: TokenStream) -> TokenStream {
    match syn::parse::<finding::EventArgs>(input) {
        Ok(e) => e.expand().into(),
        Err(e) => e.to_compile_error().into(),
    }
}
