//! The OpenTelemetry exporter (cargo feature `otlp`): finished traces as OTLP/HTTP, in
//! protobuf (the default) or JSON, with the GenAI semantic conventions.
//!
//! It reads the standard variables and nothing of the application's own OpenTelemetry set-up:
//! no global tracer provider is installed, replaced or flushed, so an application that already
//! uses the `opentelemetry` crates keeps its pipeline exactly as it was.

pub(crate) mod exporter;
pub(crate) mod map;
pub(crate) mod proto;
pub(crate) mod semconv;

use std::time::Duration;

use prost::Message as _;

use crate::error::Error;
use crate::record::FinishedTrace;
use proto::{
    ExportTraceServiceRequest, InstrumentationScope, KeyValue, Resource, ResourceSpans, ScopeSpans,
    any_value::Value as V,
};

/// The OTLP/HTTP encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// `http/protobuf`: `application/x-protobuf`, the default every collector accepts.
    HttpProtobuf,
    /// `http/json`: `application/json`.
    HttpJson,
}

impl OtlpProtocol {
    /// The `Content-Type` of a request in this encoding.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            OtlpProtocol::HttpProtobuf => "application/x-protobuf",
            OtlpProtocol::HttpJson => "application/json",
        }
    }
}

/// The compression of OTLP/HTTP request bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpCompression {
    /// Bodies sent as they are (the default, as the OTLP exporter spec says).
    None,
    /// Bodies gzipped, with `Content-Encoding: gzip`: every collector accepts it, and spans
    /// that carry prompts and answers shrink several times over.
    Gzip,
}

/// Settings of the OpenTelemetry exporter, from the standard `OTEL_*` variables or code.
///
/// Its `Debug` shows header names, never their values (they are usually credentials).
#[derive(Clone)]
pub struct OtlpConfig {
    pub(crate) endpoint: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) protocol: OtlpProtocol,
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) options: map::MapOptions,
    pub(crate) max_request_bytes: usize,
    pub(crate) timeout: Duration,
    pub(crate) compression: OtlpCompression,
    /// Plain `http://` to a host that is not loopback is allowed with headers.
    pub(crate) allow_insecure_http: bool,
    /// Settings from the environment that were ignored, reported when the exporter starts.
    pub(crate) warnings: Vec<String>,
}

impl std::fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("OtlpConfig")
            .field("endpoint", &crate::diag::without_userinfo(&self.endpoint))
            .field("headers", &headers)
            .field("protocol", &self.protocol)
            .field("resource", &self.resource)
            .field("options", &self.options)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish_non_exhaustive()
    }
}

/// The OTLP exporter spec's default for `OTEL_EXPORTER_OTLP_TIMEOUT`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default traces endpoint of a local collector.
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4318/v1/traces";

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            endpoint: DEFAULT_OTLP_ENDPOINT.to_owned(),
            headers: Vec::new(),
            protocol: OtlpProtocol::HttpProtobuf,
            resource: vec![(semconv::SERVICE_NAME.to_owned(), default_service_name())],
            options: map::MapOptions {
                content: true,
                per_message_events: false,
                confident: false,
            },
            max_request_bytes: 4 * 1024 * 1024,
            timeout: DEFAULT_TIMEOUT,
            compression: OtlpCompression::None,
            allow_insecure_http: false,
            warnings: Vec::new(),
        }
    }
}

impl OtlpConfig {
    /// The settings the environment gives, or `None` when neither
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` nor `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set.
    ///
    /// A `_TRACES_` variable wins over its general form.
    ///
    /// | variable | meaning | default |
    /// | --- | --- | --- |
    /// | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | the traces URL, used as given | |
    /// | `OTEL_EXPORTER_OTLP_ENDPOINT` | a base URL; `v1/traces` is appended | `http://localhost:4318` (with the exporter chosen in code) |
    /// | `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TRACES_HEADERS` | `k=v,k2=v2` (values percent-decoded) | none |
    /// | `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` | `http/protobuf` or `http/json` (anything else is an error) | `http/protobuf` |
    /// | `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` | milliseconds one batch may take, retries included (a malformed value is reported and ignored) | `10000` |
    /// | `OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` | `gzip` or `none` (anything else is reported and ignored) | `none` |
    /// | `OTEL_SERVICE_NAME` | the resource's `service.name` | `unknown_service:<executable>` |
    /// | `OTEL_RESOURCE_ATTRIBUTES` | more resource attributes, `k=v,k2=v2` | none |
    /// | `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` | `false`: no content attributes on OTLP spans; a value other than true/false (1/0, yes/no, on/off) also turns them off, with a warning | `true` (when content capture is on) |
    /// | `OTEL_SEMCONV_STABILITY_OPT_IN`, `MODELMETRY_OTLP_OPT_IN` | comma-separated: `gen_ai_message_events` adds the per-message events deprecated in v1.37; `confident` adds Confident AI's `confident.*` attributes | none |
    pub fn from_env() -> Result<Option<OtlpConfig>, Error> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub(crate) fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<OtlpConfig>, Error> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let endpoint = match (
            get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            get("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(traces), _) => traces,
            (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
            (None, None) => return Ok(None),
        };
        let mut c = OtlpConfig {
            endpoint,
            ..OtlpConfig::default()
        };
        for var in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            if let Some(v) = get(var) {
                for (k, v) in parse_pairs(&v) {
                    c.headers.retain(|(old, _)| !old.eq_ignore_ascii_case(&k));
                    c.headers.push((k, v));
                }
            }
        }
        let protocol = get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| get("OTEL_EXPORTER_OTLP_PROTOCOL"));
        if let Some(p) = protocol {
            c.protocol = match p.as_str() {
                "http/protobuf" => OtlpProtocol::HttpProtobuf,
                "http/json" => OtlpProtocol::HttpJson,
                other => {
                    return Err(Error::Config {
                        setting: "OTEL_EXPORTER_OTLP_PROTOCOL",
                        reason: format!(
                            "`{other}` is not supported; use http/protobuf or http/json"
                        ),
                    });
                }
            };
        }
        let timeout = get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
            .map(|v| ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", v))
            .or_else(|| {
                get("OTEL_EXPORTER_OTLP_TIMEOUT").map(|v| ("OTEL_EXPORTER_OTLP_TIMEOUT", v))
            });
        if let Some((var, v)) = timeout {
            match v.parse::<u64>() {
                Ok(ms) if ms > 0 => c.timeout = Duration::from_millis(ms),
                _ => c.warnings.push(format!(
                    "{var}=`{v}` is not a positive number of milliseconds; using {} ms",
                    DEFAULT_TIMEOUT.as_millis()
                )),
            }
        }
        let compression = get("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION")
            .map(|v| ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", v))
            .or_else(|| {
                get("OTEL_EXPORTER_OTLP_COMPRESSION").map(|v| ("OTEL_EXPORTER_OTLP_COMPRESSION", v))
            });
        if let Some((var, v)) = compression {
            match v.to_ascii_lowercase().as_str() {
                "gzip" => c.compression = OtlpCompression::Gzip,
                "none" => c.compression = OtlpCompression::None,
                _ => c.warnings.push(format!(
                    "{var}=`{v}` is not supported (gzip or none); sending uncompressed"
                )),
            }
        }
        if let Some(attrs) = get("OTEL_RESOURCE_ATTRIBUTES") {
            for (k, v) in parse_pairs(&attrs) {
                c.resource.retain(|(old, _)| *old != k);
                c.resource.push((k, v));
            }
        }
        if let Some(name) = get("OTEL_SERVICE_NAME") {
            c.resource.retain(|(k, _)| k != semconv::SERVICE_NAME);
            c.resource
                .insert(0, (semconv::SERVICE_NAME.to_owned(), name));
        }
        if let Some(v) = get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT") {
            match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => c.options.content = true,
                "false" | "0" | "no" | "off" => c.options.content = false,
                _ => {
                    // A privacy switch fails closed: an unreadable value writes no content.
                    c.options.content = false;
                    c.warnings.push(format!(
                        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=`{v}` is not a \
                         boolean (true or false); no content attributes are written"
                    ));
                }
            }
        }
        for var in ["OTEL_SEMCONV_STABILITY_OPT_IN", "MODELMETRY_OTLP_OPT_IN"] {
            for token in get(var).unwrap_or_default().split(',').map(str::trim) {
                match token {
                    "gen_ai_message_events" => c.options.per_message_events = true,
                    "confident" => c.options.confident = true,
                    _ => {}
                }
            }
        }
        Ok(Some(c))
    }

    /// The traces URL (default `http://localhost:4318/v1/traces`).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = url.into();
        self
    }

    /// Allow a plain `http://` endpoint that is not loopback while headers are configured
    /// (default `false`, as with [`Config::allow_insecure_http`](crate::Config::allow_insecure_http),
    /// which allows it too): the headers (a token, usually) would travel in clear. Without
    /// headers, plain `http://` is always allowed (a collector on a private network).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Add a request header (an authentication token, for example). Its value never shows in
    /// `Debug` or in diagnostics; a value with a control character (a newline) is refused by
    /// `init`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The encoding (default protobuf).
    pub fn protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The resource's `service.name`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.resource.retain(|(k, _)| k != semconv::SERVICE_NAME);
        self.resource
            .insert(0, (semconv::SERVICE_NAME.to_owned(), name.into()));
        self
    }

    /// Write content attributes (default: yes, when content capture is on).
    pub fn content(mut self, on: bool) -> Self {
        self.options.content = on;
        self
    }

    /// Also write the per-message events deprecated in GenAI conventions v1.37.
    pub fn per_message_events(mut self, on: bool) -> Self {
        self.options.per_message_events = on;
        self
    }

    /// Also write Confident AI's `confident.*` attributes.
    pub fn confident(mut self, on: bool) -> Self {
        self.options.confident = on;
        self
    }

    /// How long one batch may take, retries included (default 10 s, as the OTLP exporter
    /// spec says): a collector that hangs costs at most this, not the whole export deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Compress request bodies (default none).
    pub fn compression(mut self, compression: OtlpCompression) -> Self {
        self.compression = compression;
        self
    }

    /// The most bytes in one request (default 4 MiB; collectors commonly accept up to 64 MiB).
    /// A larger request is split in half, down to single spans.
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes.max(1024);
        self
    }

    /// The OTLP spans of one trace.
    pub(crate) fn spans(&self, trace: &FinishedTrace) -> Vec<proto::Span> {
        let options = map::MapOptions {
            content: self.options.content && crate::capture::content_enabled(),
            ..self.options
        };
        map::spans(trace, options)
    }

    /// The request carrying `spans`, with this exporter's resource and scope.
    pub(crate) fn request(&self, spans: Vec<proto::Span>) -> ExportTraceServiceRequest {
        let mut resource: Vec<KeyValue> = self
            .resource
            .iter()
            .map(|(k, v)| KeyValue::new(k, V::StringValue(v.clone())))
            .collect();
        for (k, v) in [
            (semconv::TELEMETRY_SDK_NAME, "modelmetry"),
            (semconv::TELEMETRY_SDK_LANGUAGE, "rust"),
            (semconv::TELEMETRY_SDK_VERSION, env!("CARGO_PKG_VERSION")),
        ] {
            resource.push(KeyValue::new(k, V::StringValue(v.to_owned())));
        }
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: resource,
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "modelmetry".to_owned(),
                        version: env!("CARGO_PKG_VERSION").to_owned(),
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    /// The request body for `spans`, in this exporter's encoding.
    pub(crate) fn encode_spans(&self, spans: Vec<proto::Span>) -> Vec<u8> {
        let req = self.request(spans);
        match self.protocol {
            OtlpProtocol::HttpProtobuf => req.encode_to_vec(),
            OtlpProtocol::HttpJson => proto::to_json(&req).to_string().into_bytes(),
        }
    }

    /// The request body for `traces` and its content type (the encoding tests read it back).
    #[cfg(test)]
    pub(crate) fn encode(&self, traces: &[FinishedTrace]) -> (Vec<u8>, &'static str) {
        let spans = traces.iter().flat_map(|t| self.spans(t)).collect();
        (self.encode_spans(spans), self.protocol.content_type())
    }
}

fn default_service_name() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    format!(
        "unknown_service:{}",
        exe.unwrap_or_else(|| "rust".to_owned())
    )
}

/// `k=v,k2=v2` with percent-encoded values (the W3C Baggage format the OTel variables use).
/// Malformed members are skipped.
fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|member| {
            let (k, v) = member.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_owned(), percent_decode(v.trim())))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Result<Option<OtlpConfig>, Error> {
        OtlpConfig::from_lookup(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn endpoints_follow_the_spec() {
        assert!(env(&[]).expect("ok").is_none());
        let c = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")])
            .expect("ok")
            .expect("some");
        assert_eq!(c.endpoint, "http://collector:4318/v1/traces");
        let c = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other/custom"),
        ])
        .expect("ok")
        .expect("some");
        assert_eq!(c.endpoint, "http://other/custom");
    }

    #[test]
    fn headers_resource_and_protocol() {
        let c = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b,broken,x=1"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_SERVICE_NAME", "chatbot"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=ignored,deployment.environment=prod",
            ),
            ("MODELMETRY_OTLP_OPT_IN", "confident, gen_ai_message_events"),
        ])
        .expect("ok")
        .expect("some");
        assert_eq!(
            c.headers,
            vec![("api-key".into(), "a b".into()), ("x".into(), "1".into())]
        );
        assert_eq!(c.protocol, OtlpProtocol::HttpJson);
        assert_eq!(c.resource[0], ("service.name".into(), "chatbot".into()));
        assert!(
            c.resource
                .contains(&("deployment.environment".into(), "prod".into()))
        );
        assert!(c.options.confident && c.options.per_message_events);
        let e = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        assert!(e.is_err());
    }

    #[test]
    fn timeout_and_compression_with_their_traces_forms_first() {
        let c = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c")])
            .expect("ok")
            .expect("some");
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.compression, OtlpCompression::None);
        assert!(c.warnings.is_empty());
        let c = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ])
        .expect("ok")
        .expect("some");
        assert_eq!(c.timeout, Duration::from_millis(2500));
        assert_eq!(c.compression, OtlpCompression::Gzip);
        let c = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "300"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none"),
        ])
        .expect("ok")
        .expect("some");
        assert_eq!(c.timeout, Duration::from_millis(300));
        assert_eq!(c.compression, OtlpCompression::None);
    }

    #[test]
    fn unsupported_timeout_and_compression_are_warned_about_and_ignored() {
        let c = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10s"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
        ])
        .expect("ok")
        .expect("some");
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.compression, OtlpCompression::None);
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=`10s`"));
        assert!(c.warnings[1].contains("OTEL_EXPORTER_OTLP_COMPRESSION=`zstd`"));
    }

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%2Cb%"), "a,b%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}

#[cfg(test)]
mod encoding_tests {
    //! Our OTLP bytes, read back by `opentelemetry-proto` (prost for protobuf, serde for JSON).

    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Instant;

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as TheirRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as TheirValue;
    use opentelemetry_proto::tonic::trace::v1::Span as TheirSpan;
    use prost::Message as _;

    use super::*;
    use crate::config::{Config, Delivery};
    use crate::export::{Exporter, Settle, Tally};
    use crate::{Finding, Kind, Message, Usage};

    type Encoded = (Vec<u8>, &'static str);

    struct Keep(OtlpConfig, Arc<Mutex<Vec<Encoded>>>);

    impl Exporter for Keep {
        fn export(&self, traces: &[FinishedTrace], _: Instant, _: &dyn Settle) -> Tally {
            self.1
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(self.0.encode(traces));
            Tally {
                sent: traces.iter().map(FinishedTrace::record_count).sum(),
                ..Tally::default()
            }
        }
    }

    fn record(otlp: OtlpConfig) -> Encoded {
        let _lock = crate::testing::lock();
        let out = Arc::new(Mutex::new(Vec::new()));
        let guard = crate::client::install_exporter(
            Config::default().delivery(Delivery::Synchronous),
            Some(Box::new(Keep(otlp, out.clone()))),
        );
        {
            let trace = crate::start_trace("chatbot.turn");
            trace.set_session_id("conv-1");
            trace.set_user_id("u-1");
            let llm = crate::start_span("llm.generate", Kind::Llm);
            llm.set_model("gpt-4o");
            llm.set_provider("openai");
            llm.set_messages(vec![
                Message::system("be brief"),
                Message::user("hi"),
                Message::assistant("hello"),
            ]);
            llm.set_usage(Usage::tokens(12, 3));
            Finding::new("response_safe_score", 0.93)
                .comment("fine")
                .record();
            Finding::new("verdict", "pass").record();
            crate::Event::new("retry").with("attempt", &2).record();
            {
                let tool = crate::start_span("get_order", Kind::Tool);
                tool.set_input(&serde_json::json!({"id": 7}));
                tool.record_error(&"not found");
            }
            drop(llm);
            drop(trace);
        }
        drop(guard);
        let mut v = out.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(v.len(), 1);
        v.remove(0)
    }

    fn attr<'a>(span: &'a TheirSpan, key: &str) -> Option<&'a TheirValue> {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    fn string(v: Option<&TheirValue>) -> Option<&str> {
        match v {
            Some(TheirValue::StringValue(s)) => Some(s),
            _ => None,
        }
    }

    fn check(req: &TheirRequest) {
        let rs = &req.resource_spans[0];
        let resource = rs.resource.as_ref().expect("resource");
        assert!(
            resource
                .attributes
                .iter()
                .any(|kv| kv.key == "service.name")
        );
        let spans = &rs.scope_spans[0].spans;
        assert_eq!(spans.len(), 3);
        let root = &spans[0];
        let llm = spans
            .iter()
            .find(|s| s.name == "chat gpt-4o")
            .expect("llm span named by the conventions");
        let tool = spans
            .iter()
            .find(|s| s.name == "execute_tool get_order")
            .expect("tool span");
        assert!(root.parent_span_id.is_empty());
        assert_eq!(llm.parent_span_id, root.span_id);
        assert_eq!(tool.parent_span_id, llm.span_id);
        assert!(
            spans
                .iter()
                .all(|s| s.trace_id == root.trace_id && s.trace_id.len() == 16)
        );
        assert!(
            llm.start_time_unix_nano >= root.start_time_unix_nano
                && llm.end_time_unix_nano <= root.end_time_unix_nano
        );
        assert_eq!(llm.kind, 3, "CLIENT");
        assert_eq!(string(attr(root, "gen_ai.conversation.id")), Some("conv-1"));
        assert_eq!(string(attr(llm, "gen_ai.operation.name")), Some("chat"));
        assert_eq!(string(attr(llm, "gen_ai.provider.name")), Some("openai"));
        assert_eq!(
            attr(llm, "gen_ai.usage.input_tokens"),
            Some(&TheirValue::IntValue(12))
        );
        let input = string(attr(llm, "gen_ai.input.messages")).expect("input messages");
        assert_eq!(
            input,
            r#"[{"parts":[{"content":"hi","type":"text"}],"role":"user"}]"#
        );
        let output = string(attr(llm, "gen_ai.output.messages")).expect("output messages");
        assert!(output.contains(r#""finish_reason":"stop""#), "{output}");
        assert!(
            string(attr(llm, "gen_ai.system_instructions")).is_some_and(|s| s.contains("be brief"))
        );
        let evals: Vec<_> = llm
            .events
            .iter()
            .filter(|e| e.name == "gen_ai.evaluation.result")
            .collect();
        assert_eq!(evals.len(), 2);
        let score = evals[0]
            .attributes
            .iter()
            .find(|kv| kv.key == "gen_ai.evaluation.score.value");
        assert_eq!(
            score
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| v.value.clone()),
            Some(TheirValue::DoubleValue(0.93))
        );
        assert!(llm.events.iter().any(|e| e.name == "retry"));
        assert_eq!(tool.status.as_ref().map(|s| s.code), Some(2), "ERROR");
        assert_eq!(string(attr(tool, "error.type")), Some("_OTHER"));
        assert_eq!(
            string(attr(tool, "gen_ai.tool.call.arguments")),
            Some(r#"{"id":7}"#)
        );
    }

    #[test]
    fn protobuf_decodes_with_opentelemetry_proto() {
        let (bytes, content_type) = record(OtlpConfig::default());
        assert_eq!(content_type, "application/x-protobuf");
        let req =
            TheirRequest::decode(bytes.as_slice()).expect("their prost types decode our bytes");
        check(&req);
    }

    #[test]
    fn json_deserialises_with_opentelemetry_proto() {
        let (bytes, content_type) = record(OtlpConfig::default().protocol(OtlpProtocol::HttpJson));
        assert_eq!(content_type, "application/json");
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        assert!(!text.contains("\"traceId\":\"\""), "{text}");
        let raw: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        let trace_id = raw["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
            .as_str()
            .expect("hex id");
        assert_eq!(trace_id.len(), 32);
        assert!(trace_id.bytes().all(|b| b.is_ascii_hexdigit()));
        let req: TheirRequest =
            serde_json::from_slice(&bytes).expect("their serde types read our JSON");
        check(&req);
    }

    #[test]
    fn content_off_writes_no_content() {
        let (bytes, _) = record(OtlpConfig::default().content(false));
        let req = TheirRequest::decode(bytes.as_slice()).expect("decodes");
        for span in &req.resource_spans[0].scope_spans[0].spans {
            for key in [
                "gen_ai.input.messages",
                "gen_ai.output.messages",
                "gen_ai.tool.call.arguments",
                "gen_ai.system_instructions",
            ] {
                assert!(attr(span, key).is_none(), "{key} on {}", span.name);
            }
        }
    }

    #[test]
    fn profiles_add_their_attributes_and_events() {
        let (bytes, _) = record(
            OtlpConfig::default()
                .confident(true)
                .per_message_events(true),
        );
        let req = TheirRequest::decode(bytes.as_slice()).expect("decodes");
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        let llm = spans.iter().find(|s| s.name == "chat gpt-4o").expect("llm");
        assert_eq!(string(attr(llm, "confident.span.type")), Some("llm"));
        assert_eq!(string(attr(llm, "confident.llm.model")), Some("gpt-4o"));
        let names: Vec<&str> = llm.events.iter().map(|e| e.name.as_str()).collect();
        for n in [
            "gen_ai.system.message",
            "gen_ai.user.message",
            "gen_ai.choice",
        ] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        assert_eq!(
            string(attr(&spans[0], "confident.trace.thread_id")),
            Some("conv-1")
        );
        let tool = spans
            .iter()
            .find(|s| s.name.starts_with("execute_tool"))
            .expect("tool");
        assert_eq!(string(attr(tool, "confident.tool.name")), Some("get_order"));
    }
}
