//! [`Config`]: every setting, from code or from the environment.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::redact::RedactHook;

/// Where finished traces go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExporterKind {
    /// Print each trace to stderr as an indented tree. The default without an API key.
    Console,
    /// Send to the Modelmetry ingest API. The default with an API key.
    Http,
    /// Send to an OpenTelemetry collector or backend over OTLP/HTTP (cargo feature `otlp`;
    /// see [`OtlpConfig`](crate::OtlpConfig)). Added to the default exporter when
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set.
    Otlp,
    /// Record nothing: a span costs an atomic load and a test. For tests and for turning tracing off.
    None,
}

impl ExporterKind {
    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "console" | "stderr" => Some(ExporterKind::Console),
            "http" | "modelmetry" => Some(ExporterKind::Http),
            "otlp" | "opentelemetry" => Some(ExporterKind::Otlp),
            "none" | "off" | "disabled" => Some(ExporterKind::None),
            _ => None,
        }
    }
}

/// When finished traces are exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// A background thread exports batches every [`flush_interval`](Config::flush_interval),
    /// or sooner when the buffer is a quarter full. Closing a trace only moves it to a buffer: no network
    /// on the application's path. The default.
    Background,
    /// Each trace is exported on the thread that closes it, before the closing returns. For
    /// command-line tools and batch jobs that want every trace out before they go on.
    Synchronous,
}

/// The API key, kept out of every `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ApiKey(String);

impl ApiKey {
    /// A secret header value (an API key, a collector token).
    #[cfg(feature = "otlp")]
    pub(crate) fn new(value: String) -> Self {
        ApiKey(value)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// A callback for the SDK's diagnostics (a refused batch, a dropped finding, …).
pub(crate) type ErrorHook = Arc<dyn Fn(&str) + Send + Sync>;

/// The SDK's settings. Start from [`Config::from_env`] (or [`Config::default`]), adjust in
/// code, then [`init`](Config::init).
///
/// ```no_run
/// use std::time::Duration;
/// let _guard = modelmetry::Config::from_env()
///     .api_key("mm_...")
///     .flush_interval(Duration::from_millis(500))
///     .init()?;
/// # Ok::<(), modelmetry::Error>(())
/// ```
///
/// The environment:
///
/// | variable | setting | default |
/// | --- | --- | --- |
/// | `MODELMETRY_API_KEY` | [`api_key`](Config::api_key) | none |
/// | `MODELMETRY_BASE_URL` | [`base_url`](Config::base_url) | `https://api.modelmetry.com` |
/// | `MODELMETRY_EXPORTER` | [`exporters`](Config::exporters): `console`, `http`, `otlp`, `none`, or a list (`http,otlp`) | `http` with a key, else `console`; plus `otlp` when `OTEL_EXPORTER_OTLP_ENDPOINT` is set |
/// | `MODELMETRY_DELIVERY` | [`delivery`](Config::delivery): `background`, `sync` | `background` |
/// | `MODELMETRY_CAPTURE_CONTENT` | [`capture_content`](Config::capture_content) | `true` |
/// | `MODELMETRY_FLUSH_INTERVAL_MS` | [`flush_interval`](Config::flush_interval) | 1000 |
/// | `MODELMETRY_ALLOW_INSECURE_HTTP` | [`allow_insecure_http`](Config::allow_insecure_http) | `false` |
/// | `MODELMETRY_SPOOL_DIR` | [`spool_dir`](Config::spool_dir) | none (spool off) |
/// | `MODELMETRY_SPOOL_MAX_BYTES` | [`max_spool_bytes`](Config::max_spool_bytes) | 64 MiB |
/// | `MODELMETRY_DEBUG` | [`debug`](Config::debug) | `false` |
#[derive(Clone)]
pub struct Config {
    pub(crate) api_key: Option<ApiKey>,
    pub(crate) base_url: String,
    pub(crate) exporters: Option<Vec<ExporterKind>>,
    #[cfg(feature = "otlp")]
    pub(crate) otlp: Option<crate::OtlpConfig>,
    pub(crate) delivery: Delivery,
    pub(crate) flush_interval: Duration,
    pub(crate) max_batch_records: usize,
    pub(crate) max_batch_bytes: usize,
    pub(crate) max_buffer_records: u64,
    pub(crate) max_buffer_bytes: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) export_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) capture_content: bool,
    pub(crate) max_value_bytes: usize,
    pub(crate) max_record_bytes: usize,
    pub(crate) allow_insecure_http: bool,
    pub(crate) spool_dir: Option<PathBuf>,
    pub(crate) max_spool_bytes: u64,
    pub(crate) debug: bool,
    pub(crate) on_error: Option<ErrorHook>,
    pub(crate) redact: Option<RedactHook>,
    /// Problems found while reading the environment, reported by `init`.
    pub(crate) env_errors: Vec<Error>,
}

/// The default per-record limit: half a request, so a batch still packs more than one record.
const DEFAULT_MAX_RECORD_BYTES: usize = 512 * 1024;

/// The smallest per-record limit: room for a record's ids, times and the truncation marker.
const MIN_RECORD_BYTES: usize = 4096;

/// The default base URL of the Modelmetry API.
pub const DEFAULT_BASE_URL: &str = "https://api.modelmetry.com";

impl Default for Config {
    fn default() -> Self {
        Config {
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            exporters: None,
            #[cfg(feature = "otlp")]
            otlp: None,
            delivery: Delivery::Background,
            flush_interval: Duration::from_secs(1),
            max_batch_records: 1000,
            max_batch_bytes: 1024 * 1024,
            max_buffer_records: 100_000,
            max_buffer_bytes: 64 * 1024 * 1024,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            export_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(5),
            capture_content: true,
            max_value_bytes: crate::capture::DEFAULT_MAX_VALUE_BYTES,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            allow_insecure_http: false,
            spool_dir: None,
            max_spool_bytes: 64 * 1024 * 1024,
            debug: false,
            on_error: None,
            redact: None,
            env_errors: Vec::new(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("exporters", &self.exporter_kinds())
            .field("delivery", &self.delivery)
            .field("flush_interval", &self.flush_interval)
            .field("max_batch_records", &self.max_batch_records)
            .field("max_batch_bytes", &self.max_batch_bytes)
            .field("max_buffer_records", &self.max_buffer_records)
            .field("max_buffer_bytes", &self.max_buffer_bytes)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("export_timeout", &self.export_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("capture_content", &self.capture_content)
            .field("max_value_bytes", &self.max_value_bytes)
            .field("max_record_bytes", &self.max_record_bytes)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("spool_dir", &self.spool_dir)
            .field("max_spool_bytes", &self.max_spool_bytes)
            .field("debug", &self.debug)
            .field("redact", &self.redact.is_some())
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The defaults, overridden by the `MODELMETRY_*` environment variables (see the table
    /// above). An invalid value is kept aside and reported by [`init`](Config::init).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let mut c = Config::default();
        let present = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if let Some(key) = present("MODELMETRY_API_KEY") {
            c.api_key = Some(ApiKey(key));
        }
        if let Some(url) = present("MODELMETRY_BASE_URL") {
            c.base_url = url;
        }
        if let Some(v) = present("MODELMETRY_EXPORTER") {
            let kinds: Option<Vec<ExporterKind>> = v.split(',').map(ExporterKind::parse).collect();
            match kinds {
                Some(kinds) if !kinds.is_empty() => c.exporters = Some(kinds),
                _ => c.env_errors.push(Error::Config {
                    setting: "MODELMETRY_EXPORTER",
                    reason: format!(
                        "`{v}` is not a comma-separated list of console, http, otlp, none"
                    ),
                }),
            }
        }
        #[cfg(feature = "otlp")]
        match crate::OtlpConfig::from_lookup(&get) {
            Ok(otlp) => c.otlp = otlp,
            Err(e) => c.env_errors.push(e),
        }
        if let Some(v) = present("MODELMETRY_DELIVERY") {
            match v.to_ascii_lowercase().as_str() {
                "background" | "batch" => c.delivery = Delivery::Background,
                "sync" | "synchronous" => c.delivery = Delivery::Synchronous,
                _ => c.env_errors.push(Error::Config {
                    setting: "MODELMETRY_DELIVERY",
                    reason: format!("`{v}` is not one of background, sync"),
                }),
            }
        }
        for (name, slot) in [
            ("MODELMETRY_CAPTURE_CONTENT", &mut c.capture_content),
            ("MODELMETRY_ALLOW_INSECURE_HTTP", &mut c.allow_insecure_http),
            ("MODELMETRY_DEBUG", &mut c.debug),
        ] {
            if let Some(v) = present(name) {
                match parse_bool(&v) {
                    Some(b) => *slot = b,
                    None => c.env_errors.push(Error::Config {
                        setting: name,
                        reason: format!("`{v}` is not a boolean (true/false, 1/0, yes/no, on/off)"),
                    }),
                }
            }
        }
        if let Some(v) = present("MODELMETRY_FLUSH_INTERVAL_MS") {
            match v.parse::<u64>() {
                Ok(ms) if ms > 0 => c.flush_interval = Duration::from_millis(ms),
                _ => c.env_errors.push(Error::Config {
                    setting: "MODELMETRY_FLUSH_INTERVAL_MS",
                    reason: format!("`{v}` is not a positive number of milliseconds"),
                }),
            }
        }
        if let Some(dir) = present("MODELMETRY_SPOOL_DIR") {
            c.spool_dir = Some(PathBuf::from(dir));
        }
        if let Some(v) = present("MODELMETRY_SPOOL_MAX_BYTES") {
            match v.parse::<u64>() {
                Ok(bytes) if bytes > 0 => c.max_spool_bytes = bytes,
                _ => c.env_errors.push(Error::Config {
                    setting: "MODELMETRY_SPOOL_MAX_BYTES",
                    reason: format!("`{v}` is not a positive number of bytes"),
                }),
            }
        }
        c
    }

    /// The Modelmetry API key. Travels only in the `X-API-KEY` header; never printed.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey(key.into()));
        self
    }

    /// The API's base URL (default `https://api.modelmetry.com`). Plain `http://` is refused
    /// unless the host is loopback or [`allow_insecure_http`](Config::allow_insecure_http) is
    /// set: the key would travel in clear.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Where traces go (default: `Http` with an API key, `Console` without; plus `Otlp` when
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` is set).
    pub fn exporter(mut self, exporter: ExporterKind) -> Self {
        self.exporters = Some(vec![exporter]);
        self
    }

    /// Send every trace to each of these destinations (`MODELMETRY_EXPORTER=http,otlp`). The
    /// first is counted in [`stats`](crate::stats)'s main counters, the next in `also`.
    pub fn exporters(mut self, exporters: impl IntoIterator<Item = ExporterKind>) -> Self {
        self.exporters = Some(exporters.into_iter().collect());
        self
    }

    /// The OpenTelemetry exporter's settings (default: from the `OTEL_*` variables, see
    /// [`OtlpConfig::from_env`](crate::OtlpConfig::from_env)). Setting them also turns the
    /// exporter on next to the default one, unless [`exporter`](Config::exporter) says
    /// otherwise.
    #[cfg(feature = "otlp")]
    pub fn otlp(mut self, otlp: crate::OtlpConfig) -> Self {
        self.otlp = Some(otlp);
        self
    }

    /// When traces are exported (default [`Delivery::Background`]).
    pub fn delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// How often the background thread exports (default 1 s).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The most records in one request (default 1000).
    pub fn max_batch_records(mut self, records: usize) -> Self {
        self.max_batch_records = records.max(1);
        self
    }

    /// The most bytes of JSON in one request (default 1 MiB).
    pub fn max_batch_bytes(mut self, bytes: usize) -> Self {
        self.max_batch_bytes = bytes.max(1024);
        self
    }

    /// The most records waiting in the buffer (default 100,000). A trace that would pass it is
    /// dropped and counted.
    pub fn max_buffer_records(mut self, records: u64) -> Self {
        self.max_buffer_records = records.max(1);
        self
    }

    /// The most bytes (estimated JSON) waiting in the buffer (default 64 MiB). A trace that
    /// would pass it is dropped and counted.
    pub fn max_buffer_bytes(mut self, bytes: usize) -> Self {
        self.max_buffer_bytes = bytes.max(1024);
        self
    }

    /// How long to wait for a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest one request may take, from connecting to reading the answer (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The longest one background export may take, all requests included (default 30 s).
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = timeout;
        self
    }

    /// How long the [`Guard`](crate::Guard) waits for delivery when dropped (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Whether inputs, outputs, messages and documents are recorded (default `true`). Off,
    /// spans keep their structure, timings, models, usage, findings and metadata only.
    pub fn capture_content(mut self, on: bool) -> Self {
        self.capture_content = on;
        self
    }

    /// The most bytes of JSON one captured value (an input, an output, a metadata value) may
    /// take (default 256 KiB, at least 1 KiB). A larger value is cut as it is captured:
    /// strings end in `…`, arrays and maps keep their first entries, and nothing past the cap is
    /// copied, so a huge prompt costs no more memory than the cap. The cut is listed in the
    /// record's metadata under `modelmetry.truncated` (`{"field": "Metadata.input",
    /// "original_bytes": 5242880}`) and counted in [`Stats::truncated`](crate::Stats).
    pub fn max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes.max(1024);
        self
    }

    /// The most bytes of JSON one record (a trace, span, event, finding or session) may take
    /// when sent (default 512 KiB, at least 4 KiB, and never more than
    /// [`max_batch_bytes`](Config::max_batch_bytes) less the request's own brackets). A larger
    /// record is cut field by field, the largest strings first (inputs, outputs, messages,
    /// metadata), then whole fields, until it fits; it is never dropped. What was cut is listed
    /// in its metadata under `modelmetry.truncated` and counted in
    /// [`Stats::truncated`](crate::Stats).
    pub fn max_record_bytes(mut self, bytes: usize) -> Self {
        self.max_record_bytes = bytes.max(MIN_RECORD_BYTES);
        self
    }

    /// The per-record limit in force: [`max_record_bytes`](Config::max_record_bytes), within
    /// what one request can carry.
    pub(crate) fn record_limit(&self) -> usize {
        // `{"Sessions":[` … `]}`: the longest section key and its brackets.
        const ENVELOPE: usize = 16;
        self.max_record_bytes
            .min(self.max_batch_bytes.saturating_sub(ENVELOPE))
            .max(MIN_RECORD_BYTES)
    }

    /// Allow a plain `http://` base URL to a host that is not loopback (default `false`).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Keep batches that cannot be delivered in time (the backend is down, or shutdown ran out
    /// of time) in this directory, and send them on the next start or on
    /// [`replay_spool`](crate::replay_spool). Off by default. In background delivery each
    /// finished trace is redacted, encoded and appended to a journal there before the call
    /// that finished it returns (in synchronous delivery, each request is written there
    /// before it is sent), and removed once the server has answered for it: with the spool on
    /// nothing finished is lost when the process exits, is killed (`kill -9` included) or
    /// dies mid-send; a record may then arrive twice, with the same `XID`.
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
        self
    }

    /// The most bytes the spool directory may hold (default 64 MiB). Records that would pass
    /// it are dropped and counted (`stats().dropped.spool_full`).
    pub fn max_spool_bytes(mut self, bytes: u64) -> Self {
        self.max_spool_bytes = bytes.max(1);
        self
    }

    /// Report each request's payload (its first 4 KiB) through the diagnostics (default
    /// `false`). Payloads hold your users' prompts and answers: they are never logged
    /// otherwise. The API key is never logged.
    pub fn debug(mut self, on: bool) -> Self {
        self.debug = on;
        self
    }

    /// Receive the SDK's diagnostics (a refused batch and the server's detail, a dropped
    /// finding, …) instead of having them printed to stderr. Never given a payload or the key.
    pub fn on_error(mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(hook));
        self
    }

    /// Redact captured content before it leaves the process: `hook(path, value)` is called
    /// for every captured value of every finished trace (inputs, outputs, metadata, messages,
    /// options, documents, event metadata, findings' values, comments and descriptions,
    /// error messages, session and user ids, tags), before any exporter sees it. `path` names
    /// the value's place, e.g. `span.input`, `span.metadata.user_email`, `finding.comment`:
    ///
    /// | path | value |
    /// | --- | --- |
    /// | `trace.input`, `trace.output`, `span.input`, `span.output` | captured arguments and return values |
    /// | `trace.metadata.<key>`, `span.metadata.<key>`, `event.metadata.<key>`, `finding.metadata.<key>` | one metadata entry |
    /// | `trace.message`, `span.message` | an error's text, as a string |
    /// | `trace.session_id`, `trace.user_id`, `trace.tags` | the trace's ids (strings) and tags (array) |
    /// | `span.messages`, `span.options`, `span.documents`, `span.queries`, `span.embedding_inputs` | model-call content, as its wire JSON |
    /// | `finding.value`, `finding.comment`, `finding.description` | a finding's value and texts |
    ///
    /// Edit the value in place; `null` removes it (a finding's value becomes `""`). A typed
    /// value that loses its shape (messages that are no longer messages) is removed, not sent.
    /// The hook runs once per value when the trace is exported (on the flusher thread in
    /// background delivery): never on the application's path. If it panics, the trace is
    /// dropped and counted in [`Dropped::redaction_failed`](crate::Dropped::redaction_failed):
    /// nothing unredacted is exported.
    ///
    /// ```
    /// let config = modelmetry::Config::from_env().redact(|path, value| {
    ///     if path == "span.metadata.api_token" {
    ///         *value = "<redacted>".into();
    ///     }
    ///     // Scrub e-mail addresses wherever they are.
    ///     modelmetry::redact_strings(value, |s| {
    ///         if s.contains('@') {
    ///             *s = "<email>".to_owned();
    ///         }
    ///     });
    /// });
    /// # drop(config);
    /// ```
    pub fn redact(
        mut self,
        hook: impl Fn(&str, &mut serde_json::Value) + Send + Sync + 'static,
    ) -> Self {
        self.redact = Some(Arc::new(hook));
        self
    }

    /// True when the OpenTelemetry exporter was configured (in code or by `OTEL_*`).
    fn otlp_configured(&self) -> bool {
        #[cfg(feature = "otlp")]
        return self.otlp.is_some();
        #[cfg(not(feature = "otlp"))]
        false
    }

    /// The destinations, first one first; empty when tracing is off.
    pub(crate) fn exporter_kinds(&self) -> Vec<ExporterKind> {
        let mut kinds = match &self.exporters {
            Some(kinds) => kinds.clone(),
            None => {
                let first = if self.api_key.is_some() {
                    ExporterKind::Http
                } else {
                    ExporterKind::Console
                };
                let mut kinds = vec![first];
                if self.otlp_configured() {
                    kinds.push(ExporterKind::Otlp);
                }
                kinds
            }
        };
        if kinds.contains(&ExporterKind::None) {
            kinds.clear();
        }
        kinds.dedup();
        kinds
    }

    /// Check the settings; the first problem found is returned.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if let Some(e) = self.env_errors.first() {
            return Err(e.clone());
        }
        let kinds = self.exporter_kinds();
        if kinds.contains(&ExporterKind::Otlp) && cfg!(not(feature = "otlp")) {
            return Err(Error::Config {
                setting: "MODELMETRY_EXPORTER",
                reason: "the otlp exporter needs modelmetry's `otlp` cargo feature".to_owned(),
            });
        }
        if !kinds.contains(&ExporterKind::Http) {
            return Ok(());
        }
        if self.api_key.is_none() {
            return Err(Error::Config {
                setting: "MODELMETRY_API_KEY",
                reason: "the http exporter needs an API key".to_owned(),
            });
        }
        let url = self.base_url.trim();
        let (scheme, rest) = url.split_once("://").ok_or_else(|| Error::Config {
            setting: "MODELMETRY_BASE_URL",
            reason: format!("`{url}` is not an absolute http(s) URL"),
        })?;
        let host = host_of(rest);
        if host.is_empty() {
            return Err(Error::Config {
                setting: "MODELMETRY_BASE_URL",
                reason: format!("`{url}` has no host"),
            });
        }
        match scheme.to_ascii_lowercase().as_str() {
            "https" => Ok(()),
            "http" if is_loopback(host) || self.allow_insecure_http => Ok(()),
            "http" => Err(Error::Config {
                setting: "MODELMETRY_BASE_URL",
                reason: format!(
                    "plain http to `{host}` would send the API key in clear; use https, or set MODELMETRY_ALLOW_INSECURE_HTTP=true"
                ),
            }),
            other => Err(Error::Config {
                setting: "MODELMETRY_BASE_URL",
                reason: format!("unsupported scheme `{other}`"),
            }),
        }
    }

    /// The ingest endpoint: `{base}/signals/ingest/v1`.
    pub(crate) fn ingest_url(&self) -> String {
        format!(
            "{}/signals/ingest/v1",
            self.base_url.trim().trim_end_matches('/')
        )
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The host of `rest` (what follows `scheme://`), without user info, port or path.
fn host_of(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Config {
        Config::from_lookup(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_without_a_key_print_to_the_console() {
        let c = env(&[]);
        assert_eq!(c.exporter_kinds(), vec![ExporterKind::Console]);
        assert_eq!(
            c.ingest_url(),
            "https://api.modelmetry.com/signals/ingest/v1"
        );
        assert!(c.validate().is_ok());
    }

    #[test]
    fn a_key_selects_http() {
        let c = env(&[
            ("MODELMETRY_API_KEY", "k"),
            ("MODELMETRY_BASE_URL", "http://127.0.0.1:9/"),
        ]);
        assert_eq!(c.exporter_kinds(), vec![ExporterKind::Http]);
        assert_eq!(c.ingest_url(), "http://127.0.0.1:9/signals/ingest/v1");
        assert!(c.validate().is_ok());
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused() {
        let c = env(&[
            ("MODELMETRY_API_KEY", "k"),
            ("MODELMETRY_BASE_URL", "http://api.example.com"),
        ]);
        assert!(matches!(
            c.validate(),
            Err(Error::Config {
                setting: "MODELMETRY_BASE_URL",
                ..
            })
        ));
        let c = c.allow_insecure_http(true);
        assert!(c.validate().is_ok());
        for ok in [
            "http://localhost:8080",
            "http://[::1]:1/x",
            "http://u@127.0.0.2",
        ] {
            assert!(
                Config::default()
                    .api_key("k")
                    .base_url(ok)
                    .validate()
                    .is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn bad_environment_values_are_reported() {
        let c = env(&[("MODELMETRY_EXPORTER", "kafka")]);
        let e = c.validate().expect_err("kafka is no exporter");
        assert!(e.to_string().contains("MODELMETRY_EXPORTER"), "{e}");
        let c = env(&[
            ("MODELMETRY_CAPTURE_CONTENT", "0"),
            ("MODELMETRY_EXPORTER", "none"),
        ]);
        assert!(!c.capture_content);
        assert!(c.exporter_kinds().is_empty());
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let c = Config::default().api_key("mm_secret_123");
        let text = format!("{c:?}");
        assert!(!text.contains("mm_secret_123"), "{text}");
        assert!(text.contains("<redacted>"));
    }
}
