//! [`Config`]: every setting, from code or from the environment.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub(crate) mod local;
#[cfg(feature = "otlp")]
pub(crate) mod otlp;

use crate::diag::without_userinfo;
use crate::error::Error;
use crate::redact::{RedactHook, RedactPattern, Redaction};
use crate::sampling::Threshold;

/// Where finished traces go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExporterKind {
    /// Print each trace to stderr as an indented tree. The default without an API key.
    Console,
    /// Send to the Modelmetry ingest API. The default with an API key.
    Http,
    /// Send to an OpenTelemetry collector or backend over OTLP/HTTP (cargo feature `otlp`;
    /// see `OtlpConfig`). Added to the default exporter when
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set.
    Otlp,
    /// Append each trace to a file as a line of OTLP/JSON (cargo feature `file`; see
    /// [`Config::file`]).
    File,
    /// Write a self-contained HTML view of the latest traces (cargo feature `html`; see
    /// [`Config::html`]).
    Html,
    /// Record nothing: a span costs an atomic load and a test. For tests and for turning tracing off.
    None,
}

impl ExporterKind {
    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "console" | "stderr" => Some(ExporterKind::Console),
            "http" | "modelmetry" => Some(ExporterKind::Http),
            "otlp" | "opentelemetry" => Some(ExporterKind::Otlp),
            "file" | "jsonl" => Some(ExporterKind::File),
            "html" => Some(ExporterKind::Html),
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
/// | `MODELMETRY_EXPORTER` | [`exporters`](Config::exporters): `console`, `http`, `otlp`, `file`, `html`, `none`, or a list (`http,otlp`) | `http` with a key, else `console`; plus `otlp` when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, `file` when `MODELMETRY_FILE` is, `html` when `MODELMETRY_HTML` is |
/// | `MODELMETRY_DELIVERY` | [`delivery`](Config::delivery): `background`, `sync` | `background` |
/// | `MODELMETRY_CAPTURE_CONTENT` | [`capture_content`](Config::capture_content) (an unreadable value turns it off, with a warning) | `true` |
/// | `MODELMETRY_FLUSH_INTERVAL_MS` | [`flush_interval`](Config::flush_interval) | 1000 |
/// | `MODELMETRY_ALLOW_INSECURE_HTTP` | [`allow_insecure_http`](Config::allow_insecure_http) | `false` |
/// | `MODELMETRY_SPOOL_DIR` | [`spool_dir`](Config::spool_dir) | none (spool off) |
/// | `MODELMETRY_SPOOL_MAX_BYTES` | [`max_spool_bytes`](Config::max_spool_bytes) | 64 MiB |
/// | `MODELMETRY_DEBUG` | [`debug`](Config::debug) | `false` |
/// | `MODELMETRY_FILE` | [`file`](Config::file) | none (`traces.jsonl` with `MODELMETRY_EXPORTER=file`) |
/// | `MODELMETRY_FILE_MAX_BYTES` | [`file_max_bytes`](Config::file_max_bytes) | 64 MiB |
/// | `MODELMETRY_HTML` | [`html`](Config::html) | none (`traces.html` with `MODELMETRY_EXPORTER=html`) |
/// | `MODELMETRY_SAMPLE_RATE` | [`sample_rate`](Config::sample_rate): a number from 0 to 1 | `1` |
/// | `MODELMETRY_CAPTURE_DEBUG` | [`capture_debug`](Config::capture_debug) | `false` |
/// | `MODELMETRY_REDACT_PATTERNS` | [`redact_patterns`](Config::redact_patterns): `all`, or a list of `api_key`, `bearer`, `email`, `card`, `ipv4`, and last, optionally, `regex:<pattern>` (feature `regex`; the pattern runs to the end of the value, commas included) | none |
///
/// `init` reports, one line each, what it ignores: an unknown `MODELMETRY_*` name (with the
/// closest known one), `OTEL_EXPORTER_OTLP_*` variables without the `otlp` feature, a blank
/// key, `none` listed with other exporters, a base URL's query or fragment.
#[derive(Clone)]
pub struct Config {
    pub(crate) api_key: Option<ApiKey>,
    pub(crate) base_url: String,
    pub(crate) exporters: Option<Vec<ExporterKind>>,
    #[cfg(feature = "otlp")]
    pub(crate) otlp: Option<otlp::OtlpConfig>,
    pub(crate) local: local::LocalFiles,
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
    pub(crate) redact_patterns: Vec<RedactPattern>,
    pub(crate) capture_debug: bool,
    pub(crate) sampling: crate::sampling::Rules,
    /// Prices given with `Config::price`, in the order given (the last for a model wins).
    pub(crate) prices: Vec<crate::pricing::CustomPrice>,
    /// Problems found while reading the environment, reported by `init`.
    pub(crate) env_errors: Vec<Error>,
    /// The OTLP settings the environment gave were invalid: the OTLP exporter is off.
    #[cfg(feature = "otlp")]
    pub(crate) otlp_env_error: Option<Error>,
    /// What the environment set that is ignored or taken otherwise than it may seem, reported
    /// once by `init`.
    pub(crate) env_warnings: Vec<String>,
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
            local: local::LocalFiles::default(),
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
            redact_patterns: Vec::new(),
            capture_debug: false,
            sampling: crate::sampling::Rules::default(),
            prices: Vec::new(),
            env_errors: Vec::new(),
            #[cfg(feature = "otlp")]
            otlp_env_error: None,
            env_warnings: Vec::new(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &without_userinfo(&self.base_url))
            .field("exporters", &self.exporter_kinds())
            .field("otlp", &self.otlp_debug())
            .field("local", &self.local)
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
            .field("redact_patterns", &self.redact_patterns.len())
            .field("capture_debug", &self.capture_debug)
            .field("sampling", &self.sampling)
            .field("prices", &self.prices)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The defaults, overridden by the `MODELMETRY_*` environment variables (see the table
    /// above). An invalid value is kept aside and reported by [`init`](Config::init), as is
    /// a variable that is ignored (an unknown `MODELMETRY_*` name, an empty API key, …).
    pub fn from_env() -> Self {
        let mut names: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .collect();
        names.sort();
        Self::from_lookup(|name| std::env::var(name).ok(), &names)
    }

    /// The settings `get` gives; `names` are the variables set (to find unknown ones).
    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>, names: &[String]) -> Self {
        let mut c = Config::default();
        let present = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        for name in names {
            if name.starts_with("MODELMETRY_") && !ENV_VARS.contains(&name.as_str()) {
                c.env_warnings.push(unknown_variable(name));
            }
        }
        #[cfg(not(feature = "otlp"))]
        {
            let otel: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .filter(|n| n.starts_with("OTEL_EXPORTER_OTLP_") && present(n).is_some())
                .collect();
            if !otel.is_empty() {
                c.env_warnings.push(format!(
                    "{} set, but modelmetry was built without its `otlp` cargo feature: nothing \
                     is sent to an OpenTelemetry collector (enable the feature to send there)",
                    otel.join(", ")
                ));
            }
        }
        if let Some(key) = get("MODELMETRY_API_KEY") {
            // Kept even when blank, so that `init` can say what a blank key does.
            c.api_key = Some(ApiKey(key.trim().to_owned()));
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
                        "`{v}` is not a comma-separated list of console, http, otlp, file, html, none"
                    ),
                }),
            }
        }
        #[cfg(feature = "otlp")]
        match otlp::OtlpConfig::from_lookup(&get) {
            Ok(otlp) => c.otlp = otlp,
            // Only the OTLP exporter is turned off by its own invalid settings.
            Err(e) => c.otlp_env_error = Some(e),
        }
        c.local = local::LocalFiles::from_lookup(present, &mut c.env_errors);
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
        if let Some(v) = present("MODELMETRY_CAPTURE_CONTENT") {
            match parse_bool(&v) {
                Some(on) => c.capture_content = on,
                None => {
                    // A privacy switch fails closed: an unreadable value records no content.
                    c.capture_content = false;
                    c.env_warnings.push(format!(
                        "MODELMETRY_CAPTURE_CONTENT=`{v}` is not a boolean (true/false, 1/0, \
                         yes/no, on/off); content capture is off"
                    ));
                }
            }
        }
        if let Some(v) = present("MODELMETRY_SAMPLE_RATE") {
            match v.parse::<f64>() {
                Ok(rate) if (0.0..=1.0).contains(&rate) => c.sampling.rate = rate,
                _ => c.env_errors.push(sample_rate_error(&v)),
            }
        }
        if let Some(v) = present("MODELMETRY_REDACT_PATTERNS") {
            // Preset names, comma-separated; a `regex:` entry runs to the end of the value
            // (commas included), so it comes last: `email,regex:ACME-[0-9]{4,8}`.
            let (list, regex) = match v.find("regex:") {
                Some(at) if v[..at].trim_end().is_empty() || v[..at].trim_end().ends_with(',') => {
                    (&v[..at], Some(&v[at + "regex:".len()..]))
                }
                _ => (v.as_str(), None),
            };
            let names: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect();
            let mut patterns = Vec::new();
            for name in names {
                match name {
                    "all" => patterns.extend(RedactPattern::presets()),
                    _ => match RedactPattern::preset(name) {
                        Some(p) => patterns.push(p),
                        None => c.env_errors.push(Error::Config {
                            setting: "MODELMETRY_REDACT_PATTERNS",
                            reason: format!(
                                "`{name}` is not one of all, api_key, bearer, email, card, ipv4, regex:<pattern>"
                            ),
                        }),
                    },
                }
            }
            if let Some(pattern) = regex {
                #[cfg(feature = "regex")]
                match RedactPattern::regex_for("MODELMETRY_REDACT_PATTERNS", pattern) {
                    Ok(p) => patterns.push(p),
                    Err(e) => c.env_errors.push(e),
                }
                #[cfg(not(feature = "regex"))]
                c.env_errors.push(Error::Config {
                    setting: "MODELMETRY_REDACT_PATTERNS",
                    reason: format!(
                        "`regex:{pattern}` needs modelmetry's cargo feature `regex`, which this build does not have"
                    ),
                });
            }
            c.redact_patterns = patterns;
        }
        for (name, slot) in [
            ("MODELMETRY_ALLOW_INSECURE_HTTP", &mut c.allow_insecure_http),
            ("MODELMETRY_DEBUG", &mut c.debug),
            ("MODELMETRY_CAPTURE_DEBUG", &mut c.capture_debug),
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
    /// Surrounding whitespace is removed; a blank key counts as no key (`init` says so), and
    /// a key with a control character (a newline inside it) is refused by `init`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey(key.into().trim().to_owned()));
        self
    }

    /// The API key, unless it is blank.
    pub(crate) fn key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref().filter(|k| !k.0.is_empty())
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
    pub fn otlp(mut self, otlp: otlp::OtlpConfig) -> Self {
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
    /// dropped and counted (`dropped.buffer_full`; a trace larger than the whole bound alone,
    /// `dropped.trace_too_large`).
    pub fn max_buffer_records(mut self, records: u64) -> Self {
        self.max_buffer_records = records.max(1);
        self
    }

    /// The most bytes (estimated JSON) waiting in the buffer (default 64 MiB). A trace that
    /// would pass it is dropped and counted (`dropped.buffer_full`; a trace larger than the
    /// whole bound alone, `dropped.trace_too_large`).
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

    /// Allow a plain `http://` base URL to a host that is not loopback (default `false`), and
    /// a plain `http://` OTLP endpoint that is not loopback with headers (see
    /// `OtlpConfig::allow_insecure_http`, feature `otlp`).
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
    /// The hook runs once per value when the trace finishes, on the thread that closed it,
    /// before the trace is handed to any destination (one run, whatever the number of
    /// destinations). If it panics, the trace is dropped and counted in
    /// [`Dropped::redaction_failed`](crate::Dropped::redaction_failed): nothing unredacted is
    /// exported. [`redact_patterns`](Config::redact_patterns) run after it.
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

    /// Replace, in every string the SDK sends or writes (inputs, outputs, messages, options,
    /// documents, metadata keys and values, events, findings' values, comments and
    /// descriptions, error texts, session and user ids, tags, span, trace, event and finding
    /// names), whatever matches one of `patterns`, for every destination (`MODELMETRY_REDACT_PATTERNS`).
    /// The presets are opt-in; see [`RedactPattern`] for what each matches:
    ///
    /// ```
    /// use modelmetry::RedactPattern;
    /// let config = modelmetry::Config::from_env()
    ///     .redact_patterns(RedactPattern::presets())
    ///     .redact_patterns([RedactPattern::literal("internal-project-name")]);
    /// # drop(config);
    /// ```
    ///
    /// Patterns run after the [`redact`](Config::redact) hook, on the finished trace, before
    /// the trace is handed to any exporter (one pass, whatever the number of destinations). A
    /// trace whose redaction fails is dropped and counted, never sent raw. Each call adds to
    /// the patterns already set.
    pub fn redact_patterns(mut self, patterns: impl IntoIterator<Item = RedactPattern>) -> Self {
        self.redact_patterns.extend(patterns);
        self
    }

    /// Capture a value that implements `Debug` but not `Serialize` (an argument or return
    /// value of a `#[span]` function) as its `Debug` text (`MODELMETRY_CAPTURE_DEBUG`). Off by
    /// default: such a value is recorded as `"<debug capture off: {type}>"`, because a type
    /// that was never meant to be serialised often holds what should not leave the process
    /// (`Credentials { password: .. }`). Values that are `Serialize` are captured as JSON
    /// either way; [`Redacted`](crate::Redacted) values never are.
    pub fn capture_debug(mut self, on: bool) -> Self {
        self.capture_debug = on;
        self
    }

    /// Keep only this share of traces (0 to 1; `MODELMETRY_SAMPLE_RATE`). The decision is
    /// made when a trace opens, from its trace id, so every service that receives the trace's
    /// `traceparent` decides alike (and one that receives a `traceparent` follows its
    /// `sampled` flag). A dropped trace records no content; the tail rules
    /// ([`keep_errors`](Config::keep_errors), [`keep_if_finding`](Config::keep_if_finding),
    /// [`keep_if_cost_over`](Config::keep_if_cost_over),
    /// [`keep_if_duration_over`](Config::keep_if_duration_over)) can still keep it when it
    /// ends. Kept traces carry `modelmetry.sample_rate`; dropped ones are counted, with their
    /// usage and cost, in [`Stats::sampling`](crate::Stats::sampling). A value that is not a
    /// number from 0 to 1 makes [`init`](Config::init) fail with an [`Error::Config`] naming
    /// `MODELMETRY_SAMPLE_RATE`.
    ///
    /// ```
    /// use modelmetry::Threshold;
    /// let config = modelmetry::Config::from_env()
    ///     .sample_rate(0.1)
    ///     .keep_if_finding("response_safe_score", Threshold::Below(0.5));
    /// # drop(config);
    /// ```
    pub fn sample_rate(mut self, rate: f64) -> Self {
        if (0.0..=1.0).contains(&rate) {
            self.sampling.rate = rate;
        } else {
            self.env_errors.push(sample_rate_error(&rate.to_string()));
        }
        self
    }

    /// Keep every trace with a span (or the trace itself) of severity error, whatever the
    /// sample rate (on by default).
    pub fn keep_errors(mut self, on: bool) -> Self {
        self.sampling.keep_errors = on;
        self
    }

    /// Keep every trace with a finding named `name` whose number passes `threshold`, whatever
    /// the sample rate. May be called for several findings.
    pub fn keep_if_finding(mut self, name: impl Into<String>, threshold: Threshold) -> Self {
        self.sampling.findings.push((name.into(), threshold));
        self
    }

    /// Keep every trace whose spans' costs add up to more than `amount` (in the costs' own
    /// currency), whatever the sample rate.
    pub fn keep_if_cost_over(mut self, amount: f64) -> Self {
        self.sampling.cost_over = Some(amount);
        self
    }

    /// Keep every trace that lasted longer than `limit`, whatever the sample rate.
    pub fn keep_if_duration_over(mut self, limit: Duration) -> Self {
        self.sampling.duration_over = Some(limit);
        self
    }

    /// The redaction the pipeline applies (hook and patterns).
    pub(crate) fn redaction(&self) -> Redaction {
        Redaction {
            hook: self.redact.clone(),
            patterns: self.redact_patterns.clone(),
        }
    }

    /// A price, in USD per million tokens, for `model` (as the span names it: the model
    /// requested or the one that answered, compared without regard to ASCII case) from
    /// `provider` (`""` for any provider; a span that names no provider matches too). It
    /// takes precedence over the embedded `genai-prices` table: for fine-tuned, private or
    /// self-hosted models, or negotiated rates. Every input token is priced at
    /// `input_per_mtok`, cached ones included, and every output token at `output_per_mtok`.
    /// The cost's `modelmetry.cost.source` says `Config::price`. Given twice for one model,
    /// the last wins; a price that is negative or not finite is ignored, and `init` says so.
    ///
    /// ```
    /// let config = modelmetry::Config::default()
    ///     .price("ft:gpt-4o-mini:acme::7p4lB2", "openai", 0.30, 1.20);
    /// # drop(config);
    /// ```
    pub fn price(
        mut self,
        model: impl Into<String>,
        provider: impl Into<String>,
        input_per_mtok: f64,
        output_per_mtok: f64,
    ) -> Self {
        self.prices.push(crate::pricing::CustomPrice {
            model: model.into(),
            provider: provider.into(),
            input_per_mtok,
            output_per_mtok,
        });
        self
    }

    /// True when the OpenTelemetry exporter was configured (in code or by `OTEL_*`, even
    /// invalidly: then `init` says why it is off).
    fn otlp_configured(&self) -> bool {
        #[cfg(feature = "otlp")]
        return self.otlp.is_some() || self.otlp_env_error.is_some();
        #[cfg(not(feature = "otlp"))]
        false
    }

    /// The OTLP settings as `Debug` shows them (header values redacted).
    fn otlp_debug(&self) -> Option<&dyn std::fmt::Debug> {
        #[cfg(feature = "otlp")]
        return self.otlp.as_ref().map(|o| o as &dyn std::fmt::Debug);
        #[cfg(not(feature = "otlp"))]
        None
    }

    /// The destinations, first one first; empty when tracing is off.
    pub(crate) fn exporter_kinds(&self) -> Vec<ExporterKind> {
        let mut kinds = match &self.exporters {
            Some(kinds) => kinds.clone(),
            None => {
                let first = if self.key().is_some() {
                    ExporterKind::Http
                } else {
                    ExporterKind::Console
                };
                let mut kinds = vec![first];
                if self.otlp_configured() {
                    kinds.push(ExporterKind::Otlp);
                }
                if self.local.file.is_some() {
                    kinds.push(ExporterKind::File);
                }
                if self.local.html.is_some() {
                    kinds.push(ExporterKind::Html);
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

    /// Check every setting; the first problem found is returned.
    #[cfg(test)]
    pub(crate) fn validate(&self) -> Result<(), Error> {
        self.validate_common()?;
        for kind in self.exporter_kinds() {
            self.validate_exporter(kind)?;
        }
        Ok(())
    }

    /// Check the settings every destination shares: a problem here stops the client.
    pub(crate) fn validate_common(&self) -> Result<(), Error> {
        match self.env_errors.first() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Check the settings of one destination: a problem here turns that destination off.
    pub(crate) fn validate_exporter(&self, kind: ExporterKind) -> Result<(), Error> {
        match kind {
            ExporterKind::Http => self.validate_http(),
            ExporterKind::Otlp => self.validate_otlp(),
            ExporterKind::File => feature_on(cfg!(feature = "file"), "file"),
            ExporterKind::Html => feature_on(cfg!(feature = "html"), "html"),
            ExporterKind::Console | ExporterKind::None => Ok(()),
        }
    }

    fn validate_http(&self) -> Result<(), Error> {
        let key = self.key().ok_or_else(|| Error::Config {
            setting: "MODELMETRY_API_KEY",
            reason: if self.api_key.is_some() {
                "the http exporter needs an API key, and the one given is empty".to_owned()
            } else {
                "the http exporter needs an API key".to_owned()
            },
        })?;
        if let Some(at) = header_value_problem(key.expose()) {
            return Err(Error::Config {
                setting: "MODELMETRY_API_KEY",
                reason: format!(
                    "the API key has a byte that an HTTP header cannot carry (a control \
                     character such as a newline, at byte {at}); check how it was copied"
                ),
            });
        }
        check_url(
            "MODELMETRY_BASE_URL",
            &self.base_url,
            Some("the API key"),
            self.allow_insecure_http,
        )
    }

    #[cfg(not(feature = "otlp"))]
    fn validate_otlp(&self) -> Result<(), Error> {
        Err(Error::Config {
            setting: "MODELMETRY_EXPORTER",
            reason: "the otlp exporter needs modelmetry's `otlp` cargo feature".to_owned(),
        })
    }

    #[cfg(feature = "otlp")]
    fn validate_otlp(&self) -> Result<(), Error> {
        if let Some(e) = &self.otlp_env_error {
            return Err(e.clone());
        }
        let default = otlp::OtlpConfig::default();
        let otlp = self.otlp.as_ref().unwrap_or(&default);
        for (name, value) in &otlp.headers {
            if ureq::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(Error::Config {
                    setting: "OTEL_EXPORTER_OTLP_HEADERS",
                    reason: format!("`{}` is not a valid HTTP header name", name.escape_debug()),
                });
            }
            if let Some(at) = header_value_problem(value) {
                return Err(Error::Config {
                    setting: "OTEL_EXPORTER_OTLP_HEADERS",
                    reason: format!(
                        "the value of header `{name}` has a byte that an HTTP header cannot \
                         carry (a control character such as a newline, at byte {at})"
                    ),
                });
            }
        }
        let secret = if otlp.headers.is_empty() {
            None
        } else {
            Some("the OTLP headers")
        };
        check_url(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            &otlp.endpoint,
            secret,
            self.allow_insecure_http || otlp.allow_insecure_http,
        )
    }

    /// What is ignored or taken otherwise than it may seem, one line each, for `init` to
    /// report: from the environment, and about the settings as a whole.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out = self.env_warnings.clone();
        for p in self.prices.iter().filter(|p| !p.is_valid()) {
            out.push(format!(
                "Config::price({:?}, {:?}, {}, {}) is ignored: it needs a model, and prices \
                 that are finite and not negative",
                p.model, p.provider, p.input_per_mtok, p.output_per_mtok
            ));
        }
        let key_blank = self.api_key.is_some() && self.key().is_none();
        if key_blank && self.exporters.is_none() {
            out.push(
                "the API key (MODELMETRY_API_KEY or Config::api_key) is empty: taken as no key, \
                 so traces print to stderr, content included, instead of going to Modelmetry"
                    .to_owned(),
            );
        }
        if let Some(kinds) = &self.exporters {
            if kinds.contains(&ExporterKind::None) && kinds.iter().any(|k| *k != ExporterKind::None)
            {
                out.push(
                    "the exporters (MODELMETRY_EXPORTER or Config::exporters) list `none` with \
                     others: `none` wins, nothing is recorded"
                        .to_owned(),
                );
            }
        }
        out
    }
}

fn sample_rate_error(v: &str) -> Error {
    Error::Config {
        setting: "MODELMETRY_SAMPLE_RATE",
        reason: format!("`{v}` is not a number from 0 to 1"),
    }
}

/// Every `MODELMETRY_*` variable the SDK reads.
const ENV_VARS: &[&str] = &[
    "MODELMETRY_API_KEY",
    "MODELMETRY_BASE_URL",
    "MODELMETRY_EXPORTER",
    "MODELMETRY_DELIVERY",
    "MODELMETRY_CAPTURE_CONTENT",
    "MODELMETRY_FLUSH_INTERVAL_MS",
    "MODELMETRY_ALLOW_INSECURE_HTTP",
    "MODELMETRY_SPOOL_DIR",
    "MODELMETRY_SPOOL_MAX_BYTES",
    "MODELMETRY_DEBUG",
    "MODELMETRY_OTLP_OPT_IN",
    "MODELMETRY_FILE",
    "MODELMETRY_FILE_MAX_BYTES",
    "MODELMETRY_HTML",
    "MODELMETRY_SAMPLE_RATE",
    "MODELMETRY_CAPTURE_DEBUG",
    "MODELMETRY_REDACT_PATTERNS",
];

/// A destination whose cargo feature is off is refused at `init`, saying which feature.
fn feature_on(on: bool, feature: &'static str) -> Result<(), Error> {
    if on {
        return Ok(());
    }
    Err(Error::Config {
        setting: "MODELMETRY_EXPORTER",
        reason: format!("the {feature} exporter needs modelmetry's `{feature}` cargo feature"),
    })
}

/// The warning for a `MODELMETRY_*` variable the SDK does not read, naming the closest one
/// it does (a typo such as `MODELMETRY_APIKEY` would otherwise go unnoticed).
fn unknown_variable(name: &str) -> String {
    let closest = ENV_VARS
        .iter()
        .map(|known| (edit_distance(name, known), *known))
        .min();
    match closest {
        Some((distance, known)) if distance <= 4 => {
            format!("{name} is not a modelmetry setting and is ignored; did you mean {known}?")
        }
        _ => format!(
            "{name} is not a modelmetry setting and is ignored (the settings: {})",
            ENV_VARS.join(", ")
        ),
    }
}

/// The Levenshtein distance between `a` and `b` (ASCII names: bytes are characters).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Where `value` has a byte an HTTP header value cannot carry (RFC 9110 §5.5: no control
/// character but tab), if it has one. Sending it would fail on every attempt.
pub(crate) fn header_value_problem(value: &str) -> Option<usize> {
    value
        .bytes()
        .position(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

/// Check that `url` is an absolute http(s) URL with a host, and, when the requests carry
/// `secret`, that it is not plain http to a host that is not loopback (unless allowed).
fn check_url(
    setting: &'static str,
    url: &str,
    secret: Option<&str>,
    allow_insecure: bool,
) -> Result<(), Error> {
    let url = url.trim();
    let shown = without_userinfo(url);
    let (scheme, rest) = url.split_once("://").ok_or_else(|| Error::Config {
        setting,
        reason: format!("`{shown}` is not an absolute http(s) URL"),
    })?;
    let host = host_of(rest);
    if host.is_empty() {
        return Err(Error::Config {
            setting,
            reason: format!("`{shown}` has no host"),
        });
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if secret.is_none() || is_loopback(host) || allow_insecure => Ok(()),
        "http" => Err(Error::Config {
            setting,
            reason: format!(
                "plain http to `{host}` would send {} in clear; use https, or set \
                 MODELMETRY_ALLOW_INSECURE_HTTP=true",
                secret.unwrap_or("the request")
            ),
        }),
        other => Err(Error::Config {
            setting,
            reason: format!("unsupported scheme `{other}`"),
        }),
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

/// True if `url` names this machine (`localhost`, `127.0.0.0/8`, `[::1]`).
pub(crate) fn targets_loopback(url: &str) -> bool {
    url.trim()
        .split_once("://")
        .is_some_and(|(_, rest)| is_loopback(host_of(rest)))
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
        let names: Vec<String> = pairs.iter().map(|(n, _)| (*n).to_owned()).collect();
        Config::from_lookup(
            |k| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            },
            &names,
        )
    }

    #[test]
    fn loopback_targets_are_found() {
        assert!(targets_loopback("http://127.0.0.1:8080/v1/traces"));
        assert!(targets_loopback("http://localhost"));
        assert!(targets_loopback("http://[::1]:1"));
        assert!(!targets_loopback("http://collector:4318"));
        assert!(!targets_loopback("https://api.modelmetry.com"));
    }

    #[test]
    fn defaults_without_a_key_print_to_the_console() {
        let c = env(&[]);
        assert_eq!(c.exporter_kinds(), vec![ExporterKind::Console]);
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn file_and_html_are_read_from_the_environment() {
        let c = env(&[("MODELMETRY_EXPORTER", "file,html")]);
        assert_eq!(
            c.exporter_kinds(),
            vec![ExporterKind::File, ExporterKind::Html]
        );
        let c = env(&[("MODELMETRY_FILE", "/tmp/t.jsonl")]);
        assert_eq!(
            c.exporter_kinds(),
            vec![ExporterKind::Console, ExporterKind::File]
        );
        assert_eq!(
            c.local.file.as_deref(),
            Some(std::path::Path::new("/tmp/t.jsonl"))
        );
        let c = env(&[("MODELMETRY_FILE_MAX_BYTES", "lots")]);
        assert!(c.validate().is_err());
    }

    #[cfg(not(feature = "file"))]
    #[test]
    fn the_file_exporter_without_its_feature_is_refused_naming_the_feature() {
        let c = env(&[("MODELMETRY_EXPORTER", "file")]);
        let e = c.validate().expect_err("no file exporter in this build");
        assert!(e.to_string().contains("`file` cargo feature"), "{e}");
    }

    #[test]
    fn a_key_selects_http() {
        let c = env(&[
            ("MODELMETRY_API_KEY", "k"),
            ("MODELMETRY_BASE_URL", "http://127.0.0.1:9/"),
        ]);
        assert_eq!(c.exporter_kinds(), vec![ExporterKind::Http]);
        assert_eq!(c.base_url, "http://127.0.0.1:9/");
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
    fn a_regex_in_the_redaction_list_runs_to_the_end() {
        let c = env(&[(
            "MODELMETRY_REDACT_PATTERNS",
            "email, api_key,regex:(?:ACME|acme)-[0-9]{4,8},x",
        )]);
        #[cfg(feature = "regex")]
        {
            assert!(c.env_errors.is_empty(), "{:?}", c.env_errors);
            assert_eq!(
                c.redact_patterns,
                vec![
                    RedactPattern::Email,
                    RedactPattern::ApiKey,
                    RedactPattern::regex("(?:ACME|acme)-[0-9]{4,8},x").unwrap(),
                ]
            );
            let bad = env(&[("MODELMETRY_REDACT_PATTERNS", "regex:[a-")]);
            let err = bad.env_errors[0].to_string();
            assert!(err.contains("MODELMETRY_REDACT_PATTERNS"), "{err}");
            assert!(err.contains("`[a-`"), "{err}");
            // `regex:` inside a preset name is not a regex entry.
            let odd = env(&[("MODELMETRY_REDACT_PATTERNS", "emailregex:x")]);
            assert_eq!(odd.env_errors.len(), 1);
            assert!(odd.redact_patterns.is_empty());
        }
        #[cfg(not(feature = "regex"))]
        {
            let err = c.env_errors[0].to_string();
            assert!(err.contains("cargo feature `regex`"), "{err}");
        }
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let c = Config::default().api_key("mm_secret_123");
        let text = format!("{c:?}");
        assert!(!text.contains("mm_secret_123"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn unknown_names_get_the_closest_setting() {
        let c = env(&[
            ("MODELMETRY_APIKEY", "k"),
            ("MODELMETRY_BASEURL", "https://x"),
            ("MODELMETRY_SOMETHING_ELSE_ENTIRELY", "1"),
        ]);
        assert_eq!(c.env_warnings.len(), 3, "{:?}", c.env_warnings);
        assert!(c.env_warnings[0].ends_with("did you mean MODELMETRY_API_KEY?"));
        assert!(c.env_warnings[1].ends_with("did you mean MODELMETRY_BASE_URL?"));
        assert!(c.env_warnings[2].contains("(the settings: MODELMETRY_API_KEY,"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[cfg(not(feature = "otlp"))]
    #[test]
    fn otel_variables_without_the_otlp_feature_are_warned_about() {
        let c = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SERVICE_NAME", "chatbot"),
        ]);
        assert_eq!(c.env_warnings.len(), 1, "{:?}", c.env_warnings);
        assert!(
            c.env_warnings[0].starts_with("OTEL_EXPORTER_OTLP_ENDPOINT set, but modelmetry was built without its `otlp` cargo feature"),
            "{}",
            c.env_warnings[0]
        );
        assert_eq!(c.exporter_kinds(), vec![ExporterKind::Console]);
    }

    #[test]
    fn urls_lose_their_passwords_when_shown() {
        assert_eq!(
            without_userinfo("https://u:p@host:1/a@b?c"),
            "https://<redacted>@host:1/a@b?c"
        );
        assert_eq!(without_userinfo("http://host/a@b"), "http://host/a@b");
        assert_eq!(without_userinfo("no scheme"), "no scheme");
    }
}
