//! Time: a monotonic `Instant` on the hot path, wall-clock text only at export.
//!
//! Each trace takes one wall-clock reading when it starts (its [`Anchor`]); every instant in the
//! trace is placed on the wall clock relative to it, so durations stay monotonic even if the
//! system clock steps while the trace runs.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One wall-clock reading paired with the monotonic instant it was taken at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Anchor {
    wall: SystemTime,
    mono: Instant,
}

impl Anchor {
    pub(crate) fn now() -> Self {
        Anchor {
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }

    /// The wall-clock time of `at`.
    pub(crate) fn wall(&self, at: Instant) -> SystemTime {
        match at.checked_duration_since(self.mono) {
            Some(after) => self.wall + after,
            None => self.wall - self.mono.duration_since(at),
        }
    }

    pub(crate) fn rfc3339(&self, at: Instant) -> String {
        rfc3339(self.wall(at))
    }
}

/// RFC 3339 in UTC with microseconds, e.g. `2024-05-01T12:00:00.123456Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        since.subsec_micros()
    )
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
    fn anchor_places_instants_before_and_after() {
        let a = Anchor::now();
        let later = a.mono + Duration::from_millis(1500);
        assert_eq!(
            a.wall(later).duration_since(a.wall).ok(),
            Some(Duration::from_millis(1500))
        );
    }
}
