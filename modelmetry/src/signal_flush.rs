//! [`install_signal_flush`]: deliver what is buffered when SIGTERM or SIGINT arrives, then end
//! the process as the signal would have.
//!
//! A process ended by a signal runs no destructors, so the [`InitGuard`](crate::InitGuard)
//! never flushes. This installs handlers (through signal-hook: the handler only writes to a
//! pipe) and a thread that, on the first SIGTERM or SIGINT, shuts the client down within its
//! shutdown timeout and then restores the default action and raises the signal again: the
//! exit status is the one the signal would have given (a shell shows 143 for SIGTERM, 130 for
//! SIGINT).

use std::sync::{Mutex, PoisonError};

use signal_hook::consts::signal::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::diag;
use crate::error::Error;

static INSTALLED: Mutex<bool> = Mutex::new(false);

/// On SIGTERM or SIGINT, deliver what is buffered (within the client's shutdown timeout,
/// [`Config::shutdown_timeout`](crate::Config::shutdown_timeout), 5 s by default), then let
/// the process end as the signal would have. Opt-in, Unix only, with the `signal` feature.
///
/// Call it once, after [`init`](crate::init); later calls do nothing. Do not call it if your
/// application handles SIGTERM or SIGINT itself (a graceful-shutdown handler, tokio's
/// `ctrl_c`): once this is installed, the first of these signals ends the process after the
/// flush. Call [`shutdown`](crate::shutdown) from your own handler instead.
///
/// ```no_run
/// let _guard = modelmetry::init();
/// modelmetry::install_signal_flush().expect("signal handlers");
/// ```
///
/// Returns [`Error::Config`] if the handlers cannot be registered.
pub fn install_signal_flush() -> Result<(), Error> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if *installed {
        return Ok(());
    }
    let failed = |e: std::io::Error| Error::Config {
        setting: "install_signal_flush",
        reason: format!("cannot handle SIGTERM and SIGINT: {e}"),
    };
    let mut signals = Signals::new([SIGTERM, SIGINT]).map_err(failed)?;
    let handle = signals.handle();
    let spawned = std::thread::Builder::new()
        .name("modelmetry-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                if let Err(e) = crate::client::shutdown_with_configured_timeout() {
                    diag::report(format_args!("at signal {signal}: {e}"));
                }
                // Restore the default action and raise the signal again: the process ends as
                // it would have without us.
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                // Both signals end a process by default; should that fail, end with the
                // status a shell gives a process killed by the signal.
                std::process::exit(128 + signal);
            }
        });
    if let Err(e) = spawned {
        handle.close();
        return Err(failed(e));
    }
    *installed = true;
    Ok(())
}
