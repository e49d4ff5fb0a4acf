//! Cost from usage: every span that has a model and token usage and no cost set by hand is
//! priced once its trace has finished, before any exporter sees the trace, off the
//! application's thread (on each destination's flusher; in synchronous delivery or with a
//! spool's journal, where the trace is exported or journaled).
//!
//! Prices come from [`Config::price`](crate::Config::price) first, then from the `genai-prices`
//! table embedded in the binary (cargo feature `prices`, on by default), decoded once: at
//! `init` where traces are priced on the closing thread (synchronous delivery, a journal),
//! else by the flusher when it first needs it; never on a span's thread. The span's provider
//! (`provider = ...`, `llm::set_provider`) selects the table's provider, else `genai-prices`
//! infers it from the model's name; the span's start selects dated prices; a service tier
//! (`llm::set_service_tier`) selects that tier's prices.
//!
//! What a span gets, in its metadata (each key named in `metadata_keys.rs`):
//!
//! | outcome | `Cost` | metadata |
//! | --- | --- | --- |
//! | priced | input, output and total in USD | `modelmetry.cost.source` (`genai-prices 0.2.1` or `Config::price`), `modelmetry.cost.model` (the price's `provider/model`) |
//! | no price found | none, never $0 | `modelmetry.cost.unpriced`: the reason |
//! | cost set by hand | the user's, untouched | nothing |
//!
//! And the trace, in its metadata, the sums over its spans: `modelmetry.total.input_tokens`,
//! `.output_tokens`, `.cache_read_tokens`, `.cache_write_tokens` (5-minute and 1-hour),
//! `.reasoning_tokens`, `.cost_usd`, and `.spans_without_cost` (spans with usage whose cost is
//! not in the sum: unpriced, or in another currency), so a total is never silently short.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::metadata_keys as keys;
use crate::record::{FinishedTrace, SpanData};
use crate::values::{Cost, Money, Usage};

/// The name of the embedded table, with the version its data came with (the dependency is
/// pinned to it exactly).
#[cfg(feature = "prices")]
pub(crate) const EMBEDDED_SOURCE: &str = "genai-prices 0.2.1";
/// The source of a price the user gave.
pub(crate) const CUSTOM_SOURCE: &str = "Config::price";

/// A price given with [`Config::price`](crate::Config::price): USD per million tokens.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CustomPrice {
    pub(crate) model: String,
    /// Empty: any provider.
    pub(crate) provider: String,
    pub(crate) input_per_mtok: f64,
    pub(crate) output_per_mtok: f64,
}

impl CustomPrice {
    /// Prices that can price: finite and not negative.
    pub(crate) fn is_valid(&self) -> bool {
        [self.input_per_mtok, self.output_per_mtok]
            .iter()
            .all(|p| p.is_finite() && *p >= 0.0)
            && !self.model.trim().is_empty()
    }

    fn matches(&self, model: &str, provider: Option<&str>) -> bool {
        self.model.trim().eq_ignore_ascii_case(model.trim())
            && (self.provider.trim().is_empty()
                || self.provider.trim() == "*"
                || provider.is_none_or(|p| p.trim().eq_ignore_ascii_case(self.provider.trim())))
    }
}

/// Decode the embedded table now, so that no trace waits for it later. Does nothing without
/// the `prices` feature, or once done.
pub(crate) fn warm() {
    #[cfg(feature = "prices")]
    let _ = embedded::table();
}

/// Decode the embedded table on a thread of its own (once per process), so that neither the
/// caller (`init`) nor a trace waits for it unless it needs a price before decoding ends
/// (about 130 ms; the table's `OnceLock` then makes it wait for the rest). If the thread
/// cannot be started, the table is decoded where it is first needed.
pub(crate) fn warm_in_background() {
    #[cfg(feature = "prices")]
    {
        use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
        static STARTED: AtomicBool = AtomicBool::new(false);
        if embedded::decoded() || STARTED.swap(true, Relaxed) {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("modelmetry-prices".into())
            .spawn(warm);
        if spawned.is_err() {
            STARTED.store(false, Relaxed);
        }
    }
    // Without the table there is nothing to decode.
    #[cfg(not(feature = "prices"))]
    warm();
}

/// True when pricing waits for nothing: the embedded table is decoded (or there is none).
fn ready() -> bool {
    #[cfg(feature = "prices")]
    return embedded::decoded();
    #[cfg(not(feature = "prices"))]
    true
}

#[cfg(feature = "prices")]
mod embedded {
    use std::panic::catch_unwind;
    use std::sync::OnceLock;

    use genai_prices::Calculator;

    /// The embedded table, decoded once. `None` if decoding it panicked (a broken release of
    /// the table): every span is then unpriced, with that reason, and the application goes on.
    static TABLE: OnceLock<Option<&'static Calculator>> = OnceLock::new();

    pub(super) fn table() -> Option<&'static Calculator> {
        *TABLE.get_or_init(|| catch_unwind(Calculator::bundled).ok())
    }

    /// True once the table has been decoded (or failed to).
    pub(super) fn decoded() -> bool {
        TABLE.get().is_some()
    }
}

/// Price every span of `traces` that needs it, and write each trace's totals.
pub(crate) fn apply(custom: &[CustomPrice], traces: &mut [FinishedTrace]) {
    for t in traces {
        // Pricing is the SDK's own code over the user's values: a panic in it (or in the
        // table's) must cost the cost, never the trace or the thread.
        let _ = catch_unwind(AssertUnwindSafe(|| price_trace(custom, t, true)));
    }
}

/// Price what can be priced now without waiting for the embedded table to be decoded: with
/// the custom prices always, with the table once it is ready (else the span is left for a
/// later pass, marked unpriced for the reason that it was still loading). For a trace on the
/// application's thread (one that head sampling dropped, which no lane will see).
pub(crate) fn apply_without_waiting(custom: &[CustomPrice], trace: &mut FinishedTrace) {
    let _ = catch_unwind(AssertUnwindSafe(|| price_trace(custom, trace, false)));
}

/// `wait`: decode the embedded table if it is not yet (else a span it would price is left).
fn price_trace(custom: &[CustomPrice], t: &mut FinishedTrace, wait: bool) {
    let FinishedTrace {
        anchor,
        spans,
        info,
        ..
    } = t;
    let mut totals = Totals::default();
    for s in spans.iter_mut() {
        let at = anchor.wall(s.start);
        if let Some(d) = s.data.as_deref_mut() {
            price_span(custom, d, at, wait);
            totals.add(d);
        }
    }
    if let Some(info) = info {
        totals.write(&mut info.metadata);
    }
}

/// A price found for a span.
struct Quote {
    input: f64,
    output: f64,
    total: f64,
    source: &'static str,
    /// `provider/model` of the price used.
    priced_as: String,
    warnings: Vec<String>,
}

fn price_span(custom: &[CustomPrice], d: &mut SpanData, at: SystemTime, wait: bool) {
    let llm = &d.llm;
    let Some(usage) = &llm.usage else { return };
    if llm.cost.is_some() {
        return;
    }
    match quote(custom, d, usage, at, wait) {
        Ok(q) => {
            d.llm.cost = Some(
                Cost::default()
                    .input(Money::new(q.input, "USD"))
                    .output(Money::new(q.output, "USD"))
                    .total(Money::new(q.total, "USD")),
            );
            d.metadata.remove(keys::COST_UNPRICED);
            d.metadata
                .insert(keys::COST_SOURCE.to_owned(), q.source.into());
            d.metadata
                .insert(keys::COST_MODEL.to_owned(), q.priced_as.into());
            if !q.warnings.is_empty() {
                d.metadata
                    .insert(keys::COST_WARNINGS.to_owned(), q.warnings.into());
            }
        }
        Err(reason) => {
            d.metadata
                .insert(keys::COST_UNPRICED.to_owned(), reason.into());
        }
    }
}

/// A span's token counts, as the tables take them.
// Without the `prices` feature nothing reads the buckets: a custom price has one input rate.
#[cfg_attr(not(feature = "prices"), allow(dead_code))]
struct Tokens {
    input: u64,
    output: u64,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    cache_write_1h: Option<u64>,
    reasoning: Option<u64>,
}

fn tokens(u: &Usage) -> Result<Tokens, String> {
    let read = |v: &Option<crate::values::UsageValue>, name: &str| match v {
        None => Ok(None),
        Some(v) if v.unit != "tokens" => Err(format!(
            "the {name} usage is counted in `{}`, not in tokens",
            v.unit
        )),
        Some(v) => v.as_tokens().map(Some).ok_or_else(|| {
            format!(
                "the {name} usage ({}) is not a finite, non-negative count",
                v.amount
            )
        }),
    };
    let input = read(&u.input, "input")?;
    let output = read(&u.output, "output")?;
    if input.is_none() && output.is_none() {
        return Err("the usage has no input or output token count".to_owned());
    }
    Ok(Tokens {
        input: input.unwrap_or(0),
        output: output.unwrap_or(0),
        cache_read: u.cache_read,
        cache_write: u.cache_write,
        cache_write_1h: u.cache_write_1h,
        reasoning: u.reasoning,
    })
}

fn quote(
    custom: &[CustomPrice],
    d: &SpanData,
    u: &Usage,
    at: SystemTime,
    wait: bool,
) -> Result<Quote, String> {
    let llm = &d.llm;
    let options = llm.options.as_ref();
    let provider = options
        .and_then(|o| o.provider.as_deref())
        .filter(|p| !p.trim().is_empty());
    // The model that answered first (a dated name prices exactly), then the one requested.
    let mut models: Vec<&str> = Vec::with_capacity(2);
    for m in [
        llm.response_model.as_deref(),
        options.and_then(|o| o.model.as_deref()),
    ]
    .into_iter()
    .flatten()
    {
        if !m.trim().is_empty() && !models.contains(&m) {
            models.push(m);
        }
    }
    if models.is_empty() {
        return Err("no model recorded on the span".to_owned());
    }
    let t = tokens(u)?;
    if let Some(q) = custom_quote(custom, &models, provider, &t) {
        return Ok(q);
    }
    if !wait && !ready() {
        return Err("the embedded price table was still loading".to_owned());
    }
    embedded_quote(&models, provider, llm.service_tier.as_deref(), &t, at)
}

fn custom_quote(
    custom: &[CustomPrice],
    models: &[&str],
    provider: Option<&str>,
    t: &Tokens,
) -> Option<Quote> {
    let (model, price) = models.iter().find_map(|m| {
        custom
            .iter()
            .rev() // the last price given for a model wins
            .find(|p| p.is_valid() && p.matches(m, provider))
            .map(|p| (*m, p))
    })?;
    let input = t.input as f64 * price.input_per_mtok / 1e6;
    let output = t.output as f64 * price.output_per_mtok / 1e6;
    let priced_as = match (provider, price.provider.trim()) {
        (_, p) if !p.is_empty() && p != "*" => format!("{p}/{model}"),
        (Some(p), _) => format!("{p}/{model}"),
        (None, _) => model.to_owned(),
    };
    Some(Quote {
        input,
        output,
        total: input + output,
        source: CUSTOM_SOURCE,
        priced_as,
        warnings: Vec::new(),
    })
}

/// The `genai-prices` provider id for a provider named as the OpenTelemetry conventions name
/// them (`gcp.gemini`, `aws.bedrock`, ...); other names pass as they are.
#[cfg(feature = "prices")]
fn table_provider(p: &str) -> &str {
    const ALIASES: [(&str, &str); 8] = [
        ("gcp.gemini", "google"),
        ("gcp.vertex_ai", "google"),
        ("gcp.gen_ai", "google"),
        ("aws.bedrock", "aws"),
        ("azure.ai.openai", "azure"),
        ("azure.ai.inference", "azure"),
        ("x_ai", "x-ai"),
        ("mistral_ai", "mistral"),
    ];
    let p = p.trim();
    ALIASES
        .iter()
        .find(|(ours, _)| p.eq_ignore_ascii_case(ours))
        .map_or(p, |(_, theirs)| theirs)
}

#[cfg(feature = "prices")]
fn embedded_quote(
    models: &[&str],
    provider: Option<&str>,
    tier: Option<&str>,
    t: &Tokens,
    at: SystemTime,
) -> Result<Quote, String> {
    use genai_prices::{ErrorKind, PriceRequest, Usage as TableUsage, UsageKey};

    let Some(table) = embedded::table() else {
        return Err(format!(
            "the embedded price table ({EMBEDDED_SOURCE}) failed to load"
        ));
    };
    let mut usage = TableUsage::from([
        (UsageKey::INPUT_TOKENS, t.input as f64),
        (UsageKey::OUTPUT_TOKENS, t.output as f64),
    ]);
    if let Some(n) = t.cache_read {
        usage.insert(UsageKey::CACHE_READ_TOKENS, n as f64);
    }
    // As genai-prices reads Anthropic's usage: all writes, then the 5-minute and 1-hour parts
    // when the 1-hour part is known.
    match (t.cache_write, t.cache_write_1h) {
        (None, None) => {}
        (five, None) => {
            usage.insert(UsageKey::CACHE_WRITE_TOKENS, five.unwrap_or(0) as f64);
        }
        (five, Some(hour)) => {
            let five = five.unwrap_or(0);
            usage.insert(
                UsageKey::CACHE_WRITE_TOKENS,
                five.saturating_add(hour) as f64,
            );
            usage.insert(UsageKey::CACHE_WRITE_5M_TOKENS, five as f64);
            usage.insert(UsageKey::CACHE_WRITE_1H_TOKENS, hour as f64);
        }
    }
    if let Some(n) = t.reasoning {
        usage.insert(UsageKey::OUTPUT_REASONING_TOKENS, n as f64);
    }
    let provider = provider.map(table_provider);
    let request = |model: &'_ str, provider: Option<&'_ str>| {
        let mut r = PriceRequest::new(model, &usage).with_timestamp(at);
        if let Some(p) = provider {
            r = r.with_provider_id(p);
        }
        if let Some(tier) = tier {
            r = r.with_price_context("service_tier", tier);
        }
        table.calculate(&r)
    };
    let mut last = String::new();
    for model in models {
        let mut outcome = request(model, provider);
        // A provider the table does not know (a proxy's name, say): let it infer one from the
        // model's name, as it does when none is given.
        if let Err(e) = &outcome {
            if e.kind() == ErrorKind::ProviderNotFound && provider.is_some() {
                outcome = request(model, None);
            }
        }
        match outcome {
            Ok(p) if p.total_price.is_finite() => {
                return Ok(Quote {
                    input: p.input_price,
                    output: p.output_price,
                    total: p.total_price,
                    source: EMBEDDED_SOURCE,
                    priced_as: format!("{}/{}", p.provider_id, p.model_id),
                    warnings: p.warnings,
                });
            }
            Ok(p) => last = format!("the price computed is not finite ({})", p.total_price),
            Err(e) => last = format!("{EMBEDDED_SOURCE}: {e}"),
        }
    }
    Err(last)
}

#[cfg(not(feature = "prices"))]
fn embedded_quote(
    models: &[&str],
    _provider: Option<&str>,
    _tier: Option<&str>,
    _t: &Tokens,
    _at: SystemTime,
) -> Result<Quote, String> {
    Err(format!(
        "no Config::price for {:?}, and modelmetry's `prices` feature (the embedded table) is off",
        models.first().copied().unwrap_or_default()
    ))
}

/// The sums over a trace's spans.
#[derive(Default)]
struct Totals {
    spans_with_usage: u64,
    input: u64,
    output: u64,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    reasoning: Option<u64>,
    cost_usd: Option<f64>,
    without_cost: u64,
}

impl Totals {
    fn add(&mut self, d: &SpanData) {
        let Some(u) = &d.llm.usage else {
            // A cost without usage still counts towards the trace's.
            if let Some(c) = d.llm.cost.as_ref().and_then(usd) {
                *self.cost_usd.get_or_insert(0.0) += c;
            }
            return;
        };
        self.spans_with_usage += 1;
        let sum = |acc: &mut Option<u64>, n: Option<u64>| {
            if let Some(n) = n {
                *acc = Some(acc.unwrap_or(0).saturating_add(n));
            }
        };
        self.input = self.input.saturating_add(u.input_tokens().unwrap_or(0));
        self.output = self.output.saturating_add(u.output_tokens().unwrap_or(0));
        sum(&mut self.cache_read, u.cache_read);
        sum(&mut self.cache_write, u.cache_write);
        sum(&mut self.cache_write, u.cache_write_1h);
        sum(&mut self.reasoning, u.reasoning);
        match d.llm.cost.as_ref().and_then(usd) {
            Some(c) => *self.cost_usd.get_or_insert(0.0) += c,
            None => self.without_cost += 1,
        }
    }

    fn write(&self, m: &mut Map<String, Value>) {
        if self.spans_with_usage > 0 {
            m.insert(keys::TOTAL_INPUT_TOKENS.to_owned(), self.input.into());
            m.insert(keys::TOTAL_OUTPUT_TOKENS.to_owned(), self.output.into());
            let buckets = [
                (keys::TOTAL_CACHE_READ_TOKENS, self.cache_read),
                (keys::TOTAL_CACHE_WRITE_TOKENS, self.cache_write),
                (keys::TOTAL_REASONING_TOKENS, self.reasoning),
            ];
            for (key, n) in buckets {
                if let Some(n) = n {
                    m.insert(key.to_owned(), n.into());
                }
            }
            if self.without_cost > 0 {
                m.insert(
                    keys::TOTAL_SPANS_WITHOUT_COST.to_owned(),
                    self.without_cost.into(),
                );
            }
        }
        if let Some(c) = self.cost_usd.filter(|c| c.is_finite()) {
            m.insert(keys::TOTAL_COST_USD.to_owned(), c.into());
        }
    }
}

/// A cost's total in USD: its total, else input and output summed; `None` in another currency
/// or when not finite.
fn usd(c: &Cost) -> Option<f64> {
    // `Some(None)`: present but not a finite USD amount.
    let amount = |m: &Option<Money>| {
        m.as_ref().map(|m| {
            (m.currency.eq_ignore_ascii_case("USD") && m.amount.is_finite()).then_some(m.amount)
        })
    };
    match (amount(&c.total), amount(&c.input), amount(&c.output)) {
        (Some(total), _, _) => total,
        (None, None, None) => None,
        (None, i, o) => Some(i.unwrap_or(Some(0.0))? + o.unwrap_or(Some(0.0))?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usd_total_needs_every_part_in_usd() {
        assert_eq!(usd(&Cost::new(1.0, 2.0, "USD")), Some(3.0));
        assert_eq!(usd(&Cost::new(1.0, 2.0, "EUR")), None);
        let mixed = Cost::default()
            .input(Money::new(1.0, "USD"))
            .output(Money::new(2.0, "EUR"));
        assert_eq!(usd(&mixed), None);
        let nan = Cost::default().total(Money::new(f64::NAN, "USD"));
        assert_eq!(usd(&nan), None);
        assert_eq!(
            usd(&Cost::default().input(Money::new(0.5, "usd"))),
            Some(0.5)
        );
        assert_eq!(usd(&Cost::default()), None);
    }

    #[test]
    fn a_custom_price_matches_its_model_and_provider() {
        let p = |provider: &str| CustomPrice {
            model: "ft:acme".into(),
            provider: provider.into(),
            input_per_mtok: 1.0,
            output_per_mtok: 2.0,
        };
        assert!(p("openai").matches("FT:ACME", Some("OpenAI")));
        assert!(p("openai").matches("ft:acme", None));
        assert!(!p("openai").matches("ft:acme", Some("azure")));
        assert!(p("").matches("ft:acme", Some("azure")));
        assert!(!p("").matches("ft:other", None));
        let nan = CustomPrice {
            input_per_mtok: f64::NAN,
            ..p("")
        };
        assert!(!nan.is_valid());
        assert!(
            !CustomPrice {
                output_per_mtok: -1.0,
                ..p("")
            }
            .is_valid()
        );
    }

    #[cfg(feature = "prices")]
    #[test]
    fn opentelemetry_provider_names_map_to_the_table_s() {
        assert_eq!(table_provider("gcp.gemini"), "google");
        assert_eq!(table_provider("AWS.Bedrock"), "aws");
        assert_eq!(table_provider("x_ai"), "x-ai");
        assert_eq!(table_provider(" openai "), "openai");
    }
}
