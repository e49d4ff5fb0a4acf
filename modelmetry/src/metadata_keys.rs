//! The keys the SDK itself writes into a span's or trace's `Metadata`, each named once (as
//! `export/otlp/semconv.rs` names the OpenTelemetry attributes). Users' own metadata may use any
//! other key; where a user's key equals one of the SDK's, the ingest encoder's rule decides
//! (see `export::ingest_view::Metadata`).

// ---- written by the ingest encoder, from the record's own fields --------------------------

/// A span's [`Kind`](crate::Kind) (`llm`, `tool`, …); the user's own `kind` wins.
pub(crate) const KIND: &str = "kind";
/// The captured input (arguments) of a span or trace.
pub(crate) const INPUT: &str = "input";
/// The captured output (return value) of a span or trace.
pub(crate) const OUTPUT: &str = "output";
/// A trace's user id.
pub(crate) const USER_ID: &str = "user_id";
/// A trace's tags.
pub(crate) const TAGS: &str = "tags";
/// A trace's severity (spans have a field of their own).
pub(crate) const SEVERITY: &str = "severity";
/// A trace's message (an error's text; spans have a field of their own).
pub(crate) const MESSAGE: &str = "message";
/// The provider's response id (the wire model has no field for it).
pub(crate) const RESPONSE_ID: &str = "response_id";
/// The model that answered (the wire model has no field for it).
pub(crate) const RESPONSE_MODEL: &str = "response_model";
/// Why the model stopped.
pub(crate) const FINISH_REASONS: &str = "finish_reasons";
/// A model call's options on a span of a kind whose family has no place for them.
pub(crate) const OPTIONS: &str = "options";
/// A model call's usage on a span of a kind whose family has no place for it.
pub(crate) const USAGE: &str = "usage";
/// A model call's cost on a span of a kind whose family has no place for it.
pub(crate) const COST: &str = "cost";
/// Of a call's input tokens, those read from the prompt cache (`Usage::cache_read`).
pub(crate) const USAGE_CACHE_READ: &str = "usage.cache_read_tokens";
/// Of a call's input tokens, those written to the cache for 5 minutes (`Usage::cache_write`).
pub(crate) const USAGE_CACHE_WRITE: &str = "usage.cache_write_tokens";
/// Of a call's input tokens, those written to the cache for 1 hour (`Usage::cache_write_1h`).
pub(crate) const USAGE_CACHE_WRITE_1H: &str = "usage.cache_write_1h_tokens";
/// Of a call's output tokens, those spent reasoning (`Usage::reasoning`).
pub(crate) const USAGE_REASONING: &str = "usage.reasoning_tokens";
/// The service tier a call ran on (`llm::set_service_tier`).
pub(crate) const SERVICE_TIER: &str = "service_tier";

// ---- written while recording --------------------------------------------------------------

/// Milliseconds from a stream's span opening to its first item.
pub(crate) const TTFT_MS: &str = "ttft_ms";
/// The event a stream records at its first item.
pub(crate) const FIRST_TOKEN: &str = "first_token";
/// `true` on a span whose future or stream was dropped before it finished.
pub(crate) const CANCELLED: &str = "cancelled";
/// How many times a future was polled.
pub(crate) const POLLS: &str = "polls";
/// How many items a stream yielded.
pub(crate) const ITEMS: &str = "items";
/// How many items a stream yielded after an `Err` item.
pub(crate) const ITEMS_AFTER_ERROR: &str = "items_after_error";
/// How many times a stream's fold closure panicked.
pub(crate) const FOLD_FAILURES: &str = "fold_failures";
/// `true` on a span still open when its trace was delivered (at shutdown).
pub(crate) const UNFINISHED: &str = "unfinished";
/// What closed an unfinished span (`shutdown`).
pub(crate) const CLOSED_BY: &str = "closed_by";
/// The name of a trace opened while another was open on the thread (kept as a span).
pub(crate) const NESTED_TRACE: &str = "nested_trace";

// ---- written from a provider's own JSON (llm::record_openai_*, record_anthropic_*) -------

/// The service tier a request asked for (`auto`, `flex`, …); the one that served it is
/// `SERVICE_TIER`.
pub(crate) const SERVICE_TIER_REQUESTED: &str = "service_tier_requested";
/// A provider's error body: `{"status", "type", "code", "param", "message"}`.
pub(crate) const PROVIDER_ERROR: &str = "provider_error";
/// The parts of a provider's JSON that were not understood, by path.
pub(crate) const UNMAPPED: &str = "provider_json_unmapped";
// ---- written by pricing (`pricing.rs`), on the finished trace -----------------------------

/// Where a computed cost's prices came from: `genai-prices <version>` or `Config::price`.
pub(crate) const COST_SOURCE: &str = "modelmetry.cost.source";
/// The `provider/model` whose prices a computed cost used.
pub(crate) const COST_MODEL: &str = "modelmetry.cost.model";
/// Usage the price table could not price (newer keys), from `genai-prices`' warnings.
pub(crate) const COST_WARNINGS: &str = "modelmetry.cost.warnings";
/// Why a span with usage has no cost (no price for its model, say): never a silent $0.
pub(crate) const COST_UNPRICED: &str = "modelmetry.cost.unpriced";
/// A trace's input tokens, summed over its spans.
pub(crate) const TOTAL_INPUT_TOKENS: &str = "modelmetry.total.input_tokens";
/// A trace's output tokens, summed over its spans.
pub(crate) const TOTAL_OUTPUT_TOKENS: &str = "modelmetry.total.output_tokens";
/// A trace's cache reads, summed over its spans.
pub(crate) const TOTAL_CACHE_READ_TOKENS: &str = "modelmetry.total.cache_read_tokens";
/// A trace's cache writes (5-minute and 1-hour), summed over its spans.
pub(crate) const TOTAL_CACHE_WRITE_TOKENS: &str = "modelmetry.total.cache_write_tokens";
/// A trace's reasoning tokens, summed over its spans.
pub(crate) const TOTAL_REASONING_TOKENS: &str = "modelmetry.total.reasoning_tokens";
/// A trace's cost in USD, summed over its spans (computed and hand-set).
pub(crate) const TOTAL_COST_USD: &str = "modelmetry.total.cost_usd";
/// How many of a trace's spans with usage have no USD cost in `TOTAL_COST_USD` (unpriced, or
/// costed in another currency).
pub(crate) const TOTAL_SPANS_WITHOUT_COST: &str = "modelmetry.total.spans_without_cost";

// ---- notes on what the SDK changed --------------------------------------------------------

/// Values cut to fit a limit: `{"field", "original_bytes"}`.
pub(crate) const TRUNCATED: &str = "modelmetry.truncated";
/// Values the spec would refuse, moved out of their field: `{"field", "value", "rule"}`.
pub(crate) const INVALID: &str = "modelmetry.invalid";

// ---- sampling and redaction (read by the console tree and the HTML view) ------------------

/// On a kept trace while sampling (rate below 1): the probability that head sampling alone
/// kept it (the rate, a number in 0..=1). Divide counts by it to re-weight totals.
pub(crate) const SAMPLE_RATE: &str = "modelmetry.sample_rate";
/// On a trace head sampling dropped and a tail rule kept: the rule (`error`,
/// `finding:<name>`, `cost`, `duration`). Such a trace carries no content (see `sampling.rs`).
pub(crate) const KEPT_BY: &str = "modelmetry.kept_by";
/// On a trace some of whose text a redaction pattern changed: `{"values": n}`, the number of
/// strings changed. Absent when no pattern matched (a `Redacted<T>` value or a hook's edit is
/// not counted here). A fragment (spans recorded after their trace shipped) carries none.
pub(crate) const REDACTED: &str = "modelmetry.redacted";
