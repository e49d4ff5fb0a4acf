//! A `tracing` span's fields, as recorded (at creation and by `Span::record` later), and how
//! they become our span's data when it closes: the GenAI mapping. Every name is in
//! [`semconv`](super::semconv).

use std::fmt;

use serde_json::{Map, Value};
use tracing_core::field::{Field, Visit};

use super::messages;
use super::semconv;
use crate::capture;
use crate::record::{Kind, Name, Severity, SpanRecord};
use crate::switch;
use crate::values::{Message, Options, RetrievalQuery, Usage, UsageValue};
use semconv as f;

/// One field's value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FieldValue {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl FieldValue {
    fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Str(s) => Some(s),
            _ => None,
        }
    }

    fn as_u64(&self) -> Option<u64> {
        match *self {
            FieldValue::U64(n) => Some(n),
            FieldValue::I64(n) => u64::try_from(n).ok(),
            FieldValue::F64(n) if n >= 0.0 && n.fract() == 0.0 => Some(n as u64),
            FieldValue::Str(ref s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match *self {
            FieldValue::I64(n) => Some(n),
            FieldValue::U64(n) => i64::try_from(n).ok(),
            FieldValue::Str(ref s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match *self {
            FieldValue::F64(n) => Some(n),
            FieldValue::I64(n) => Some(n as f64),
            FieldValue::U64(n) => Some(n as f64),
            FieldValue::Str(ref s) => s.trim().parse().ok(),
            FieldValue::Bool(_) => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            FieldValue::Bool(b) => Some(*b),
            FieldValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// As text: a string as itself, anything else as its JSON.
    fn text(&self) -> String {
        match self {
            FieldValue::Str(s) => s.clone(),
            other => other.json().to_string(),
        }
    }

    pub(crate) fn json(&self) -> Value {
        match self {
            FieldValue::Str(s) => Value::String(s.clone()),
            FieldValue::I64(n) => Value::from(*n),
            FieldValue::U64(n) => Value::from(*n),
            // A non-finite number is written as text by the capture, never as `null`.
            FieldValue::F64(n) => capture::metadata(n).value,
            FieldValue::Bool(b) => Value::Bool(*b),
        }
    }
}

/// A span's fields, in the order first recorded; a later value replaces an earlier one.
#[derive(Default, Debug)]
pub(crate) struct Fields {
    entries: Vec<(&'static str, FieldValue)>,
}

impl Fields {
    /// Room for a callsite's fields, so recording them never regrows.
    pub(crate) fn with_capacity(n: usize) -> Fields {
        Fields {
            entries: Vec::with_capacity(n),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&FieldValue> {
        self.entries
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(FieldValue::as_str)
    }

    fn set(&mut self, name: &'static str, value: FieldValue) {
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(&'static str, FieldValue)> {
        self.entries.iter()
    }

    /// A visitor that records into these fields.
    pub(crate) fn visitor(&mut self) -> Visitor<'_> {
        Visitor(self)
    }
}

/// Records `tracing` values into [`Fields`].
pub(crate) struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.set(field.name(), FieldValue::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.set(field.name(), FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.set(field.name(), FieldValue::U64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.set(field.name(), FieldValue::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.set(field.name(), FieldValue::Str(value.to_owned()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let text = user_text(|| {
            let mut text = value.to_string();
            let mut source = value.source();
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        });
        self.0.set(field.name(), FieldValue::Str(text));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = user_text(|| format!("{value:?}"));
        self.0.set(field.name(), FieldValue::Str(text));
    }
}

/// Format a value with the user's `Debug` or `Display`: with tracing off on this thread (a
/// span opened inside is not recorded) and a panic caught, as for any captured value.
fn user_text(f: impl FnOnce() -> String) -> String {
    switch::user_code(f)
        .unwrap_or_else(|payload| format!("<capture panicked: {}>", switch::panic_text(&*payload)))
}

/// True if any of a callsite's fields is a GenAI field.
pub(crate) fn has_gen_ai_field(fields: &tracing_core::field::FieldSet) -> bool {
    fields
        .iter()
        .any(|field| field.name().starts_with(f::GEN_AI_PREFIX))
}

/// The kind an operation name stands for.
pub(crate) fn kind_of(operation: &str) -> Option<Kind> {
    Some(match operation {
        f::OP_CHAT | f::OP_TEXT_COMPLETION | f::OP_GENERATE_CONTENT => Kind::Llm,
        f::OP_EMBEDDINGS => Kind::Embeddings,
        f::OP_INVOKE_AGENT | f::OP_CREATE_AGENT => Kind::Agent,
        f::OP_EXECUTE_TOOL => Kind::Tool,
        f::OP_RETRIEVAL => Kind::Retriever,
        f::OP_INVOKE_WORKFLOW => Kind::Chain,
        _ => return None,
    })
}

/// Fields read into the model (or dropped, as `otel.kind`): everything else is metadata. A
/// `match` on the name (by length first), not a scan of a list: it runs for every field.
fn is_mapped(key: &str) -> bool {
    matches!(
        key,
        f::OTEL_NAME
            | f::OTEL_KIND
            | f::OTEL_STATUS_CODE
            | f::OTEL_STATUS_MESSAGE
            | f::PROVIDER_NAME
            | f::SYSTEM_DEPRECATED
            | f::REQUEST_MODEL
            | f::RESPONSE_MODEL
            | f::RESPONSE_ID
            | f::RESPONSE_FINISH_REASONS
            | f::REQUEST_TEMPERATURE
            | f::REQUEST_TOP_P
            | f::REQUEST_MAX_TOKENS
            | f::REQUEST_FREQUENCY_PENALTY
            | f::REQUEST_PRESENCE_PENALTY
            | f::REQUEST_SEED
            | f::REQUEST_CHOICE_COUNT
            | f::REQUEST_STREAM
            | f::TOOL_DEFINITIONS
            | f::CONVERSATION_ID
            | f::OPERATION_NAME
    ) || is_usage(key)
}

/// Every usage field, each framework's spelling.
fn is_usage(key: &str) -> bool {
    matches!(
        key,
        f::USAGE_INPUT_TOKENS
            | f::USAGE_OUTPUT_TOKENS
            | f::USAGE_PROMPT_TOKENS_DEPRECATED
            | f::USAGE_COMPLETION_TOKENS_DEPRECATED
            | f::USAGE_CACHE_READ
            | f::USAGE_CACHE_CREATION
            | f::USAGE_REASONING_OUTPUT
            | f::USAGE_REASONING_RIG
    )
}

/// A content field: dropped when content capture is off, never kept as metadata.
fn is_content(key: &str) -> bool {
    matches!(
        key,
        f::SYSTEM_INSTRUCTIONS
            | f::INPUT_MESSAGES
            | f::OUTPUT_MESSAGES
            | f::PROMPT
            | f::COMPLETION
            | f::TOOL_CALL_ARGUMENTS
            | f::TOOL_CALL_RESULT
            | f::RETRIEVAL_QUERY_TEXT
            | f::RETRIEVAL_DOCUMENTS
    )
}

/// Token counts by bucket, as read from a span's fields (each framework's spelling).
#[derive(Default, Debug, PartialEq)]
pub(crate) struct Tokens {
    pub(crate) input: Option<u64>,
    pub(crate) output: Option<u64>,
    pub(crate) cache_read: Option<u64>,
    pub(crate) cache_write: Option<u64>,
    pub(crate) reasoning: Option<u64>,
}

impl Tokens {
    fn read(fields: &Fields) -> Tokens {
        let n = |a: &str, b: &str| {
            fields
                .get(a)
                .or_else(|| fields.get(b))
                .and_then(FieldValue::as_u64)
        };
        Tokens {
            input: n(f::USAGE_INPUT_TOKENS, f::USAGE_PROMPT_TOKENS_DEPRECATED),
            output: n(
                f::USAGE_OUTPUT_TOKENS,
                f::USAGE_COMPLETION_TOKENS_DEPRECATED,
            ),
            cache_read: n(f::USAGE_CACHE_READ, f::USAGE_CACHE_READ),
            cache_write: n(f::USAGE_CACHE_CREATION, f::USAGE_CACHE_CREATION),
            reasoning: n(f::USAGE_REASONING_OUTPUT, f::USAGE_REASONING_RIG),
        }
    }
}

/// The usage these counts make. `input` is every input token, cached ones included, as the
/// conventions (and OpenAI's numbers, which rig and genai pass on) count it; the cache and
/// reasoning buckets are parts of input and output. A cache write has no lifetime in the
/// conventions: it is the default (5-minute) bucket.
pub(crate) fn usage(t: &Tokens) -> Option<Usage> {
    let usage = match (t.input, t.output) {
        (Some(i), Some(o)) => Usage::tokens(i, o),
        (Some(i), None) => Usage::new().input(UsageValue::tokens(i)),
        (None, Some(o)) => Usage::new().output(UsageValue::tokens(o)),
        (None, None) => return None,
    };
    let usage = match t.cache_read {
        Some(n) => usage.cache_read(n),
        None => usage,
    };
    let usage = match t.cache_write {
        Some(n) => usage.cache_write(n),
        None => usage,
    };
    Some(match t.reasoning {
        Some(n) => usage.reasoning(n),
        None => usage,
    })
}

/// What closing the span sets on its trace.
#[derive(Default)]
pub(crate) struct ForTrace {
    /// `gen_ai.conversation.id`: the trace's session, unless it has one.
    pub(crate) session: Option<String>,
}

/// Fill `rec` from the span's fields: name, kind, severity, model call data, input and
/// output, metadata. `static_name` is the span's callsite name; `content` says whether
/// content capture is on.
pub(crate) fn apply(
    fields: &Fields,
    rec: &mut SpanRecord,
    static_name: &'static str,
    content: bool,
) -> ForTrace {
    let operation = fields.str(f::OPERATION_NAME);
    let kind = operation.and_then(kind_of);
    if let Some(kind) = kind {
        rec.kind = kind;
    }
    rec.name = name(fields, static_name, operation, rec.kind);
    let span_kind = rec.kind;

    let data = rec.data_mut();
    let mut metadata = Map::new();

    // Severity: `otel.status_code = "ERROR"` (any case) or an `error.type`.
    let status_error = fields
        .str(f::OTEL_STATUS_CODE)
        .is_some_and(|s| s.eq_ignore_ascii_case(f::STATUS_ERROR));
    let error_type = fields.get(f::ERROR_TYPE).map(FieldValue::text);
    let mut severity = None;
    if status_error || error_type.is_some() {
        severity = Some(Severity::Error);
        if data.message.is_none() {
            data.message = fields
                .str(f::OTEL_STATUS_MESSAGE)
                .map(str::to_owned)
                .or(error_type);
        }
    }

    // Model and provider: on the options of a model call, in metadata elsewhere (the wire's
    // `other` family has no options).
    let model = fields.str(f::REQUEST_MODEL);
    let provider = fields
        .str(f::PROVIDER_NAME)
        .or_else(|| fields.str(f::SYSTEM_DEPRECATED));
    let is_model_call = matches!(span_kind, Kind::Llm | Kind::Embeddings);
    if is_model_call {
        let opts = data.llm.options.get_or_insert_with(Options::default);
        read_options(fields, opts);
        if let Some(m) = model {
            opts.model.get_or_insert_with(|| m.to_owned());
        }
        if let Some(p) = provider {
            opts.provider.get_or_insert_with(|| p.to_owned());
        }
        if let Some(json) = fields.str(f::TOOL_DEFINITIONS) {
            match messages::parse_tool_definitions(json) {
                Some(tools) if !tools.is_empty() => opts.tools = Some(tools),
                Some(_) => {}
                None => keep(
                    &mut metadata,
                    f::TOOL_DEFINITIONS,
                    &FieldValue::Str(json.into()),
                ),
            }
        }
        if let Some(id) = fields.str(f::RESPONSE_ID) {
            data.llm.response_id.get_or_insert_with(|| id.to_owned());
        }
        if let Some(m) = fields.str(f::RESPONSE_MODEL) {
            data.llm.response_model.get_or_insert_with(|| m.to_owned());
        }
        if let Some(reasons) = fields.get(f::RESPONSE_FINISH_REASONS) {
            data.llm.finish_reasons = finish_reasons(reasons);
        }
    } else {
        for (key, value) in [(f::REQUEST_MODEL, model), (f::PROVIDER_NAME, provider)] {
            if let Some(v) = value {
                keep(&mut metadata, key, &FieldValue::Str(v.to_owned()));
            }
        }
        for key in [f::RESPONSE_MODEL, f::RESPONSE_ID] {
            if let Some(v) = fields.get(key) {
                keep(&mut metadata, key, v);
            }
        }
    }

    // Usage: a model call's. An agent run's (rig records the run's total on `invoke_agent`)
    // sums its calls' usage: kept as metadata, so that it is neither counted nor priced twice.
    if is_model_call {
        if let Some(usage) = usage(&Tokens::read(fields)) {
            data.llm.usage = Some(usage);
        }
    } else {
        for (key, value) in fields.iter() {
            if is_usage(key) {
                keep(&mut metadata, key, value);
            }
        }
    }

    // Content.
    if content {
        read_content(fields, span_kind, data, &mut metadata);
    }

    // An operation the kinds do not name stays visible.
    if kind.is_none() {
        if let Some(op) = fields.get(f::OPERATION_NAME) {
            keep(&mut metadata, f::OPERATION_NAME, op);
        }
    }
    for (key, value) in fields.iter() {
        if is_mapped(key) || is_content(key) || *key == f::ERROR_TYPE {
            continue;
        }
        keep(&mut metadata, key, value);
    }
    if let Some(e) = fields.get(f::ERROR_TYPE) {
        keep(&mut metadata, f::ERROR_TYPE, e);
    }
    for (k, v) in metadata {
        // What the application set on the span itself wins over a field of the same name.
        data.metadata.entry(k).or_insert(v);
    }
    if severity.is_some() {
        rec.severity = severity;
    }
    ForTrace {
        session: fields.get(f::CONVERSATION_ID).map(FieldValue::text),
    }
}

/// One metadata entry, capped like every captured value.
fn keep(metadata: &mut Map<String, Value>, key: &str, value: &FieldValue) {
    capture::metadata(&value.json()).insert_into(metadata, key);
}

/// `otel.name`; else the conventions' `{operation} {target}` for a span named after its bare
/// operation (rig's `chat`, `execute_tool`, `invoke_agent`); else the callsite's name.
fn name(fields: &Fields, static_name: &'static str, op: Option<&str>, kind: Kind) -> Name {
    if let Some(n) = fields.str(f::OTEL_NAME) {
        return Name::Owned(n.to_owned());
    }
    if op == Some(static_name) {
        let target = match kind {
            Kind::Tool => fields.str(f::TOOL_NAME),
            Kind::Agent => fields.str(f::AGENT_NAME),
            Kind::Retriever => fields.str(f::DATA_SOURCE_ID),
            Kind::Chain => fields.str(f::WORKFLOW_NAME),
            _ => fields.str(f::REQUEST_MODEL),
        };
        if let Some(t) = target {
            return Name::Owned(format!("{static_name} {t}"));
        }
    }
    Name::Borrowed(static_name)
}

fn read_options(fields: &Fields, o: &mut Options) {
    let float = |k| fields.get(k).and_then(FieldValue::as_f64);
    let int = |k| fields.get(k).and_then(FieldValue::as_i64);
    o.temperature = o.temperature.or(float(f::REQUEST_TEMPERATURE));
    o.top_p = o.top_p.or(float(f::REQUEST_TOP_P));
    o.frequency_penalty = o.frequency_penalty.or(float(f::REQUEST_FREQUENCY_PENALTY));
    o.presence_penalty = o.presence_penalty.or(float(f::REQUEST_PRESENCE_PENALTY));
    o.max_tokens = o.max_tokens.or(int(f::REQUEST_MAX_TOKENS));
    o.seed = o.seed.or(int(f::REQUEST_SEED));
    o.n = o.n.or(int(f::REQUEST_CHOICE_COUNT));
    o.stream = o
        .stream
        .or(fields.get(f::REQUEST_STREAM).and_then(FieldValue::as_bool));
}

/// A JSON array of reasons (genai), or one reason as text.
fn finish_reasons(v: &FieldValue) -> Vec<String> {
    let text = v.text();
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(list)) => list
            .iter()
            .map(|r| match r {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        _ => vec![text],
    }
}

/// Text that is JSON as that JSON, other text as a string.
fn json_or_text(v: &FieldValue) -> Value {
    match v {
        FieldValue::Str(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
        other => other.json(),
    }
}

fn read_content(
    fields: &Fields,
    kind: Kind,
    data: &mut crate::record::SpanData,
    metadata: &mut Map<String, Value>,
) {
    // Messages: a model call's, in order: system instructions, input, output.
    let mut msgs: Vec<Message> = Vec::new();
    let mut any_messages = false;
    let mut instructions = None;
    if let Some(text) = fields.str(f::SYSTEM_INSTRUCTIONS) {
        match messages::parse_system_instructions(text) {
            Some(m) if kind == Kind::Llm => instructions = Some(m),
            _ => keep_content(metadata, f::SYSTEM_INSTRUCTIONS, text),
        }
    }
    let mut reasons = Vec::new();
    for key in [f::INPUT_MESSAGES, f::OUTPUT_MESSAGES] {
        let Some(text) = fields.str(key) else {
            continue;
        };
        match messages::parse_messages(text) {
            Some((list, r)) if kind == Kind::Llm => {
                // rig-agent writes its preamble both as the instructions and as the first
                // input message: the same message is recorded once.
                if key == f::INPUT_MESSAGES
                    && instructions.as_ref().is_some_and(|i| list.contains(i))
                {
                    instructions = None;
                }
                msgs.extend(list);
                reasons.extend(r);
                any_messages = true;
            }
            _ => keep_content(metadata, key, text),
        }
    }
    if let Some(i) = instructions {
        msgs.insert(0, i);
        any_messages = true;
    }
    if any_messages {
        // Messages set through `llm::` while the span was current come after the fields'.
        msgs.append(&mut data.llm.messages);
        data.llm.messages = msgs;
        if data.llm.finish_reasons.is_empty() {
            data.llm.finish_reasons = reasons;
        }
    }

    // Input and output: a tool's arguments and result, an agent's prompt and answer.
    let input = fields
        .get(f::TOOL_CALL_ARGUMENTS)
        .or_else(|| fields.get(f::PROMPT));
    let output = fields
        .get(f::TOOL_CALL_RESULT)
        .or_else(|| fields.get(f::COMPLETION));
    if let (Some(v), None) = (input, &data.input) {
        let c = capture::metadata(&json_or_text(v));
        data.input = Some(c.noted(&mut data.metadata, "Metadata.input"));
    }
    if let (Some(v), None) = (output, &data.output) {
        let c = capture::metadata(&json_or_text(v));
        data.output = Some(c.noted(&mut data.metadata, "Metadata.output"));
    }

    // Retrieval.
    if let Some(q) = fields.str(f::RETRIEVAL_QUERY_TEXT) {
        if kind == Kind::Retriever {
            data.llm.queries.push(RetrievalQuery::new(q));
        } else {
            keep_content(metadata, f::RETRIEVAL_QUERY_TEXT, q);
        }
    }
    if let Some(docs) = fields.get(f::RETRIEVAL_DOCUMENTS) {
        let value = json_or_text(docs);
        match (&value, kind) {
            (Value::Array(list), Kind::Retriever) => {
                for d in list {
                    let id = d.get(f::DOC_ID).map_or_else(
                        || d.to_string(),
                        |id| match id {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        },
                    );
                    let mut doc = crate::values::Document::new(id, Value::Null);
                    if let Value::Object(m) = d {
                        doc.metadata = m.clone();
                    }
                    data.llm.documents.push(doc);
                }
            }
            _ => capture::metadata(&value).insert_into(metadata, f::RETRIEVAL_DOCUMENTS),
        }
    }
}

fn keep_content(metadata: &mut Map<String, Value>, key: &str, text: &str) {
    capture::metadata(text).insert_into(metadata, key);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_reads_each_frameworks_spelling() {
        let mut fields = Fields::default();
        fields.set(f::USAGE_INPUT_TOKENS, FieldValue::I64(10));
        fields.set(f::USAGE_OUTPUT_TOKENS, FieldValue::U64(4));
        fields.set(f::USAGE_CACHE_READ, FieldValue::U64(3));
        fields.set(f::USAGE_REASONING_RIG, FieldValue::U64(2));
        let t = Tokens::read(&fields);
        assert_eq!(
            t,
            Tokens {
                input: Some(10),
                output: Some(4),
                cache_read: Some(3),
                cache_write: None,
                reasoning: Some(2),
            }
        );
        assert_eq!(
            usage(&t),
            Some(Usage::tokens(10, 4).cache_read(3).reasoning(2))
        );
    }

    #[test]
    fn operations_choose_kinds() {
        assert_eq!(kind_of("chat"), Some(Kind::Llm));
        assert_eq!(kind_of("generate_content"), Some(Kind::Llm));
        assert_eq!(kind_of("text_completion"), Some(Kind::Llm));
        assert_eq!(kind_of("embeddings"), Some(Kind::Embeddings));
        assert_eq!(kind_of("invoke_agent"), Some(Kind::Agent));
        assert_eq!(kind_of("create_agent"), Some(Kind::Agent));
        assert_eq!(kind_of("execute_tool"), Some(Kind::Tool));
        assert_eq!(kind_of("retrieval"), Some(Kind::Retriever));
        assert_eq!(kind_of("rerank"), None);
    }
}
