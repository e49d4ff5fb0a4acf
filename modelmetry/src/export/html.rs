//! The HTML exporter (cargo feature `html`): a self-contained page of the latest traces
//! (the view of `modelmetry view`), rewritten as traces finish.
//!
//! It keeps the most recent `html_max_traces` traces (as OTLP/JSON, the file exporter's
//! form, so the page is the one `modelmetry view` makes of that file) and, after each batch,
//! writes the whole page to a temporary file beside the target and renames it over the
//! target: a browser reloading it never reads half a page. A failed write loses nothing the
//! page would show next time (the traces stay in memory); that batch's records are counted in
//! `stats().dropped.write_failed` and the error reported once.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::file::otlp_json;
use super::otlp::OtlpConfig;
use super::{Exporter, Settle, Tally};
use crate::config::Config;
use crate::diag;
use crate::record::FinishedTrace;
use crate::unversioned::view::View;

pub(crate) struct HtmlExporter {
    path: PathBuf,
    max_traces: usize,
    otlp: OtlpConfig,
    view: Mutex<View>,
    reported: AtomicBool,
}

impl HtmlExporter {
    pub(crate) fn new(config: &Config) -> Self {
        HtmlExporter {
            path: config.local.html_path(),
            max_traces: config.local.html_max_traces,
            otlp: config.otlp.clone().unwrap_or_default(),
            view: Mutex::new(View::new()),
            reported: AtomicBool::new(false),
        }
    }
}

/// Write `bytes` to `path` through a temporary file in the same directory and a rename.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map_or_else(
        || "modelmetry.html".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|mut f| f.write_all(bytes));
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

impl Exporter for HtmlExporter {
    fn name(&self) -> &'static str {
        "the HTML exporter"
    }

    fn export(&self, traces: &[FinishedTrace], _deadline: Instant, _: &dyn Settle) -> Tally {
        let records: u64 = traces.iter().map(FinishedTrace::record_count).sum();
        let page = {
            let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
            for t in traces {
                view.add_request(&otlp_json(&self.otlp, t));
            }
            view.retain_latest(self.max_traces);
            view.html()
        };
        match write_atomically(&self.path, page.as_bytes()) {
            Ok(()) => Tally {
                sent: records,
                ..Tally::default()
            },
            Err(e) => {
                let problem = format!("cannot write the HTML view {}: {e}", self.path.display());
                if !self.reported.swap(true, Ordering::Relaxed) {
                    diag::report(format_args!(
                        "{problem}; counted in stats().dropped.write_failed (further failures \
                         are counted, not printed)"
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
