//! The serde `Serializer` that builds a capped `serde_json::Value`: every byte is taken from
//! one budget; what does not fit is cut (strings) or left out (entries past the budget), and
//! non-finite numbers become text.

use std::cell::Cell;
use std::fmt;

use serde::Serialize;
use serde::ser::{self, SerializeMap as _, SerializeSeq as _};
use serde_json::{Map, Value};

use super::limits::{cut_str, json_len, json_str_len};

/// A value built within a budget.
pub(super) struct Built {
    pub(super) value: Value,
    /// Something was cut or left out.
    pub(super) cut: bool,
    /// Non-finite numbers written as text.
    pub(super) non_finite: u64,
}

/// `value` as JSON within `limit` bytes; `None` if not even an empty value fits. A value that
/// cannot be serialised becomes a string saying why.
pub(super) fn build<T: Serialize + ?Sized>(value: &T, limit: usize) -> Option<Built> {
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
    Some(Built {
        value: built,
        cut: st.cut.get(),
        non_finite: st.non_finite.get(),
    })
}

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
    use crate::capture::capped;
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
