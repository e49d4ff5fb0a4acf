//! Time: raw ticks of a monotonic clock on the hot path, wall-clock text only at export.
//!
//! A span's start and end are [`Tick`]s: eight bytes, read from the CPU's invariant time-stamp
//! counter where there is one (through `quanta`, which checks for it and calibrates it against
//! the OS's monotonic clock once per process) and from the OS's monotonic clock otherwise. A
//! counter read costs a fraction of `Instant::now()`, and scaling to nanoseconds waits until
//! export.
//!
//! Each trace takes one wall-clock reading when it starts (its [`Anchor`]); every tick in the
//! trace is placed on the wall clock relative to it, so durations stay monotonic even if the
//! system clock steps while the trace runs.

use std::num::NonZeroU64;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod counter;

static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

#[inline]
fn clock() -> &'static quanta::Clock {
    CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        counter::use_if_counter(&clock);
        clock
    })
}

/// Calibrate the clock now (it takes about a millisecond), so that the first span does not.
pub(crate) fn calibrate() {
    clock();
}

/// A reading of the monotonic clock, in the clock's own units. Never zero, so that
/// `Option<Tick>` is eight bytes too.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub(crate) struct Tick(NonZeroU64);

impl Tick {
    /// The clock now: the time-stamp counter, read inline, once calibration found quanta
    /// reading it ([`counter`]); else quanta's clock.
    #[inline(always)]
    pub(crate) fn now() -> Tick {
        let raw = match counter::read() {
            Some(raw) => raw,
            None => quanta_raw(),
        };
        Tick(NonZeroU64::new(raw).unwrap_or(NonZeroU64::MIN))
    }

    /// The counter's value.
    #[cfg(feature = "__bench")]
    pub(crate) fn raw(self) -> u64 {
        self.0.get()
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub(crate) fn saturating_duration_since(self, earlier: Tick) -> Duration {
        Duration::from_nanos(clock().delta_as_nanos(earlier.0.get(), self.0.get()))
    }
}

/// Decide again whether to read the counter directly, from the process's clock (a test
/// that installed a mock clock puts it back).
#[cfg(all(test, not(miri)))]
pub(crate) fn calibrate_again() {
    counter::use_if_counter(clock());
}

/// quanta's reading: the OS's monotonic clock, or the counter before calibration.
#[inline(never)]
fn quanta_raw() -> u64 {
    clock().raw()
}

/// One wall-clock reading paired with the tick it was taken at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Anchor {
    wall: SystemTime,
    mono: Tick,
}

impl Anchor {
    pub(crate) fn now() -> Self {
        Anchor {
            wall: SystemTime::now(),
            mono: Tick::now(),
        }
    }

    /// The wall-clock time of `at`.
    pub(crate) fn wall(&self, at: Tick) -> SystemTime {
        if at >= self.mono {
            self.wall + at.saturating_duration_since(self.mono)
        } else {
            self.wall - self.mono.saturating_duration_since(at)
        }
    }
}

/// The length of [`rfc3339`]'s text (for years 0000 to 9999).
pub(crate) const RFC3339_LEN: usize = 27;

/// RFC 3339 in UTC with microseconds, written into a buffer (no allocation).
pub(crate) fn write_rfc3339(t: SystemTime, buf: &mut [u8; RFC3339_LEN]) -> &str {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let y = y.clamp(0, 9999) as u32;
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, (rem / 3600) as u32);
    put(14, 2, ((rem % 3600) / 60) as u32);
    put(17, 2, (rem % 60) as u32);
    put(20, 6, since.subsec_micros());
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ] {
        buf[i] = c;
    }
    // Every byte written above is an ASCII digit or separator.
    std::str::from_utf8(buf).unwrap_or_default()
}

/// RFC 3339 in UTC with microseconds, e.g. `2024-05-01T12:00:00.123456Z`.
#[cfg(test)]
fn rfc3339(t: SystemTime) -> String {
    write_rfc3339(t, &mut [0; RFC3339_LEN]).to_owned()
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let t = UNIX_EPOCH + Duration::from_micros(1_709_251_199_123_456);
        assert_eq!(rfc3339(t), "2024-02-29T23:59:59.123456Z");
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_800);
        assert_eq!(rfc3339(t), "2100-01-01T00:00:00.000000Z");
    }

    #[test]
    fn formats_the_last_instant_of_year_9999() {
        let t = UNIX_EPOCH + Duration::from_micros(253_402_300_799_999_999);
        assert_eq!(rfc3339(t), "9999-12-31T23:59:59.999999Z");
    }

    #[test]
    fn anchor_places_ticks_before_and_after() {
        let before = Tick::now();
        std::thread::sleep(Duration::from_millis(20));
        let a = Anchor::now();
        std::thread::sleep(Duration::from_millis(20));
        let after = Tick::now();
        let ahead = a.wall(after).duration_since(a.wall).unwrap_or_default();
        let behind = a.wall.duration_since(a.wall(before)).unwrap_or_default();
        assert!(ahead >= Duration::from_millis(19), "{ahead:?}");
        assert!(behind >= Duration::from_millis(19), "{behind:?}");
        assert!(ahead < Duration::from_secs(5) && behind < Duration::from_secs(5));
    }
}
