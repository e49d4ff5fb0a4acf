//! The file exporter (cargo feature `file`): each finished trace appended to a file as one
//! line of OTLP/JSON, an `ExportTraceServiceRequest` as the OpenTelemetry Collector's file
//! exporter writes them, so any tool that reads OTLP/JSON loads it (`modelmetry view` turns it
//! into a page).
//!
//! The spans are the OTLP exporter's ([`OtlpConfig::spans`]: the same GenAI mapping, the same
//! content switches, the same resource). Past `file_max_bytes` the file is rotated: it becomes
//! `<file>.1` (replacing the previous one) and a new file starts, so at most about twice the
//! bound is kept. A write that fails (a full disk, a directory gone) loses that batch's
//! records, counted in `stats().dropped.write_failed` and reported once; the next batch tries
//! again (reopening the file).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use serde_json::Value;

use super::otlp::{OtlpConfig, proto};
use super::{Exporter, Settle, Tally};
use crate::config::Config;
use crate::diag;
use crate::record::FinishedTrace;

/// One trace as an `ExportTraceServiceRequest` in the OTLP/JSON mapping.
pub(crate) fn otlp_json(otlp: &OtlpConfig, trace: &FinishedTrace) -> Value {
    proto::to_json(&otlp.request(otlp.spans(trace)))
}

pub(crate) struct FileExporter {
    path: PathBuf,
    max_bytes: u64,
    otlp: OtlpConfig,
    open: Mutex<Option<Open>>,
    reported: AtomicBool,
}

struct Open {
    file: File,
    len: u64,
}

impl FileExporter {
    pub(crate) fn new(config: &Config) -> Self {
        FileExporter {
            path: config.local.file_path(),
            max_bytes: config.local.file_max_bytes,
            otlp: config.otlp.clone().unwrap_or_default(),
            open: Mutex::new(None),
            reported: AtomicBool::new(false),
        }
    }

    fn write(&self, lines: &[u8]) -> std::io::Result<()> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let mut current = match open.take() {
            Some(o) => o,
            None => open_append(&self.path)?,
        };
        if current.len > 0 && current.len + lines.len() as u64 > self.max_bytes {
            drop(current);
            std::fs::rename(&self.path, rotated(&self.path))?;
            current = open_append(&self.path)?;
        }
        current.file.write_all(lines)?;
        current.len += lines.len() as u64;
        // Kept open only after a good write: a failed one reopens next time.
        *open = Some(current);
        Ok(())
    }
}

fn open_append(path: &Path) -> std::io::Result<Open> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let len = file.metadata()?.len();
    Ok(Open { file, len })
}

/// `traces.jsonl` → `traces.jsonl.1`.
fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

impl Exporter for FileExporter {
    fn name(&self) -> &'static str {
        "the file exporter"
    }

    fn export(&self, traces: &[FinishedTrace], _deadline: Instant, _: &dyn Settle) -> Tally {
        let records: u64 = traces.iter().map(FinishedTrace::record_count).sum();
        let mut lines = Vec::new();
        for t in traces {
            // Writing a `Value` into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut lines, &otlp_json(&self.otlp, t));
            lines.push(b'\n');
        }
        match self.write(&lines) {
            Ok(()) => Tally {
                sent: records,
                ..Tally::default()
            },
            Err(e) => {
                let problem = format!("cannot write traces to {}: {e}", self.path.display());
                if !self.reported.swap(true, Ordering::Relaxed) {
                    diag::report(format_args!(
                        "{problem}; their records are dropped (counted in \
                         stats().dropped.write_failed; further failures are counted, not printed)"
                    ));
                }
                Tally {
                    write_failed: records,
                    problem: Some(problem),
                    ..Tally::default()
                }
            }
        }
    }
}
