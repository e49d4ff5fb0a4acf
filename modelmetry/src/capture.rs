//! Captured content (inputs, outputs) and metadata values as JSON: capped in size and with
//! non-finite numbers written as text.
//!
//! `serde_json::to_value` has two traps for an SDK: it turns NaN and ±infinity into `null`
//! without a word (the data silently changes), and it copies a value whole however large it
//! is (a 50 MB prompt becomes 50 MB more of memory held until export). So values are built by
//! [`Builder`], a serde `Serializer` of our own that
//! - writes a non-finite `f32`/`f64` as the string `"NaN"`, `"Infinity"` or `"-Infinity"`, and
//!   an integer beyond 64 bits as its decimal string, and counts each in
//!   [`Stats::sanitized`](crate::Stats);
//! - stops at a budget of JSON bytes ([`Config::max_value_bytes`](crate::Config), 256 KiB by
//!   default): strings are cut (ending in `…`), arrays and maps keep their first entries, and
//!   nothing past the budget is ever copied. A cut value is counted in
//!   [`Stats::truncated`](crate::Stats) and noted in the record's metadata under
//!   `modelmetry.truncated` as `{"field": ..., "original_bytes": ...}`.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use serde::Serialize;
use serde::ser::{self, SerializeMap as _, SerializeSeq as _};
use serde_json::{Map, Value};

use crate::stats;

/// The metadata key under which cut values are listed.
pub(crate) const TRUNCATED_KEY: &str = crate::metadata_keys::TRUNCATED;

/// The default cap on one captured value, in bytes of JSON.
pub(crate) const DEFAULT_MAX_VALUE_BYTES: usize = 256 * 1024;

static CONTENT: AtomicBool = AtomicBool::new(true);
static VALUE_LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_VALUE_BYTES);

thread_local! {
    /// The settings of a dispatch scoped to this thread (a test's recorder), over the global
    /// ones.
    static THREAD_SETTINGS: Cell<Option<Settings>> = const { Cell::new(None) };
}

/// What is captured, and how much of each value: set by the dispatch that records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Inputs, outputs, messages and documents are recorded.
    pub(crate) content: bool,
    /// The cap on one captured value, in bytes of JSON.
    pub(crate) value_limit: usize,
}

fn thread_settings() -> Option<Settings> {
    THREAD_SETTINGS.try_with(Cell::get).ok().flatten()
}

/// Whether inputs, outputs, messages and documents are recorded
/// (`MODELMETRY_CAPTURE_CONTENT`, [`Config::capture_content`](crate::Config::capture_content)).
#[inline]
pub fn content_enabled() -> bool {
    match thread_settings() {
        Some(s) => s.content,
        None => CONTENT.load(Relaxed),
    }
}

/// The cap on one captured value, in bytes of JSON.
pub(crate) fn value_limit() -> usize {
    match thread_settings() {
        Some(s) => s.value_limit,
        None => VALUE_LIMIT.load(Relaxed),
    }
}

/// The settings of the process-wide client.
pub(crate) fn set_global_settings(settings: Settings) {
    CONTENT.store(settings.content, Relaxed);
    VALUE_LIMIT.store(settings.value_limit, Relaxed);
}

/// The settings of the dispatch scoped to this thread (`None`: the global ones).
pub(crate) fn set_thread_settings(settings: Option<Settings>) {
    let _ = THREAD_SETTINGS.try_with(|c| c.set(settings));
}

/// A value as captured: its JSON, and its size before it was cut, if it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Captured {
    pub(crate) value: Value,
    pub(crate) original_bytes: Option<usize>,
}

impl Captured {
    /// The value, after noting in `metadata` that field `field` was cut, if it was.
    pub(crate) fn noted(self, metadata: &mut Map<String, Value>, field: &str) -> Value {
        if let Some(original) = self.original_bytes {
            note_truncated(metadata, field, original);
        }
        self.value
    }

    /// Insert the value into `metadata` under `key`, noting a cut as `Metadata.{key}`.
    pub(crate) fn insert_into(self, metadata: &mut Map<String, Value>, key: &str) {
        let value = self.noted(metadata, &format!("Metadata.{key}"));
        metadata.insert(key.to_owned(), value);
    }
}

/// Add `{"field": field, "original_bytes": original}` to `metadata["modelmetry.truncated"]`.
pub(crate) fn note_truncated(metadata: &mut Map<String, Value>, field: &str, original: usize) {
    let entry = serde_json::json!({"field": field, "original_bytes": original});
    match metadata.get_mut(TRUNCATED_KEY) {
        Some(Value::Array(list)) => list.push(entry),
        _ => {
            metadata.insert(TRUNCATED_KEY.to_owned(), Value::Array(vec![entry]));
        }
    }
}

/// Content as JSON, capped; `None` when content capture is off.
pub(crate) fn content<T: Serialize + ?Sized>(value: &T) -> Option<Captured> {
    content_enabled().then(|| metadata(value))
}

/// Any value as JSON, capped. A value that cannot be serialised (a map with keys that are not
/// strings or numbers, a failing `Serialize` impl) becomes a string saying why, never an error
/// in the application.
pub(crate) fn metadata<T: Serialize + ?Sized>(value: &T) -> Captured {
    capped(value, value_limit()).unwrap_or_else(|| Captured {
        value: Value::String("…".into()),
        original_bytes: Some(json_len(value)),
    })
}

/// `value` as JSON of at most `limit` bytes, counted in the stats; `None` if not even an
/// empty value fits.
pub(crate) fn capped<T: Serialize + ?Sized>(value: &T, limit: usize) -> Option<Captured> {
    let (captured, non_finite) = build(value, limit)?;
    if non_finite > 0 {
        stats::count_sanitized(non_finite);
    }
    if captured.original_bytes.is_some() {
        stats::count_truncated(1);
    }
    Some(captured)
}

/// `value` as JSON of at most `limit` bytes, for the record-level cut (which counts its own
/// fields): `None` if not even an empty value fits.
pub(crate) fn fit_value(value: &Value, limit: usize) -> Option<Value> {
    build(value, limit).map(|(c, _)| c.value)
}

/// The capture itself, and the number of non-finite numbers written as text.
fn build<T: Serialize + ?Sized>(value: &T, limit: usize) -> Option<(Captured, u64)> {
    let st = State {
        remaining: Cell::new(limit),
        overflow: Cell::new(false),
        cut: Cell::new(false),
        non_finite: Cell::new(0),
    };
    let built = match value.serialize(Builder { st: &st }) {
        Ok(_) if st.overflow.get() => return None,
        Ok(v) => v,
        Err(e) => Value::String(format!("<not serialisable: {e}>")),
    };
    // Measuring the original serialises it once more, keeping nothing: only when it was cut.
    let original_bytes = st.cut.get().then(|| json_len(value));
    Some((
        Captured {
            value: built,
            original_bytes,
        },
        st.non_finite.get(),
    ))
}

/// The length of `value` as JSON, measured without building it (non-finite numbers count as
/// `null`, as serde_json writes them).
pub(crate) fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        // A value serde_json refuses (non-string map keys) is measured as far as it got.
        Err(_) => count.0,
    }
}

/// The length of `s` as a JSON string, quotes included, escaped as serde_json escapes.
pub(crate) fn json_str_len(s: &str) -> usize {
    2 + s.bytes().map(escaped_len).sum::<usize>()
}

fn escaped_len(b: u8) -> usize {
    match b {
        b'"' | b'\\' | 0x08 | 0x0c | b'\n' | b'\r' | b'\t' => 2,
        0..=0x1f => 6,
        _ => 1,
    }
}

/// `s` if its JSON string (quotes included) fits `budget` bytes; else its longest prefix that
/// fits, ending in `…` when there is room for it. `budget` must be at least 2.
pub(crate) fn cut_str(s: &str, budget: usize) -> String {
    const ELLIPSIS: &str = "…";
    if json_str_len(s) <= budget {
        return s.to_owned();
    }
    let avail = budget.saturating_sub(2);
    let (room, mark) = if avail > ELLIPSIS.len() {
        (avail - ELLIPSIS.len(), true)
    } else {
        (avail, false)
    };
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let mut buf = [0u8; 4];
        let w: usize = c.encode_utf8(&mut buf).bytes().map(escaped_len).sum();
        if used + w > room {
            break;
        }
        used += w;
        end = i + c.len_utf8();
    }
    let mut out = String::with_capacity(end + ELLIPSIS.len());
    out.push_str(&s[..end]);
    if mark {
        out.push_str(ELLIPSIS);
    }
    out
}

// ---- the serializer ------------------------------------------------------------------------

/// The budget shared by one capture.
struct State {
    /// Bytes of JSON still free.
    remaining: Cell<usize>,
    /// Set by a value that could not fit at all; the container that asked for it leaves it out
    /// (and clears the flag).
    overflow: Cell<bool>,
    /// Something was cut or left out.
    cut: Cell<bool>,
    /// Non-finite numbers written as text.
    non_finite: Cell<u64>,
}

impl State {
    fn take(&self, n: usize) -> bool {
        let r = self.remaining.get();
        if n <= r {
            self.remaining.set(r - n);
            true
        } else {
            false
        }
    }

    fn give_back(&self, n: usize) {
        self.remaining.set(self.remaining.get() + n);
    }

    /// A value that does not fit: the caller's container drops it.
    fn overflowed(&self) -> Result<Value, CaptureError> {
        self.overflow.set(true);
        self.cut.set(true);
        Ok(Value::Null)
    }
}

/// Why a value could not be serialised.
#[derive(Debug)]
pub(crate) struct CaptureError(String);

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CaptureError {}

impl ser::Error for CaptureError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CaptureError(msg.to_string())
    }
}

/// Builds a `serde_json::Value` within the budget of its [`State`].
#[derive(Clone, Copy)]
struct Builder<'a> {
    st: &'a State,
}

impl<'a> Builder<'a> {
    fn scalar(self, value: Value, cost: usize) -> Result<Value, CaptureError> {
        if self.st.take(cost) {
            Ok(value)
        } else {
            self.st.overflowed()
        }
    }

    fn number<N: Into<Value> + itoa_len::Digits>(self, n: N) -> Result<Value, CaptureError> {
        let cost = n.digits();
        self.scalar(n.into(), cost)
    }

    fn float(self, v: f64) -> Result<Value, CaptureError> {
        if !v.is_finite() {
            self.st.non_finite.set(self.st.non_finite.get() + 1);
            let text = if v.is_nan() {
                "NaN"
            } else if v > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            };
            return self.string(text);
        }
        let value = Value::from(v);
        let cost = json_len(&value);
        self.scalar(value, cost)
    }

    fn string(self, s: &str) -> Result<Value, CaptureError> {
        let full = json_str_len(s);
        if self.st.take(full) {
            return Ok(Value::String(s.to_owned()));
        }
        let r = self.st.remaining.get();
        if r < 2 {
            return self.st.overflowed();
        }
        self.st.cut.set(true);
        let kept = cut_str(s, r);
        self.st.take(json_str_len(&kept));
        Ok(Value::String(kept))
    }

    fn seq(self) -> Seq<'a> {
        Seq {
            st: self.st,
            items: Vec::new(),
            open: self.st.take(2),
            full: false,
        }
    }

    fn map(self) -> Obj<'a> {
        Obj {
            st: self.st,
            entries: Map::new(),
            open: self.st.take(2),
            full: false,
            key: None,
        }
    }

    /// The `{"variant": ...}` wrapper of an enum variant: its braces, key and colon.
    fn variant_cost(variant: &str) -> usize {
        2 + json_str_len(variant) + 1
    }
}

/// Digit counts of integers, for the budget, without formatting them.
mod itoa_len {
    pub(super) trait Digits {
        fn digits(&self) -> usize;
    }

    macro_rules! unsigned {
        ($($t:ty),*) => {$(
            impl Digits for $t {
                fn digits(&self) -> usize {
                    (*self as u64).checked_ilog10().map_or(1, |d| d as usize + 1)
                }
            }
        )*};
    }
    macro_rules! signed {
        ($($t:ty),*) => {$(
            impl Digits for $t {
                fn digits(&self) -> usize {
                    let v = *self as i64;
                    usize::from(v < 0) + v.unsigned_abs().checked_ilog10().map_or(1, |d| d as usize + 1)
                }
            }
        )*};
    }
    unsigned!(u8, u16, u32, u64);
    signed!(i8, i16, i32, i64);
}

impl<'a> ser::Serializer for Builder<'a> {
    type Ok = Value;
    type Error = CaptureError;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Variant<Seq<'a>>;
    type SerializeMap = Obj<'a>;
    type SerializeStruct = Obj<'a>;
    type SerializeStructVariant = Variant<Obj<'a>>;

    fn serialize_bool(self, v: bool) -> Result<Value, CaptureError> {
        self.scalar(Value::Bool(v), if v { 4 } else { 5 })
    }
    fn serialize_i8(self, v: i8) -> Result<Value, CaptureError> {
        self.number(v)
    }
    fn serialize_i16(self, v: i16) -> Result<Value, CaptureError> {
        self.number(v)
    }
    fn serialize_i32(self, v: i32) -> Result<Value, CaptureError> {
        self.number(v)
    }
    fn serialize_i64(self, v: i64) -> Result<Value, CaptureError> {
        self.number(v)
    }
    fn serialize_i128(self, v: i128) -> Result<Value, CaptureError> {
        match i64::try_from(v) {
            Ok(v) => self.number(v),
            // JSON numbers beyond 64 bits lose digits in most readers: keep them exact as text.
            Err(_) => self.string(&v.to_string()),
        }
    }
    fn serialize_u8(self, v: u8) -> Result<Value, CaptureError> {
        self.number(v)
    }
    fn serialize_u16(self, v: u16) -> Result<Value, CaptureError> {
        self.number(v)
    }
    fn serialize_u32(self, v: u32) -> Result<Value, CaptureError> {
        self.number(v)
    }
    fn serialize_u64(self, v: u64) -> Result<Value, CaptureError> {
        self.number(v)
    }
    fn serialize_u128(self, v: u128) -> Result<Value, CaptureError> {
        match u64::try_from(v) {
            Ok(v) => self.number(v),
            Err(_) => self.string(&v.to_string()),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<Value, CaptureError> {
        if v.is_finite() {
            let value = Value::from(v);
            let cost = json_len(&value);
            self.scalar(value, cost)
        } else {
            self.float(f64::from(v))
        }
    }
    fn serialize_f64(self, v: f64) -> Result<Value, CaptureError> {
        self.float(v)
    }
    fn serialize_char(self, v: char) -> Result<Value, CaptureError> {
        self.string(v.encode_utf8(&mut [0u8; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<Value, CaptureError> {
        self.string(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, CaptureError> {
        let mut seq = self.seq();
        for b in v {
            if seq.full || !seq.open {
                seq.st.cut.set(true);
                break;
            }
            seq.serialize_element(b)?;
        }
        ser::SerializeSeq::end(seq)
    }
    fn serialize_none(self) -> Result<Value, CaptureError> {
        self.scalar(Value::Null, 4)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, CaptureError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, CaptureError> {
        self.scalar(Value::Null, 4)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, CaptureError> {
        self.scalar(Value::Null, 4)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, CaptureError> {
        self.string(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, CaptureError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, CaptureError> {
        let mut obj = self.map();
        obj.serialize_entry(variant, value)?;
        ser::SerializeMap::end(obj)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'a>, CaptureError> {
        // The length hint is ignored: a huge hint must not reserve memory we will not fill.
        Ok(self.seq())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Seq<'a>, CaptureError> {
        Ok(self.seq())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Seq<'a>, CaptureError> {
        Ok(self.seq())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Variant<Seq<'a>>, CaptureError> {
        let cost = Builder::variant_cost(variant);
        let open = self.st.take(cost);
        Ok(Variant {
            variant,
            cost,
            open,
            inner: self.seq(),
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Obj<'a>, CaptureError> {
        Ok(self.map())
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Obj<'a>, CaptureError> {
        Ok(self.map())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Variant<Obj<'a>>, CaptureError> {
        let cost = Builder::variant_cost(variant);
        let open = self.st.take(cost);
        Ok(Variant {
            variant,
            cost,
            open,
            inner: self.map(),
        })
    }
}

/// An array being built: elements are kept in order until one does not fit; the rest are
/// left out (a prefix, never a sample).
struct Seq<'a> {
    st: &'a State,
    items: Vec<Value>,
    /// The brackets fitted; if not, the whole array is left out by its container.
    open: bool,
    /// An element did not fit: every later one is left out.
    full: bool,
}

impl Seq<'_> {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CaptureError> {
        if !self.open || self.full {
            self.st.cut.set(true);
            return Ok(());
        }
        let comma = usize::from(!self.items.is_empty());
        if !self.st.take(comma) {
            self.full = true;
            self.st.cut.set(true);
            return Ok(());
        }
        self.st.overflow.set(false);
        let v = value.serialize(Builder { st: self.st })?;
        if self.st.overflow.replace(false) {
            self.st.give_back(comma);
            self.full = true;
        } else {
            self.items.push(v);
        }
        Ok(())
    }

    fn finish(self) -> Result<Value, CaptureError> {
        if self.open {
            Ok(Value::Array(self.items))
        } else {
            self.st.overflowed()
        }
    }
}

/// Sequences, tuples and tuple structs are all a JSON array: one `push` per element.
macro_rules! seq_like {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Seq<'_> {
            type Ok = Value;
            type Error = CaptureError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CaptureError> {
                self.push(value)
            }
            fn end(self) -> Result<Value, CaptureError> {
                self.finish()
            }
        }
    )*};
}

seq_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

/// An object being built: entries are kept in order until one does not fit.
struct Obj<'a> {
    st: &'a State,
    entries: Map<String, Value>,
    open: bool,
    full: bool,
    /// The key given by `serialize_key`, waiting for its value.
    key: Option<String>,
}

impl Obj<'_> {
    fn entry<T: Serialize + ?Sized>(&mut self, key: String, value: &T) -> Result<(), CaptureError> {
        if !self.open || self.full {
            self.st.cut.set(true);
            return Ok(());
        }
        let cost = usize::from(!self.entries.is_empty()) + json_str_len(&key) + 1;
        if !self.st.take(cost) {
            self.full = true;
            self.st.cut.set(true);
            return Ok(());
        }
        self.st.overflow.set(false);
        let v = value.serialize(Builder { st: self.st })?;
        if self.st.overflow.replace(false) {
            self.st.give_back(cost);
            self.full = true;
        } else {
            self.entries.insert(key, v);
        }
        Ok(())
    }

    fn finish(self) -> Result<Value, CaptureError> {
        if self.open {
            Ok(Value::Object(self.entries))
        } else {
            self.st.overflowed()
        }
    }
}

impl ser::SerializeMap for Obj<'_> {
    type Ok = Value;
    type Error = CaptureError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CaptureError> {
        self.key = Some(key.serialize(KeyBuilder { st: self.st })?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CaptureError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| CaptureError("a map value came without its key".into()))?;
        self.entry(key, value)
    }
    fn end(self) -> Result<Value, CaptureError> {
        self.finish()
    }
}

impl ser::SerializeStruct for Obj<'_> {
    type Ok = Value;
    type Error = CaptureError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CaptureError> {
        self.entry(key.to_owned(), value)
    }
    fn end(self) -> Result<Value, CaptureError> {
        self.finish()
    }
}

/// `{"variant": inner}` for tuple and struct variants.
struct Variant<I> {
    variant: &'static str,
    cost: usize,
    /// The wrapper's own bytes fitted.
    open: bool,
    inner: I,
}

impl<I> Variant<I> {
    fn wrap(self, st: &State, inner: Result<Value, CaptureError>) -> Result<Value, CaptureError> {
        let inner = inner?;
        if !self.open || st.overflow.get() {
            if self.open {
                st.give_back(self.cost);
            }
            return st.overflowed();
        }
        let mut m = Map::new();
        m.insert(self.variant.to_owned(), inner);
        Ok(Value::Object(m))
    }
}

impl<'a> ser::SerializeTupleVariant for Variant<Seq<'a>> {
    type Ok = Value;
    type Error = CaptureError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CaptureError> {
        self.inner.push(value)
    }
    fn end(mut self) -> Result<Value, CaptureError> {
        let st = self.inner.st;
        let inner = std::mem::replace(
            &mut self.inner,
            Seq {
                st,
                items: Vec::new(),
                open: false,
                full: true,
            },
        );
        let built = inner.finish();
        self.wrap(st, built)
    }
}

impl<'a> ser::SerializeStructVariant for Variant<Obj<'a>> {
    type Ok = Value;
    type Error = CaptureError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CaptureError> {
        self.inner.entry(key.to_owned(), value)
    }
    fn end(mut self) -> Result<Value, CaptureError> {
        let st = self.inner.st;
        let inner = std::mem::replace(
            &mut self.inner,
            Obj {
                st,
                entries: Map::new(),
                open: false,
                full: true,
                key: None,
            },
        );
        let built = inner.finish();
        self.wrap(st, built)
    }
}

/// Map keys as JSON object keys: strings as they are; numbers, booleans and unit variants as
/// their text, as serde_json does; anything else is an error.
struct KeyBuilder<'a> {
    st: &'a State,
}

fn key_error() -> CaptureError {
    CaptureError("a map key must be a string, a number, a boolean or a unit variant".into())
}

impl ser::Serializer for KeyBuilder<'_> {
    type Ok = String;
    type Error = CaptureError;
    type SerializeSeq = ser::Impossible<String, CaptureError>;
    type SerializeTuple = ser::Impossible<String, CaptureError>;
    type SerializeTupleStruct = ser::Impossible<String, CaptureError>;
    type SerializeTupleVariant = ser::Impossible<String, CaptureError>;
    type SerializeMap = ser::Impossible<String, CaptureError>;
    type SerializeStruct = ser::Impossible<String, CaptureError>;
    type SerializeStructVariant = ser::Impossible<String, CaptureError>;

    fn serialize_bool(self, v: bool) -> Result<String, CaptureError> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, CaptureError> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, CaptureError> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, CaptureError> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, CaptureError> {
        Ok(v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Result<String, CaptureError> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, CaptureError> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, CaptureError> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, CaptureError> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, CaptureError> {
        Ok(v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Result<String, CaptureError> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, v: f32) -> Result<String, CaptureError> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<String, CaptureError> {
        if !v.is_finite() {
            self.st.non_finite.set(self.st.non_finite.get() + 1);
        }
        Ok(if v.is_nan() {
            "NaN".to_owned()
        } else if v.is_infinite() {
            if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
        } else {
            v.to_string()
        })
    }
    fn serialize_char(self, v: char) -> Result<String, CaptureError> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<String, CaptureError> {
        Ok(v.to_owned())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, CaptureError> {
        Err(key_error())
    }
    fn serialize_none(self) -> Result<String, CaptureError> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, CaptureError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<String, CaptureError> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, CaptureError> {
        Err(key_error())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, CaptureError> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, CaptureError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, CaptureError> {
        Err(key_error())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, CaptureError> {
        Err(key_error())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, CaptureError> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, CaptureError> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, CaptureError> {
        Err(key_error())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, CaptureError> {
        Err(key_error())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, CaptureError> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, CaptureError> {
        Err(key_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::{BTreeMap, HashMap};

    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(i32, String),
        Struct { a: Option<bool>, b: Vec<f32> },
    }

    #[derive(Serialize)]
    struct Everything {
        shapes: Vec<Shape>,
        tuple: (u64, i64, char),
        bytes: serde_bytes_like::Bytes,
        map: BTreeMap<i32, &'static str>,
        unit: (),
        nested: Value,
        text: &'static str,
    }

    mod serde_bytes_like {
        /// Serialised with `serialize_bytes`, as `serde_bytes` does.
        pub(super) struct Bytes(pub(super) Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    fn everything() -> Everything {
        Everything {
            shapes: vec![
                Shape::Unit,
                Shape::Newtype(7),
                Shape::Tuple(-3, "t".into()),
                Shape::Struct {
                    a: None,
                    b: vec![0.5, -1.25],
                },
            ],
            tuple: (u64::MAX, i64::MIN, 'é'),
            bytes: serde_bytes_like::Bytes(vec![0, 1, 255]),
            map: [(1, "one"), (-2, "minus two")].into_iter().collect(),
            unit: (),
            nested: json!({"a": [1, 2.5, null, true, "x\u{1}\"\\\n"], "b": {}}),
            text: "héllo \u{1F600}",
        }
    }

    #[test]
    fn what_fits_is_exactly_what_serde_json_writes() {
        let v = everything();
        let c = capped(&v, 1 << 20).expect("fits");
        assert_eq!(c.original_bytes, None);
        assert_eq!(Some(&c.value), serde_json::to_value(&v).ok().as_ref());
        // The budget accounting is exact: the whole value fits a budget of its own size, and
        // not one byte less.
        let len = json_len(&v);
        assert_eq!(capped(&v, len).map(|c| c.original_bytes), Some(None));
        assert!(capped(&v, len - 1).is_some_and(|c| c.original_bytes == Some(len)));
    }

    #[test]
    fn string_lengths_match_serde_json_escaping() {
        let mut all: String = (0u8..128).map(char::from).collect();
        all.push_str("é€\u{1F600}\u{7f}\u{2028}");
        assert_eq!(json_str_len(&all), json_len(&all));
        for budget in 2..40 {
            let cut = cut_str(&all, budget);
            assert!(json_str_len(&cut) <= budget, "{budget}: {cut:?}");
            assert!(all.starts_with(cut.trim_end_matches('…')));
        }
    }

    #[test]
    fn non_finite_numbers_become_text_never_null() {
        let c = capped(&(f64::NAN, f64::INFINITY, f32::NEG_INFINITY, 1.5), 1024).expect("fits");
        assert_eq!(c.value, json!(["NaN", "Infinity", "-Infinity", 1.5]));
        let keys: HashMap<String, f64> = [("x".to_owned(), f64::NAN)].into_iter().collect();
        assert_eq!(
            capped(&keys, 1024).map(|c| c.value),
            Some(json!({"x": "NaN"}))
        );
    }

    #[test]
    fn huge_values_are_cut_to_the_cap_without_copying_them() {
        let prompt = "p".repeat(5 << 20);
        let c = capped(&prompt, 1024).expect("fits");
        assert!(json_len(&c.value) <= 1024);
        assert!(c.value.as_str().is_some_and(|s| s.ends_with('…')));
        assert_eq!(c.original_bytes, Some(prompt.len() + 2));

        let rows: Vec<BTreeMap<&str, String>> = (0..10_000)
            .map(|i| {
                [("id", i.to_string()), ("text", "t".repeat(50))]
                    .into_iter()
                    .collect()
            })
            .collect();
        let c = capped(&rows, 4096).expect("fits");
        assert!(json_len(&c.value) <= 4096, "{}", json_len(&c.value));
        let kept = c.value.as_array().map_or(0, Vec::len);
        assert!(kept > 10 && kept < 100, "a prefix of the rows: {kept}");
        assert_eq!(c.value[0]["id"], "0", "the first rows are kept, in order");
        assert_eq!(c.original_bytes, Some(json_len(&rows)));
    }

    #[test]
    fn wide_integers_and_odd_keys() {
        assert_eq!(
            capped(&u128::MAX, 1024).map(|c| c.value),
            Some(json!(u128::MAX.to_string()))
        );
        assert_eq!(capped(&-5i128, 1024).map(|c| c.value), Some(json!(-5)));
        let by_pair: HashMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
        let c = capped(&by_pair, 1024).expect("a value");
        assert!(
            c.value
                .as_str()
                .is_some_and(|s| s.starts_with("<not serialisable")),
            "{}",
            c.value
        );
    }
}

// ---- compile-time choice of how to capture a value -----------------------------------------
//
// The macros capture arguments and return values of any type, without adding a bound to the
// user's function: the choice between JSON, `Debug` text and a placeholder is made by method
// resolution at the call site ("autoref specialisation"). The macro writes
// `(&&&Capture(&value)).__modelmetry_capture()`; the compiler tries the receiver `&&&Capture`
// first, then derefs one level at a time, so the impl on the most references wins among those
// whose bounds hold:
//
// | impl on          | bound            | captured as                      |
// | ---------------- | ---------------- | -------------------------------- |
// | `&&Capture<T>`   | `T: Serialize`   | its JSON                         |
// | `&Capture<T>`    | `T: Debug`       | its `Debug` text, as a string    |
// | `Capture<T>`     | none             | a placeholder naming the type    |
//
// In a generic function the choice follows the bounds the function declares: a `T` with no
// bounds is captured as a placeholder.

use std::fmt::{Debug, Display};

/// A value to capture; see the module notes above.
#[derive(Clone, Copy)]
pub struct Capture<'a, T: ?Sized>(pub &'a T);

/// Capture as JSON (chosen when the type implements `Serialize`), capped like any content.
pub trait CaptureSerialize {
    /// The value as JSON.
    fn __modelmetry_capture(&self) -> Captured;
}

impl<T: Serialize + ?Sized> CaptureSerialize for &&Capture<'_, T> {
    fn __modelmetry_capture(&self) -> Captured {
        user_capture(|| metadata(self.0))
    }
}

/// Run a user type's `Serialize`, `Debug` or `Display` for a capture: with tracing off on
/// this thread (so a value that calls an instrumented function does not trace it), and a
/// panic caught and recorded as a placeholder, so that the user's function goes on exactly
/// as without the SDK.
fn user_capture(capture: impl FnOnce() -> Captured) -> Captured {
    match crate::switch::user_code(capture) {
        Ok(captured) => captured,
        Err(payload) => Captured {
            value: Value::String(panicked_placeholder(&*payload)),
            original_bytes: None,
        },
    }
}

/// The placeholder for a value whose capture panicked; the panic is counted.
fn panicked_placeholder(payload: &(dyn std::any::Any + Send)) -> String {
    stats::count_capture_panic();
    crate::diag::once(
        "capture_panicked",
        format_args!(
            "capturing a value panicked (its Serialize, Debug or Display); a placeholder was recorded instead (counted in stats().capture_panics)"
        ),
    );
    format!("<capture panicked: {}>", crate::switch::panic_text(payload))
}

/// Capture as `Debug` text (chosen when the type implements `Debug` but not `Serialize`).
pub trait CaptureDebug {
    /// The value's `Debug` text, as a JSON string.
    fn __modelmetry_capture(&self) -> Captured;
}

impl<T: Debug + ?Sized> CaptureDebug for &Capture<'_, T> {
    fn __modelmetry_capture(&self) -> Captured {
        user_capture(|| debug_text(self.0, value_limit()))
    }
}

/// Capture as a placeholder (chosen when the type implements neither).
pub trait CaptureOpaque {
    /// A placeholder that names the type.
    fn __modelmetry_capture(&self) -> Captured;
}

impl<T: ?Sized> CaptureOpaque for Capture<'_, T> {
    fn __modelmetry_capture(&self) -> Captured {
        Captured {
            value: Value::String(opaque::<T>()),
            original_bytes: None,
        }
    }
}

/// `value`'s `Debug` text as a JSON string of at most about `limit` bytes. The text past the
/// limit is formatted (to measure it) but never stored.
fn debug_text<T: Debug + ?Sized>(value: &T, limit: usize) -> Captured {
    struct Bounded {
        kept: String,
        limit: usize,
        total: usize,
    }
    impl std::fmt::Write for Bounded {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.total += s.len();
            let room = self.limit.saturating_sub(self.kept.len());
            if room >= s.len() {
                self.kept.push_str(s);
            } else if room > 0 {
                let mut end = room;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                self.kept.push_str(&s[..end]);
                self.limit = self.kept.len(); // full: keep nothing more
            }
            Ok(())
        }
    }
    let mut out = Bounded {
        kept: String::new(),
        limit,
        total: 0,
    };
    let _ = std::fmt::write(&mut out, format_args!("{value:?}"));
    if out.total > out.kept.len() {
        stats::count_truncated(1);
        out.kept.push('…');
        Captured {
            value: Value::String(out.kept),
            original_bytes: Some(out.total + 2),
        }
    } else {
        Captured {
            value: Value::String(out.kept),
            original_bytes: None,
        }
    }
}

fn opaque<T: ?Sized>() -> String {
    format!(
        "<{}: implements neither Serialize nor Debug>",
        std::any::type_name::<T>()
    )
}

/// A function's return value, seen as an outcome: `Result`s are split into their `Ok` and
/// `Err` values, any other value is an `Ok`. Chosen by the same autoref resolution:
/// `(&&Outcome(&ret)).__modelmetry_outcome()`.
pub struct Outcome<'a, T: ?Sized>(pub &'a T);

/// The outcome of a function that returns a `Result`.
pub trait OutcomeOfResult<'a> {
    /// The `Ok` type.
    type Ok: ?Sized;
    /// The `Err` type.
    type Err: ?Sized;
    /// The result by reference.
    fn __modelmetry_outcome(&self) -> Result<&'a Self::Ok, &'a Self::Err>;
}

impl<'a, T, E> OutcomeOfResult<'a> for &Outcome<'a, Result<T, E>> {
    type Ok = T;
    type Err = E;
    fn __modelmetry_outcome(&self) -> Result<&'a T, &'a E> {
        self.0.as_ref()
    }
}

/// The outcome of a function that returns anything else: always its value.
pub trait OutcomeOfValue<'a> {
    /// The returned type.
    type Ok: ?Sized;
    /// The value by reference.
    fn __modelmetry_outcome(&self) -> Result<&'a Self::Ok, &'a NoError>;
}

impl<'a, T: ?Sized> OutcomeOfValue<'a> for Outcome<'a, T> {
    type Ok = T;
    fn __modelmetry_outcome(&self) -> Result<&'a T, &'a NoError> {
        Ok(self.0)
    }
}

/// The error type of a function that cannot return an error.
#[derive(Debug)]
pub enum NoError {}

impl Display for NoError {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

/// An error to describe: for a `std::error::Error`, its text and every cause in its
/// `source()` chain (`top: cause: root cause`, as `anyhow`'s `{:#}` shows it); else its
/// `Display` text (alternate form: `anyhow::Error` shows its chain there); else its `Debug`
/// text; else its type's name. `(&&&&ErrorText(&err)).__modelmetry_error()`.
pub struct ErrorText<'a, E: ?Sized>(pub &'a E);

/// Describe an error by its text and its causes.
pub trait ErrorChain {
    /// The error's message, with its causes.
    fn __modelmetry_error(&self) -> String;
}

impl<E: std::error::Error + ?Sized> ErrorChain for &&&ErrorText<'_, E> {
    fn __modelmetry_error(&self) -> String {
        user_text(|| chain_text(self.0))
    }
}

/// `err`'s text followed by each cause's, `: `-separated. A cause whose text the message
/// already ends with (an error that prints its source itself) is not repeated.
fn chain_text<E: std::error::Error + ?Sized>(err: &E) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    let mut depth = 0;
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !cause_text.is_empty() && !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
        depth += 1;
        if depth == 32 {
            break; // a cycle of sources, or a chain no one reads to the end
        }
    }
    text
}

/// Run a user type's `Display` or `Debug` for an error message: tracing off, a panic caught.
fn user_text(describe: impl FnOnce() -> String) -> String {
    crate::switch::user_code(describe).unwrap_or_else(|payload| panicked_placeholder(&*payload))
}

/// Describe an error by its `Display` text.
pub trait ErrorDisplay {
    /// The error's message.
    fn __modelmetry_error(&self) -> String;
}

impl<E: Display + ?Sized> ErrorDisplay for &&ErrorText<'_, E> {
    fn __modelmetry_error(&self) -> String {
        user_text(|| format!("{:#}", self.0))
    }
}

/// Describe an error by its `Debug` text.
pub trait ErrorDebug {
    /// The error's message.
    fn __modelmetry_error(&self) -> String;
}

impl<E: Debug + ?Sized> ErrorDebug for &ErrorText<'_, E> {
    fn __modelmetry_error(&self) -> String {
        user_text(|| format!("{:?}", self.0))
    }
}

/// Describe an error by its type's name.
pub trait ErrorOpaque {
    /// The error's message.
    fn __modelmetry_error(&self) -> String;
}

impl<E: ?Sized> ErrorOpaque for ErrorText<'_, E> {
    fn __modelmetry_error(&self) -> String {
        format!("an error of type {}", std::any::type_name::<E>())
    }
}

#[cfg(test)]
// The extra borrows are the mechanism under test: they pick the impl.
#[allow(clippy::needless_borrow)]
mod choice_tests {
    use super::*;

    #[derive(Serialize, Debug)]
    struct Both {
        a: u8,
    }
    #[derive(Debug)]
    struct DebugOnly(#[allow(dead_code)] u8); // read only through Debug
    struct Neither;

    #[test]
    fn serialize_wins_over_debug_which_wins_over_nothing() {
        assert_eq!(
            (&&&Capture(&Both { a: 1 })).__modelmetry_capture().value,
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            (&&&Capture(&DebugOnly(2))).__modelmetry_capture().value,
            Value::String("DebugOnly(2)".into())
        );
        let opaque = (&&&Capture(&Neither)).__modelmetry_capture().value;
        assert!(
            opaque.as_str().is_some_and(|s| s.contains("Neither")),
            "{opaque}"
        );
        assert_eq!((&&&Capture("hi")).__modelmetry_capture().value, "hi");
    }

    #[test]
    fn debug_text_is_cut_at_the_limit_without_being_stored_whole() {
        let long = DebugOnly(7);
        let whole = debug_text(&long, 1000);
        assert_eq!(whole.value, "DebugOnly(7)");
        assert_eq!(whole.original_bytes, None);
        let cut = debug_text(&long, 5);
        assert_eq!(cut.value, "Debug…");
        assert_eq!(cut.original_bytes, Some("\"DebugOnly(7)\"".len()));
        // Never in the middle of a character.
        let cut = debug_text(&"ééé", 4);
        assert_eq!(cut.value, "\"é…");
    }

    #[test]
    fn results_split_and_errors_describe_themselves() {
        let ok: Result<u8, std::fmt::Error> = Ok(3);
        assert!(matches!((&&Outcome(&ok)).__modelmetry_outcome(), Ok(&3)));
        let err: Result<u8, std::fmt::Error> = Err(std::fmt::Error);
        match (&&Outcome(&err)).__modelmetry_outcome() {
            Err(e) => assert_eq!(
                (&&&&ErrorText(e)).__modelmetry_error(),
                std::fmt::Error.to_string()
            ),
            Ok(_) => panic!("an Err is an error"),
        }
        assert!(matches!((&&Outcome(&7u8)).__modelmetry_outcome(), Ok(&7)));
        assert!(
            (&&&&ErrorText(&Neither))
                .__modelmetry_error()
                .contains("Neither")
        );
    }
}
