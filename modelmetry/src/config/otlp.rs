//! Settings of the OpenTelemetry exporter (cargo feature `otlp`): [`OtlpConfig`], from the
//! standard `OTEL_*` variables or code. The exporter itself (`export/otlp/`) reads them; they
//! live here, with the rest of the configuration, so that config imports nothing above it.

use std::time::Duration;

use crate::error::Error;

/// The resource attribute `OTEL_SERVICE_NAME` sets (every other OpenTelemetry name the
/// exporter writes is in `export/otlp/semconv.rs`).
pub(crate) const SERVICE_NAME: &str = "service.name";

/// What the OTLP mapping writes beyond the defaults.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MapOptions {
    /// Write the content attributes (messages, tool arguments and results, queries, documents,
    /// inputs and outputs). Off, the spans keep their structure, models and usage only.
    pub(crate) content: bool,
    /// Also write the per-message events deprecated in v1.37 (`gen_ai.user.message`, …).
    pub(crate) per_message_events: bool,
    /// Also write Confident AI's `confident.*` attributes.
    pub(crate) confident: bool,
}

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
    pub(crate) options: MapOptions,
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
            resource: vec![(SERVICE_NAME.to_owned(), default_service_name())],
            options: MapOptions {
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
            c.resource.retain(|(k, _)| k != SERVICE_NAME);
            c.resource.insert(0, (SERVICE_NAME.to_owned(), name));
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
        self.resource.retain(|(k, _)| k != SERVICE_NAME);
        self.resource
            .insert(0, (SERVICE_NAME.to_owned(), name.into()));
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
