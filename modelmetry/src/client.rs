//! The process-wide client: [`init`], the flush-on-drop [`InitGuard`], [`flush`] and
//! [`shutdown`].
//!
//! One client runs at a time. It installs its pipeline as the global
//! [`dispatch`](crate::dispatch) (where the hot path hands finished traces) and keeps it here
//! for `flush` and `shutdown`.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::capture;
use crate::config::{Config, ExporterKind};
use crate::diag;
use crate::dispatch::{self, Dispatch};
use crate::error::Error;
use crate::export::{self, Exporter};
use crate::pipeline::Pipeline;
use crate::switch;

static PIPELINE: RwLock<Option<Arc<Pipeline>>> = RwLock::new(None);

fn current() -> Option<Arc<Pipeline>> {
    PIPELINE
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Start the SDK from the environment (see [`Config::from_env`]) and return the guard that
/// delivers what is left when it drops.
///
/// - With `MODELMETRY_API_KEY` set, traces go to the Modelmetry API.
/// - Without it, each finished trace prints to stderr as a tree: nothing leaves the machine.
/// - With `MODELMETRY_EXPORTER=none`, nothing is recorded at all.
///
/// An invalid setting is reported on stderr (or to [`Config::on_error`]) and tracing stays off;
/// use [`Config::init`] to get the error instead. Until `init`, every span is a no-op.
///
/// One client runs at a time: a second `init` while the first one's guard is alive leaves the
/// running client in place, says so in one line, and returns a guard that does nothing (so
/// dropping it changes nothing). Once a guard has shut its client down, the first span opened
/// afterwards says so, once (`let _ = modelmetry::init();` drops the guard at once).
///
/// Keep the guard alive for as long as the program runs: `let _guard = modelmetry::init();`
/// at the top of `main`. Its drop flushes with a timeout. `std::process::exit` skips
/// destructors, so call [`shutdown`] before it.
///
/// ```no_run
/// let _guard = modelmetry::init();
/// // ... the application ...
/// drop(_guard); // at the end of `main`: buffered traces are delivered (5 s at most by default)
/// ```
pub fn init() -> InitGuard {
    match Config::from_env().init() {
        Ok(guard) => guard,
        Err(e @ Error::AlreadyInitialized) => {
            diag::report(format_args!("{e}"));
            InitGuard { pipeline: None }
        }
        Err(e) => {
            diag::report(format_args!("{e}; tracing is off"));
            InitGuard { pipeline: None }
        }
    }
}

impl Config {
    /// Start the SDK with these settings. See [`init`].
    ///
    /// Returns [`Error::AlreadyInitialized`] while another client runs (its guard is alive),
    /// leaving that client in place.
    pub fn init(self) -> Result<InitGuard, Error> {
        install(self)
    }
}

fn install(config: Config) -> Result<InitGuard, Error> {
    if current().is_some() {
        return Err(Error::AlreadyInitialized);
    }
    // Said first, and whatever follows: a warning often explains an error (an unknown
    // `MODELMETRY_APIKEY` is why the http exporter has no key).
    for warning in config.warnings() {
        diag::report_to(config.on_error.as_ref(), format_args!("{warning}"));
    }
    config.validate_common()?;
    // An invalid setting of one destination turns that destination off, not the others.
    let kinds = config.exporter_kinds();
    let mut exporters = Vec::new();
    let mut off = Vec::new();
    for kind in kinds {
        match config
            .validate_exporter(kind)
            .and_then(|()| build(&config, kind))
        {
            Ok(exporter) => exporters.push(exporter),
            Err(e) => off.push((kind, e)),
        }
    }
    if exporters.is_empty() && !off.is_empty() {
        return Err(off.swap_remove(0).1);
    }
    for (kind, e) in &off {
        diag::report_to(
            config.on_error.as_ref(),
            format_args!("{e}; the {kind:?} exporter is off, the others run"),
        );
    }
    let exporter: Option<Box<dyn Exporter>> = match exporters.len() {
        0 => None,
        1 => exporters.pop(),
        _ => {
            let first = exporters.remove(0);
            Some(Box::new(export::fanout::Fanout::new(first, exporters)))
        }
    };
    Ok(install_exporter(config, exporter))
}

fn build(config: &Config, kind: ExporterKind) -> Result<Box<dyn Exporter>, Error> {
    Ok(match kind {
        ExporterKind::Console => Box::new(export::console::Console::stderr()),
        ExporterKind::Http => Box::new(export::ingest::Ingest::new(config)?),
        #[cfg(feature = "otlp")]
        ExporterKind::Otlp => Box::new(export::otlp::exporter::OtlpExporter::new(
            config,
            config.otlp.clone().unwrap_or_default(),
        )),
        #[cfg(feature = "file")]
        ExporterKind::File => Box::new(export::file::FileExporter::new(config)),
        #[cfg(feature = "html")]
        ExporterKind::Html => Box::new(export::html::HtmlExporter::new(config)),
        other => {
            return Err(Error::Config {
                setting: "MODELMETRY_EXPORTER",
                reason: format!("the {other:?} exporter is not available in this build"),
            });
        }
    })
}

/// Replace whatever pipeline runs with one that feeds `exporter` (`None`: tracing off).
pub(crate) fn install_exporter(config: Config, exporter: Option<Box<dyn Exporter>>) -> InitGuard {
    let shutdown_timeout = config.shutdown_timeout;
    if let Some(old) = take_current(false) {
        if let Err(e) = old.shutdown(shutdown_timeout) {
            diag::report(format_args!(
                "the previous client did not finish delivering: {e}"
            ));
        }
    }
    diag::set_hook(config.on_error.clone());
    crate::time::calibrate();
    let settings = capture_settings(&config);
    capture::set_global_settings(settings);
    let Some(exporter) = exporter else {
        return InitGuard { pipeline: None };
    };
    let pipeline = Pipeline::start(config, exporter);
    *PIPELINE.write().unwrap_or_else(PoisonError::into_inner) = Some(pipeline.clone());
    dispatch::set_global(Dispatch::global(pipeline.clone(), settings));
    InitGuard {
        pipeline: Some(pipeline),
    }
}

/// What `config` says to capture.
pub(crate) fn capture_settings(config: &Config) -> capture::Settings {
    capture::Settings {
        content: config.capture_content,
        value_limit: config.max_value_bytes,
        debug: config.capture_debug,
        sample_rate: config.sampling.rate,
    }
}

/// Stop dispatching to the running client and hand it over (to be shut down). With
/// `by_guard`, the first span opened afterwards says that tracing was shut down.
fn take_current(by_guard: bool) -> Option<Arc<Pipeline>> {
    dispatch::take_global(by_guard);
    PIPELINE
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
}

/// Refuse to wait from inside a callback the SDK runs: the wait would be on itself.
fn not_in_callback() -> Result<(), Error> {
    if switch::in_user_code() {
        return Err(Error::InCallback);
    }
    Ok(())
}

/// Deliver everything finished so far, waiting at most `timeout`.
///
/// Returns [`Error::Timeout`] if records were still undelivered at the deadline (they stay
/// buffered and go with the next export). Never waits past the deadline, even against a
/// server that accepts the connection and never answers. Without [`init`], returns `Ok`.
pub fn flush(timeout: Duration) -> Result<(), Error> {
    not_in_callback()?;
    match current() {
        Some(p) => p.flush(timeout),
        None => Ok(()),
    }
}

/// Flush, waiting at most the configured shutdown timeout (for `#[trace(flush)]`).
pub(crate) fn flush_with_configured_timeout() -> Result<(), Error> {
    not_in_callback()?;
    match current() {
        Some(p) => p.flush(p.config().shutdown_timeout),
        None => Ok(()),
    }
}

/// Deliver what is left and stop, waiting at most `timeout`. Afterwards tracing is off (spans
/// are no-ops) until the next [`init`]. What could not be delivered in time is counted in
/// [`stats`](crate::stats)`().dropped.shutdown`.
pub fn shutdown(timeout: Duration) -> Result<(), Error> {
    not_in_callback()?;
    match take_current(false) {
        Some(p) => p.shutdown(timeout),
        None => Ok(()),
    }
}

/// Shut the running client down within its configured shutdown timeout (on a signal).
#[cfg(all(feature = "signal", unix))]
pub(crate) fn shutdown_with_configured_timeout() -> Result<(), Error> {
    match take_current(false) {
        Some(p) => p.shutdown(p.config().shutdown_timeout),
        None => Ok(()),
    }
}

/// Send what the disk spool holds now (see [`Config::spool_dir`]), on this thread, waiting at
/// most `timeout`. The client also does this by itself when it starts, and after a
/// successful send once earlier sends were spooled.
///
/// Returns [`Error::Timeout`] with the number of records still on disk if some could not be
/// delivered (the server is still unreachable, or the time ran out). Without a client or a
/// spool, returns `Ok`.
pub fn replay_spool(timeout: Duration) -> Result<(), Error> {
    not_in_callback()?;
    match current() {
        Some(p) => p.replay_spool(timeout),
        None => Ok(()),
    }
}

/// Returned by [`init`]: shuts the client down (delivering what is left, within the
/// configured shutdown timeout) when dropped.
///
/// A guard returned by a second `init` (while the first client runs) is inactive: dropping it
/// changes nothing.
#[must_use = "dropping the guard shuts tracing down at once; keep it alive: `let _guard = modelmetry::init();`"]
pub struct InitGuard {
    pipeline: Option<Arc<Pipeline>>,
}

/// The former name of [`InitGuard`].
#[deprecated(since = "0.2.0", note = "renamed `InitGuard`")]
pub type Guard = InitGuard;

impl InitGuard {
    /// True if this guard's client is running (false after an invalid setting or with the
    /// `none` exporter).
    pub fn is_active(&self) -> bool {
        self.pipeline.is_some()
    }

    /// Deliver everything finished so far, waiting at most `timeout` (see [`flush`]).
    pub fn flush(&self, timeout: Duration) -> Result<(), Error> {
        not_in_callback()?;
        match &self.pipeline {
            Some(p) => p.flush(timeout),
            None => Ok(()),
        }
    }
}

impl Drop for InitGuard {
    fn drop(&mut self) {
        let Some(mine) = self.pipeline.take() else {
            return;
        };
        // Only shut down the client this guard started, not one installed after it.
        let is_current = current().is_some_and(|p| Arc::ptr_eq(&p, &mine));
        if is_current {
            take_current(true);
        }
        let timeout = mine.config().shutdown_timeout;
        if let Err(e) = mine.shutdown(timeout) {
            diag::report(format_args!("at shutdown: {e}"));
        }
    }
}

impl std::fmt::Debug for InitGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitGuard")
            .field("active", &self.is_active())
            .finish()
    }
}
