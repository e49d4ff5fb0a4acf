//! Trace and span ids: raw bits on the hot path, text only at export.
//!
//! Ids come from a per-thread SplitMix64 generator seeded from the standard library's
//! randomly keyed hasher, so no id costs a system call or a lock. Trace ids are 128 random bits
//! with the UUID version 4 and variant bits set, so the same value reads as a W3C trace id and as
//! the trace's `XID`. A span's `XID` is derived from its trace id and span id (see
//! [`span_xid`]), so a service that only knows a remote parent's ids (from `traceparent`)
//! names the same parent as the service that recorded it.

use std::hash::{BuildHasher, Hasher};

/// A 128-bit trace id (the W3C `trace-id`, and the trace's `XID` as a UUID).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub u128);

/// A 64-bit span id (the W3C `parent-id`). Zero means "none".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub u64);

impl SpanId {
    /// No span: a signal addressed to the trace itself.
    pub const NONE: SpanId = SpanId(0);
}

impl TraceId {
    /// The id as 32 lowercase hex digits (W3C and OTLP form).
    pub fn to_hex(self) -> String {
        format!("{:032x}", self.0)
    }

    /// The id as a hyphenated UUID (`8-4-4-4-12`), the form of the trace's `XID`.
    pub fn to_uuid(self) -> String {
        uuid_text(self.0)
    }
}

impl SpanId {
    /// The id as 16 lowercase hex digits (W3C and OTLP form).
    pub fn to_hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

impl std::fmt::Debug for TraceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TraceId({:032x})", self.0)
    }
}

impl std::fmt::Debug for SpanId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SpanId({:016x})", self.0)
    }
}

/// The `XID` of a span (as the bits of a UUID): the first 64 bits of its trace id followed by
/// its span id.
///
/// Deterministic, so a `ParentID` can be named by a process that only received the parent's
/// `traceparent`; unique as long as span ids are unique within a trace (64 random bits).
pub(crate) fn span_xid_bits(trace: TraceId, span: SpanId) -> u128 {
    ((trace.0 >> 64) << 64) | u128::from(span.0)
}

pub(crate) fn uuid_text(bits: u128) -> String {
    write_uuid(bits, &mut [0; 36]).to_owned()
}

/// `bits` with the UUID version 4 and RFC 4122 variant bits set.
pub(crate) fn uuid_v4(bits: u128) -> u128 {
    let bits = (bits & !(0xF << 76)) | (0x4 << 76);
    (bits & !(0x3 << 62)) | (0x2 << 62)
}

/// A SplitMix64 generator: a few cycles per id, good statistical quality, no allocation.
#[derive(Clone, Copy)]
pub(crate) struct IdGen {
    state: u64,
}

impl IdGen {
    pub(crate) const fn unseeded() -> Self {
        IdGen { state: 0 }
    }

    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        if self.state == 0 {
            self.state = seed();
        }
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }

    #[inline]
    pub(crate) fn span_id(&mut self) -> SpanId {
        loop {
            let v = self.next_u64();
            if v != 0 {
                return SpanId(v);
            }
        }
    }

    pub(crate) fn trace_id(&mut self) -> TraceId {
        let hi = u128::from(self.next_u64());
        let lo = u128::from(self.next_u64());
        // UUID version 4 and RFC 4122 variant, so the trace XID is a well-formed UUID.
        TraceId(uuid_v4((hi << 64) | lo))
    }
}

/// SplitMix64's increment: odd, so `base + n * GOLDEN_GAMMA` visits every value once.
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a bijection of `u64` that scatters neighbouring inputs.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The id of the span at `index` in an arena whose ids start from `base` (one random draw per
/// frame): SplitMix64's `index`-th output from state `base`, so ids are made only when they are
/// needed (at export, or when a child or a propagated context names the span), not when a span
/// opens. Distinct indexes give distinct ids (`mix` is a bijection, and the odd increment
/// gives distinct states); the one index whose output would be zero gets another fixed value
/// instead (a clash with it is as likely as two random ids clashing).
#[inline]
pub(crate) fn span_id_at(base: u64, index: u32) -> SpanId {
    let state = base.wrapping_add((u64::from(index) + 1).wrapping_mul(GOLDEN_GAMMA));
    match mix(state) {
        0 => SpanId(GOLDEN_GAMMA),
        v => SpanId(v),
    }
}

fn seed() -> u64 {
    // RandomState is keyed from the OS once per process and varied per instance; mixing in the
    // thread id and a stack address keeps two threads from sharing a sequence.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    let marker = 0u8;
    h.write_usize(std::ptr::addr_of!(marker) as usize);
    h.write(format!("{:?}", std::thread::current().id()).as_bytes());
    h.finish() | 1
}

/// An id from a generator of its own, for code off the hot path (retry jitter).
pub(crate) fn random_u128() -> u128 {
    let mut g = IdGen::unseeded();
    (u128::from(g.next_u64()) << 64) | u128::from(g.next_u64())
}

/// `bits` as a hyphenated UUID (`8-4-4-4-12`, lowercase), written into `buf`.
pub(crate) fn write_uuid(bits: u128, buf: &mut [u8; 36]) -> &str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut j = 0;
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            buf[j] = b'-';
            j += 1;
        }
        buf[j] = HEX[((bits >> (124 - 4 * i)) & 0xF) as usize];
        j += 1;
    }
    // Every byte is an ASCII hex digit or a hyphen.
    std::str::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_layout() {
        assert_eq!(
            uuid_text(0x0123_4567_89ab_cdef_0011_2233_4455_6677),
            "01234567-89ab-cdef-0011-223344556677"
        );
    }

    #[test]
    fn trace_ids_are_v4_uuids() {
        let mut g = IdGen::unseeded();
        for _ in 0..100 {
            let t = g.trace_id().to_uuid();
            assert_eq!(&t[14..15], "4", "{t}");
            assert!(matches!(&t[19..20], "8" | "9" | "a" | "b"), "{t}");
        }
    }

    #[test]
    fn ids_made_from_an_index_are_distinct_and_never_zero() {
        let mut g = IdGen::unseeded();
        for base in [0, u64::MAX, g.next_u64(), g.next_u64()] {
            let mut seen = std::collections::HashSet::new();
            for index in 0..100_000 {
                let id = span_id_at(base, index);
                assert_ne!(id, SpanId::NONE);
                assert!(
                    seen.insert(id),
                    "index {index} repeats an id (base {base:x})"
                );
            }
        }
        // The one state whose output is zero: `mix(0) == 0`.
        let base = 0u64.wrapping_sub(GOLDEN_GAMMA);
        assert_eq!(span_id_at(base, 0), SpanId(GOLDEN_GAMMA));
    }

    #[test]
    fn span_xid_keeps_trace_prefix_and_span_bits() {
        let t = TraceId(0xaaaa_bbbb_cccc_4ddd_8eee_ffff_0000_1111);
        let x = uuid_text(span_xid_bits(t, SpanId(0x0102_0304_0506_0708)));
        assert_eq!(x, "aaaabbbb-cccc-4ddd-0102-030405060708");
    }
}
