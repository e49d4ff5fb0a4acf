//! What a provider's request or response says, in our values, and how it is written onto a span.
//! The readers (`openai_json.rs`, `anthropic_json.rs`, `accumulator.rs`) only build these;
//! `apply_*` is the one place that writes them.

use serde_json::{Map, Value};

use crate::context::target::Target;
use crate::metadata_keys as keys;
use crate::values::{self, DataPart, Message, Options, Part, ToolCall, Usage};

/// A request as read from the provider's JSON.
#[derive(Debug, Default)]
pub(crate) struct Request {
    /// The provider the JSON's shape implies (`openai`, `anthropic`): used only when the span
    /// names none.
    pub(crate) provider: &'static str,
    pub(crate) options: Options,
    pub(crate) messages: Vec<Message>,
    pub(crate) service_tier: Option<String>,
    /// Request parameters the spec's `Options` has no field for (`top_k`, `reasoning_effort`).
    pub(crate) extra: Map<String, Value>,
    /// What was not understood, by JSON path.
    pub(crate) unmapped: Vec<String>,
    /// The body was not a JSON object: only the note is recorded.
    pub(crate) unreadable: bool,
}

impl Request {
    /// A request to `provider` about to be read from `v`: `unreadable`, with its note, when
    /// `v` is not a JSON object.
    pub(crate) fn read(provider: &'static str, v: &Value) -> Request {
        let mut req = Request {
            provider,
            ..Request::default()
        };
        req.unreadable = not_an_object("request", v, &mut req.unmapped);
        req
    }
}

/// A response (or a stream's chunks, assembled) as read from the provider's JSON.
#[derive(Debug, Default, Clone)]
pub(crate) struct Response {
    pub(crate) id: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) finish_reasons: Vec<String>,
    /// The model's output messages, in order.
    pub(crate) messages: Vec<Message>,
    pub(crate) usage: Option<Tokens>,
    pub(crate) service_tier: Option<String>,
    /// An error the response itself carries (a failed Responses API response, an error event).
    pub(crate) error: Option<ProviderError>,
    pub(crate) unmapped: Vec<String>,
}

/// Token counts, with input holding every input token (cached ones included).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Tokens {
    pub(crate) input: u64,
    pub(crate) output: u64,
    pub(crate) total: Option<u64>,
    pub(crate) cache_read: Option<u64>,
    pub(crate) cache_write: Option<u64>,
    pub(crate) cache_write_1h: Option<u64>,
    pub(crate) reasoning: Option<u64>,
}

/// An error body from a provider: OpenAI's `{"error": {...}}`, Anthropic's
/// `{"type": "error", "error": {...}}`.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ProviderError {
    pub(crate) status: Option<u16>,
    pub(crate) kind: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) param: Option<String>,
    pub(crate) message: String,
}

impl ProviderError {
    /// Read an error body (either provider's shape, or the inner error object itself).
    pub(crate) fn from_body(status: Option<u16>, body: &Value) -> ProviderError {
        let inner = match body.get("error") {
            Some(e) if e.is_object() => e,
            Some(Value::String(s)) => {
                return ProviderError {
                    status,
                    message: s.clone(),
                    ..ProviderError::default()
                };
            }
            _ => body,
        };
        let text = |k: &str| match inner.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let message = text("message").unwrap_or_else(|| match body {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        });
        ProviderError {
            status,
            kind: text("type"),
            code: text("code"),
            param: text("param"),
            message,
        }
    }

    /// One line: `401 invalid_request_error: Incorrect API key (code: invalid_api_key)`.
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        if let Some(s) = self.status {
            out.push_str(&s.to_string());
            out.push(' ');
        }
        if let Some(k) = &self.kind {
            out.push_str(k);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        if let Some(c) = &self.code {
            out.push_str(&format!(" (code: {c})"));
        }
        out.trim_end().to_owned()
    }

    fn json(&self) -> Value {
        let mut m = Map::new();
        if let Some(s) = self.status {
            m.insert("status".into(), s.into());
        }
        if let Some(k) = &self.kind {
            m.insert("type".into(), k.as_str().into());
        }
        if let Some(c) = &self.code {
            m.insert("code".into(), c.as_str().into());
        }
        if let Some(p) = &self.param {
            m.insert("param".into(), p.as_str().into());
        }
        m.insert("message".into(), self.message.as_str().into());
        Value::Object(m)
    }
}

/// Write a request onto `t`: options (replacing any set before; a model or provider set before
/// and missing here is kept), messages (replacing), the service tier, extras and notes.
pub(crate) fn apply_request(t: Target, req: Request) {
    if t.is_off() {
        return;
    }
    if req.unreadable {
        note_unmapped(t, req.unmapped);
        return;
    }
    t.set_provider_if_unset(req.provider);
    t.set_options(req.options);
    t.set_messages(req.messages);
    if let Some(tier) = req.service_tier {
        t.set_metadata(keys::SERVICE_TIER_REQUESTED, &tier);
    }
    for (k, v) in req.extra {
        t.set_metadata(&k, &v);
    }
    note_unmapped(t, req.unmapped);
}

/// Write a response onto `t`: its id, model and finish reasons, its output messages (appended
/// after the request's), usage, service tier, and an error it carries.
pub(crate) fn apply_response(t: Target, resp: Response) {
    if t.is_off() {
        return;
    }
    apply_response_meta(t, &resp);
    for m in resp.messages {
        t.add_message(m);
    }
}

/// Everything but the messages (content): what a stream records as it arrives.
pub(crate) fn apply_response_meta(t: Target, resp: &Response) {
    let reasons: Vec<&str> = resp.finish_reasons.iter().map(String::as_str).collect();
    t.set_response(resp.id.as_deref(), resp.model.as_deref(), &reasons);
    if let Some(tokens) = resp.usage {
        apply_tokens(t, tokens);
    }
    if let Some(tier) = &resp.service_tier {
        t.set_service_tier(tier.clone());
    }
    if let Some(e) = &resp.error {
        apply_error(t, e);
    }
    note_unmapped(t, resp.unmapped.clone());
}

fn apply_tokens(t: Target, k: Tokens) {
    let mut usage = Usage::tokens(k.input, k.output);
    if let Some(total) = k.total {
        usage = usage.total(values::UsageValue::tokens(total));
    }
    usage.cache_read = k.cache_read;
    usage.cache_write = k.cache_write;
    usage.cache_write_1h = k.cache_write_1h;
    usage.reasoning = k.reasoning;
    t.set_usage(usage);
}

/// Mark `t` failed with a provider's error: severity `error`, the error's one-line text as the
/// message, and its fields under `provider_error`.
pub(crate) fn apply_error(t: Target, e: &ProviderError) {
    t.record_error(&e.text());
    t.set_metadata(keys::PROVIDER_ERROR, &e.json());
}

/// The most notes of JSON not understood one span keeps (the first few are enough to see
/// what is wrong).
const MAX_UNMAPPED: usize = 16;

fn note_unmapped(t: Target, unmapped: Vec<String>) {
    if !unmapped.is_empty() {
        t.append_metadata(keys::UNMAPPED, &unmapped, MAX_UNMAPPED);
    }
}

// ---- small readers shared by the providers' shapes ----------------------------------------

/// What a JSON value is, for a note about one that was not what was expected.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// True (and the note written) when `v`, the `what` of a call, is not a JSON object: nothing
/// else can be read from it.
pub(crate) fn not_an_object(what: &str, v: &Value, unmapped: &mut Vec<String>) -> bool {
    if v.is_object() {
        return false;
    }
    unmapped.push(format!("{what}: not a JSON object ({})", kind_of(v)));
    true
}

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(crate) fn u64_of(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        _ => None,
    }
}

pub(crate) fn f64_of(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

pub(crate) fn i64_of(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// A tool call's arguments: JSON text parsed; text that is not JSON (a stream cut short) kept
/// as a string; anything else as it is.
pub(crate) fn arguments(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => parse_arguments(s),
        Some(other) => other.clone(),
        None => Value::Object(Map::new()),
    }
}

pub(crate) fn parse_arguments(s: &str) -> Value {
    if s.trim().is_empty() {
        return Value::Object(Map::new());
    }
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned()))
}

pub(crate) fn tool_call(id: &str, name: &str, args: Value) -> ToolCall {
    ToolCall::function(id, name, args)
}

/// A `data:<mime>;base64,<data>` URL as a data part; `None` for any other URL.
pub(crate) fn data_url(url: &str) -> Option<DataPart> {
    let rest = url.strip_prefix("data:")?;
    let (head, data) = rest.split_once(',')?;
    let mime = head.strip_suffix(";base64")?;
    let mime = if mime.is_empty() {
        "application/octet-stream"
    } else {
        mime
    };
    Some(DataPart::new(mime, data))
}

/// A part that stands for content given by reference (an image URL, a file id): its kind and
/// where it is, as text (the spec's data parts carry base64 only).
pub(crate) fn reference(kind: &str, at: &str) -> Part {
    Part::text(format!("[{kind}: {at}]"))
}

/// The stop sequences, as the spec's `Stop` object: `{"sequences": [...]}`.
pub(crate) fn stop(v: &Value) -> Option<Map<String, Value>> {
    let seqs = match v {
        Value::String(s) => vec![Value::String(s.clone())],
        Value::Array(a) if !a.is_empty() => a.clone(),
        _ => return None,
    };
    let mut m = Map::new();
    m.insert("sequences".into(), Value::Array(seqs));
    Some(m)
}
