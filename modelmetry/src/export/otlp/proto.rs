//! The OTLP trace messages (opentelemetry/proto/{collector/trace,trace,common,resource}/v1),
//! declared by hand for prost: no build script, no `protoc`, field numbers as in the `.proto`
//! files. [`to_json`] writes the same messages in the OTLP/JSON mapping.

use serde_json::{Map, Value, json};

/// `ExportTraceServiceRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ExportTraceServiceRequest {
    #[prost(message, repeated, tag = "1")]
    pub(crate) resource_spans: Vec<ResourceSpans>,
}

/// `ExportTraceServiceResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ExportTraceServiceResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) partial_success: Option<ExportTracePartialSuccess>,
}

/// `ExportTracePartialSuccess`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ExportTracePartialSuccess {
    #[prost(int64, tag = "1")]
    pub(crate) rejected_spans: i64,
    #[prost(string, tag = "2")]
    pub(crate) error_message: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ResourceSpans {
    #[prost(message, optional, tag = "1")]
    pub(crate) resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) scope_spans: Vec<ScopeSpans>,
    #[prost(string, tag = "3")]
    pub(crate) schema_url: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Resource {
    #[prost(message, repeated, tag = "1")]
    pub(crate) attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ScopeSpans {
    #[prost(message, optional, tag = "1")]
    pub(crate) scope: Option<InstrumentationScope>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) spans: Vec<Span>,
    #[prost(string, tag = "3")]
    pub(crate) schema_url: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct InstrumentationScope {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(string, tag = "2")]
    pub(crate) version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Span {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) span_id: Vec<u8>,
    #[prost(string, tag = "3")]
    pub(crate) trace_state: String,
    #[prost(bytes = "vec", tag = "4")]
    pub(crate) parent_span_id: Vec<u8>,
    #[prost(string, tag = "5")]
    pub(crate) name: String,
    #[prost(int32, tag = "6")]
    pub(crate) kind: i32,
    #[prost(fixed64, tag = "7")]
    pub(crate) start_time_unix_nano: u64,
    #[prost(fixed64, tag = "8")]
    pub(crate) end_time_unix_nano: u64,
    #[prost(message, repeated, tag = "9")]
    pub(crate) attributes: Vec<KeyValue>,
    #[prost(message, repeated, tag = "11")]
    pub(crate) events: Vec<SpanEvent>,
    #[prost(message, optional, tag = "15")]
    pub(crate) status: Option<Status>,
    #[prost(fixed32, tag = "16")]
    pub(crate) flags: u32,
}

/// `Span.Event`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SpanEvent {
    #[prost(fixed64, tag = "1")]
    pub(crate) time_unix_nano: u64,
    #[prost(string, tag = "2")]
    pub(crate) name: String,
    #[prost(message, repeated, tag = "3")]
    pub(crate) attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Status {
    #[prost(string, tag = "2")]
    pub(crate) message: String,
    #[prost(int32, tag = "3")]
    pub(crate) code: i32,
}

pub(crate) const SPAN_KIND_INTERNAL: i32 = 1;
pub(crate) const SPAN_KIND_CLIENT: i32 = 3;
pub(crate) const STATUS_CODE_ERROR: i32 = 2;
/// `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK` (0x100), with `IS_REMOTE` (0x200) when the parent
/// came from another process, and the W3C sampled bit.
pub(crate) const FLAGS_SAMPLED: u32 = 0x01;
pub(crate) const FLAGS_HAS_IS_REMOTE: u32 = 0x100;
pub(crate) const FLAGS_IS_REMOTE: u32 = 0x200;

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct KeyValue {
    #[prost(string, tag = "1")]
    pub(crate) key: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<AnyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AnyValue {
    #[prost(oneof = "any_value::Value", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub(crate) value: Option<any_value::Value>,
}

pub(crate) mod any_value {
    // The variant names are the `.proto` file's field names.
    #[allow(clippy::enum_variant_names)]
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Value {
        #[prost(string, tag = "1")]
        StringValue(String),
        #[prost(bool, tag = "2")]
        BoolValue(bool),
        #[prost(int64, tag = "3")]
        IntValue(i64),
        #[prost(double, tag = "4")]
        DoubleValue(f64),
        #[prost(message, tag = "5")]
        ArrayValue(super::ArrayValue),
        #[prost(message, tag = "6")]
        KvlistValue(super::KeyValueList),
        #[prost(bytes, tag = "7")]
        BytesValue(Vec<u8>),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ArrayValue {
    #[prost(message, repeated, tag = "1")]
    pub(crate) values: Vec<AnyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct KeyValueList {
    #[prost(message, repeated, tag = "1")]
    pub(crate) values: Vec<KeyValue>,
}

impl KeyValue {
    pub(crate) fn new(key: &str, value: any_value::Value) -> Self {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
        }
    }
}

// ---- OTLP/JSON ----------------------------------------------------------------------------

/// The request in the OTLP/JSON mapping: lowerCamelCase keys, trace and span ids as hex (not
/// base64), enums as integers, 64-bit integers as decimal strings, default values omitted.
pub(crate) fn to_json(req: &ExportTraceServiceRequest) -> Value {
    json!({ "resourceSpans": req.resource_spans.iter().map(resource_spans_json).collect::<Vec<_>>() })
}

fn resource_spans_json(rs: &ResourceSpans) -> Value {
    let mut m = Map::new();
    if let Some(r) = &rs.resource {
        m.insert(
            "resource".into(),
            json!({ "attributes": kvs_json(&r.attributes) }),
        );
    }
    let scopes: Vec<Value> = rs
        .scope_spans
        .iter()
        .map(|ss| {
            let mut s = Map::new();
            if let Some(scope) = &ss.scope {
                s.insert(
                    "scope".into(),
                    json!({ "name": scope.name, "version": scope.version }),
                );
            }
            s.insert("spans".into(), ss.spans.iter().map(span_json).collect());
            Value::Object(s)
        })
        .collect();
    m.insert("scopeSpans".into(), scopes.into());
    Value::Object(m)
}

fn span_json(s: &Span) -> Value {
    let mut m = Map::new();
    m.insert("traceId".into(), hex(&s.trace_id).into());
    m.insert("spanId".into(), hex(&s.span_id).into());
    if !s.trace_state.is_empty() {
        m.insert("traceState".into(), s.trace_state.clone().into());
    }
    if !s.parent_span_id.is_empty() {
        m.insert("parentSpanId".into(), hex(&s.parent_span_id).into());
    }
    if s.flags != 0 {
        m.insert("flags".into(), s.flags.into());
    }
    m.insert("name".into(), s.name.clone().into());
    m.insert("kind".into(), s.kind.into());
    m.insert(
        "startTimeUnixNano".into(),
        s.start_time_unix_nano.to_string().into(),
    );
    m.insert(
        "endTimeUnixNano".into(),
        s.end_time_unix_nano.to_string().into(),
    );
    if !s.attributes.is_empty() {
        m.insert("attributes".into(), kvs_json(&s.attributes));
    }
    if !s.events.is_empty() {
        let events: Vec<Value> = s
            .events
            .iter()
            .map(|e| {
                let mut ev = Map::new();
                ev.insert("timeUnixNano".into(), e.time_unix_nano.to_string().into());
                ev.insert("name".into(), e.name.clone().into());
                if !e.attributes.is_empty() {
                    ev.insert("attributes".into(), kvs_json(&e.attributes));
                }
                Value::Object(ev)
            })
            .collect();
        m.insert("events".into(), events.into());
    }
    if let Some(st) = &s.status {
        let mut sm = Map::new();
        if !st.message.is_empty() {
            sm.insert("message".into(), st.message.clone().into());
        }
        if st.code != 0 {
            sm.insert("code".into(), st.code.into());
        }
        m.insert("status".into(), Value::Object(sm));
    }
    Value::Object(m)
}

fn kvs_json(kvs: &[KeyValue]) -> Value {
    kvs.iter()
        .map(|kv| json!({ "key": kv.key, "value": any_json(kv.value.as_ref()) }))
        .collect()
}

fn any_json(v: Option<&AnyValue>) -> Value {
    use any_value::Value as V;
    match v.and_then(|v| v.value.as_ref()) {
        None => json!({}),
        Some(V::StringValue(s)) => json!({ "stringValue": s }),
        Some(V::BoolValue(b)) => json!({ "boolValue": b }),
        Some(V::IntValue(i)) => json!({ "intValue": i.to_string() }),
        // JSON has no NaN or infinity; the proto3 JSON mapping spells them as strings.
        Some(V::DoubleValue(d)) if d.is_nan() => json!({ "doubleValue": "NaN" }),
        Some(V::DoubleValue(d)) if d.is_infinite() => {
            json!({ "doubleValue": if *d > 0.0 { "Infinity" } else { "-Infinity" } })
        }
        Some(V::DoubleValue(d)) => json!({ "doubleValue": d }),
        Some(V::ArrayValue(a)) => {
            json!({ "arrayValue": { "values": a.values.iter().map(|x| any_json(Some(x))).collect::<Vec<_>>() } })
        }
        Some(V::KvlistValue(l)) => json!({ "kvlistValue": { "values": kvs_json(&l.values) } }),
        Some(V::BytesValue(b)) => json!({ "bytesValue": base64(b) }),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }
}
