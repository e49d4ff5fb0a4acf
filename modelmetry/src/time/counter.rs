//! The crate's one `unsafe` operation: reading the CPU's time-stamp counter without going
//! through `quanta` on every span.
//!
//! `quanta` decides once per process whether the counter can be trusted (an invariant TSC,
//! checked with `cpuid`) and calibrates it against the OS's monotonic clock; when it can, its
//! `Clock::raw` is a plain `rdtsc`. But `Clock::raw` is not inlined across crates and matches on
//! the clock's kind at every call, so each read costs a call and a few tests before the
//! instruction. Here the same instruction is inlined into the span's open and close, behind one
//! relaxed load of a flag set at calibration, and only after checking that quanta's clock
//! really reads this counter (a reading of quanta's taken between two of ours). Ticks from
//! both paths are the same counter's values, so quanta scales either to nanoseconds.
//!
//! Under Miri, and on targets other than x86_64, [`read`] always returns `None`: quanta's
//! clock is used as before. Miri cannot execute `rdtsc` ("unsupported operation: can't call
//! foreign function `llvm.x86.rdtsc`"), so CI's Miri run checks this module with the
//! instruction compiled out; the instruction itself is the one quanta runs.

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// True once quanta's clock is known to read the counter [`read`] reads.
static DIRECT: AtomicBool = AtomicBool::new(false);

/// Read the counter directly from now on if (and only if) `clock` reads it too.
pub(super) fn use_if_counter(clock: &quanta::Clock) {
    DIRECT.store(reads_this_counter(clock), Relaxed);
}

/// Whether a reading of `clock` falls between two readings of the counter, in one of a few
/// tries (an interrupt between two readings can push one out of the window). A clock in
/// nanoseconds (quanta's fallback) or a mock clock is nowhere near the counter's value.
fn reads_this_counter(clock: &quanta::Clock) -> bool {
    (0..8).any(|_| {
        let (Some(before), theirs, Some(after)) = (counter(), clock.raw(), counter()) else {
            return false;
        };
        before <= theirs && theirs <= after
    })
}

/// The counter, when [`use_if_counter`] found quanta reading it; else `None`.
#[inline(always)]
pub(super) fn read() -> Option<u64> {
    if DIRECT.load(Relaxed) {
        counter()
    } else {
        None
    }
}

/// The time-stamp counter (x86_64, not under Miri).
#[inline(always)]
fn counter() -> Option<u64> {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        // SAFETY: `rdtsc` reads a register and writes nothing; it has no precondition, every
        // x86_64 CPU has it, and user mode may run it unless the OS set CR4.TSD, in which case
        // `use_if_counter` never sees quanta read it (quanta's own read would fault first).
        // It is the same read quanta makes (`quanta::clocks::counter`, a plain `_rdtsc()`).
        Some(unsafe { core::arch::x86_64::_rdtsc() })
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Mutex, PoisonError};
    use std::time::Duration;

    /// The tests that set the process-wide flag take turns.
    static FLAG: Mutex<()> = Mutex::new(());

    #[test]
    fn a_mock_clock_is_never_read_directly() {
        let (clock, mock) = quanta::Clock::mock();
        assert!(!reads_this_counter(&clock));
        mock.increment(u64::MAX / 2);
        assert!(!reads_this_counter(&clock));
    }

    #[test]
    fn off_x86_64_and_under_miri_nothing_is_read_directly() {
        let _turn = FLAG.lock().unwrap_or_else(PoisonError::into_inner);
        if !cfg!(all(target_arch = "x86_64", not(miri))) {
            assert_eq!(counter(), None);
        }
        let (mock, _m) = quanta::Clock::mock();
        use_if_counter(&mock);
        assert_eq!(read(), None);
        // Back to the process's clock for the tests that run after this one.
        #[cfg(not(miri))]
        super::super::calibrate_again();
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "quanta's calibration runs cpuid, which Miri does not emulate"
    )]
    fn direct_reads_are_quantas_ticks() {
        let _turn = FLAG.lock().unwrap_or_else(PoisonError::into_inner);
        let clock = quanta::Clock::new();
        use_if_counter(&clock);
        let Some(start) = read() else {
            // No invariant counter here: quanta reads the OS clock, and so do we.
            return;
        };
        std::thread::sleep(Duration::from_millis(20));
        let theirs = clock.raw();
        let end = read().unwrap_or(start);
        assert!(start <= theirs && theirs <= end, "{start} {theirs} {end}");
        let elapsed = Duration::from_nanos(clock.delta_as_nanos(start, end));
        assert!(
            elapsed >= Duration::from_millis(19) && elapsed < Duration::from_secs(5),
            "{elapsed:?}"
        );
    }
}
