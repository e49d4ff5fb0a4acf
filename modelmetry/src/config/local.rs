//! Settings of the destinations on this machine: the OTLP/JSON lines file
//! (`MODELMETRY_FILE`, [`Config::file`]) and the HTML view (`MODELMETRY_HTML`,
//! [`Config::html`]).

use std::path::PathBuf;

use super::Config;
use crate::error::Error;

/// Where the file exporter writes when `MODELMETRY_EXPORTER=file` names no `MODELMETRY_FILE`.
#[cfg(feature = "file")]
pub(crate) const DEFAULT_FILE: &str = "traces.jsonl";
/// Where the HTML exporter writes when `MODELMETRY_EXPORTER=html` names no `MODELMETRY_HTML`.
#[cfg(feature = "html")]
pub(crate) const DEFAULT_HTML: &str = "traces.html";
/// The default size past which the traces file is rotated (64 MiB).
pub(crate) const DEFAULT_FILE_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// The default number of traces the HTML view keeps (the most recent ones).
pub(crate) const DEFAULT_HTML_MAX_TRACES: usize = 1000;

#[derive(Clone, Debug)]
pub(crate) struct LocalFiles {
    /// The OTLP/JSON lines file; setting it turns the file exporter on next to the default one.
    pub(crate) file: Option<PathBuf>,
    pub(crate) file_max_bytes: u64,
    /// The HTML view's file; setting it turns the HTML exporter on next to the default one.
    pub(crate) html: Option<PathBuf>,
    pub(crate) html_max_traces: usize,
}

impl Default for LocalFiles {
    fn default() -> Self {
        LocalFiles {
            file: None,
            file_max_bytes: DEFAULT_FILE_MAX_BYTES,
            html: None,
            html_max_traces: DEFAULT_HTML_MAX_TRACES,
        }
    }
}

impl LocalFiles {
    /// `MODELMETRY_FILE`, `MODELMETRY_FILE_MAX_BYTES`, `MODELMETRY_HTML`.
    pub(crate) fn from_lookup(
        present: impl Fn(&str) -> Option<String>,
        errors: &mut Vec<Error>,
    ) -> Self {
        let mut l = LocalFiles {
            file: present("MODELMETRY_FILE").map(PathBuf::from),
            html: present("MODELMETRY_HTML").map(PathBuf::from),
            ..LocalFiles::default()
        };
        if let Some(v) = present("MODELMETRY_FILE_MAX_BYTES") {
            match v.parse::<u64>() {
                Ok(bytes) if bytes > 0 => l.file_max_bytes = bytes,
                _ => errors.push(Error::Config {
                    setting: "MODELMETRY_FILE_MAX_BYTES",
                    reason: format!("`{v}` is not a positive number of bytes"),
                }),
            }
        }
        l
    }

    /// The traces file's path.
    #[cfg(feature = "file")]
    pub(crate) fn file_path(&self) -> PathBuf {
        self.file.clone().unwrap_or_else(|| DEFAULT_FILE.into())
    }

    /// The HTML view's path.
    #[cfg(feature = "html")]
    pub(crate) fn html_path(&self) -> PathBuf {
        self.html.clone().unwrap_or_else(|| DEFAULT_HTML.into())
    }
}

impl Config {
    /// Append each finished trace to `path` as one line of OTLP/JSON (an
    /// `ExportTraceServiceRequest`, the OpenTelemetry file exporter's format), next to the
    /// default destination unless [`exporters`](Config::exporters) says otherwise
    /// (`MODELMETRY_FILE`; `MODELMETRY_EXPORTER=file` alone writes `traces.jsonl`). Needs the
    /// cargo feature `file`. The file is rotated past
    /// [`file_max_bytes`](Config::file_max_bytes): `path` becomes `path.1`.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.local.file = Some(path.into());
        self
    }

    /// The size past which the traces file is rotated (default 64 MiB;
    /// `MODELMETRY_FILE_MAX_BYTES`): the file and one older generation are kept, so the two
    /// together never hold much more than twice this.
    pub fn file_max_bytes(mut self, bytes: u64) -> Self {
        self.local.file_max_bytes = bytes.max(1);
        self
    }

    /// Write (and rewrite as traces finish) a self-contained HTML view of the most recent
    /// traces to `path`, next to the default destination unless
    /// [`exporters`](Config::exporters) says otherwise (`MODELMETRY_HTML`;
    /// `MODELMETRY_EXPORTER=html` alone writes `traces.html`). Needs the cargo feature
    /// `html`. The file is replaced atomically (a temporary file, then a rename), so a
    /// browser never reads half of it.
    pub fn html(mut self, path: impl Into<PathBuf>) -> Self {
        self.local.html = Some(path.into());
        self
    }

    /// How many traces the HTML view keeps, the most recent ones (default 1,000).
    pub fn html_max_traces(mut self, traces: usize) -> Self {
        self.local.html_max_traces = traces.max(1);
        self
    }
}
