//! The fold `#[span(stream)]` picks for a stream's items, chosen at compile time from the item
//! type, with no bound added to the user's function.
//!
//! The choice is the autoref resolution the capture of arguments uses (see `private/capture.rs`), on
//! a zero-sized [`OfType`] standing for a type. It runs in three steps, because a `Result`
//! item needs two choices (one for its `Ok` values, one for describing its errors):
//!
//! 1. `(&&OfType::<Item>).__modelmetry_split()`: a `Result<T, E>` item splits into
//!    `(OfType<T>, OfType<E>, ResultShape)`, any other item `X` into
//!    `(OfType<X>, OfType<NoError>, PlainShape)`.
//! 2. `(&&&OfType::<T>).__modelmetry_fold()`: [`Text`] if `T: AsRef<str>`, else [`Json`] if
//!    `T: Serialize`, else [`Nothing`]; `(&&&&&OfType::<E>).__modelmetry_describe()`: a
//!    boxed `dyn Error`'s or an `Error`'s text with every cause in its `source()` chain, else
//!    the error's `Display` text, else its `Debug` text, else its type's name.
//! 3. `shape.fold(ok_fold, describe)`: the `Ok` fold itself for plain items, or
//!    [`ResultItems`] (an `Err` item closes the span as an error) for `Result`s.

use std::fmt::{Debug, Display};
use std::marker::PhantomData;

use serde::Serialize;
use serde_json::Value;

use super::capture::NoError;
use crate::fold::{Fold, FoldOutput, Json, Nothing, Text};

/// A type, carried as a value.
pub struct OfType<T>(PhantomData<fn() -> T>);

impl<T> OfType<T> {
    fn new() -> Self {
        OfType(PhantomData)
    }
}

/// The item type of an iterator. The macro names `T` when the function declares it
/// (`Item = T`): the choice must not see an item type still being inferred, which autoref
/// resolution would match against the first impl that fits (a `Result`, say).
pub fn iter_items<T, I: Iterator<Item = T>>(_: &I) -> OfType<T> {
    OfType::new()
}

/// The item type of an async stream.
#[cfg(feature = "stream")]
pub fn stream_items<T, S: futures_core::Stream<Item = T>>(_: &S) -> OfType<T> {
    OfType::new()
}

/// Without the `stream` feature, `#[span(stream)]` on an async stream says what is missing.
#[cfg(not(feature = "stream"))]
#[diagnostic::on_unimplemented(
    message = "`#[span(stream)]` on an async stream needs the `stream` feature of modelmetry",
    label = "this returns an async stream",
    note = "in Cargo.toml: modelmetry = {{ version = \"0.1\", features = [\"stream\"] }}"
)]
pub trait StreamFeature {}

/// Without the `stream` feature: an error at compile time (see [`StreamFeature`]).
#[cfg(not(feature = "stream"))]
pub fn stream_items<T, S: StreamFeature>(_: &S) -> OfType<T> {
    OfType::new()
}

/// Items that are `Result`s.
#[derive(Debug, Clone, Copy)]
pub struct ResultShape;

/// Items of any other type.
#[derive(Debug, Clone, Copy)]
pub struct PlainShape;

/// Split `Result` items into their `Ok` and `Err` types.
pub trait SplitResult {
    /// `(OfType<T>, OfType<E>, ResultShape)`.
    type Split;
    /// The split.
    fn __modelmetry_split(&self) -> Self::Split;
}

impl<T, E> SplitResult for &OfType<Result<T, E>> {
    type Split = (OfType<T>, OfType<E>, ResultShape);
    fn __modelmetry_split(&self) -> Self::Split {
        (OfType::new(), OfType::new(), ResultShape)
    }
}

/// Any other item: its own type, and no error type.
pub trait SplitPlain {
    /// `(OfType<T>, OfType<NoError>, PlainShape)`.
    type Split;
    /// The split.
    fn __modelmetry_split(&self) -> Self::Split;
}

impl<T> SplitPlain for OfType<T> {
    type Split = (OfType<T>, OfType<NoError>, PlainShape);
    fn __modelmetry_split(&self) -> Self::Split {
        (OfType::new(), OfType::new(), PlainShape)
    }
}

/// Text chunks: joined.
pub trait FoldText {
    /// The fold.
    fn __modelmetry_fold(&self) -> Text;
}

impl<T: AsRef<str>> FoldText for &&OfType<T> {
    fn __modelmetry_fold(&self) -> Text {
        Text::default()
    }
}

/// Serialisable items: a JSON array.
pub trait FoldJson {
    /// The fold.
    fn __modelmetry_fold(&self) -> Json;
}

impl<T: Serialize> FoldJson for &OfType<T> {
    fn __modelmetry_fold(&self) -> Json {
        Json::default()
    }
}

/// Anything else: no output.
pub trait FoldNothing {
    /// The fold.
    fn __modelmetry_fold(&self) -> Nothing;
}

impl<T> FoldNothing for OfType<T> {
    fn __modelmetry_fold(&self) -> Nothing {
        Nothing
    }
}

/// Describe a boxed `dyn Error` item by its text and its causes (a box of a trait object is
/// not an `Error` itself).
pub trait DescribeBoxed {
    /// The error type.
    type Error;
    /// The describer.
    fn __modelmetry_describe(&self) -> fn(&Self::Error) -> String;
}

impl<'e> DescribeBoxed for &&&OfType<Box<dyn std::error::Error + 'e>> {
    type Error = Box<dyn std::error::Error + 'e>;
    fn __modelmetry_describe(&self) -> fn(&Self::Error) -> String {
        |e| super::capture::chain_text(&**e)
    }
}

impl<'e> DescribeBoxed for &&&OfType<Box<dyn std::error::Error + Send + 'e>> {
    type Error = Box<dyn std::error::Error + Send + 'e>;
    fn __modelmetry_describe(&self) -> fn(&Self::Error) -> String {
        |e| super::capture::chain_text(&**e)
    }
}

impl<'e> DescribeBoxed for &&&OfType<Box<dyn std::error::Error + Send + Sync + 'e>> {
    type Error = Box<dyn std::error::Error + Send + Sync + 'e>;
    fn __modelmetry_describe(&self) -> fn(&Self::Error) -> String {
        |e| super::capture::chain_text(&**e)
    }
}

/// Describe an error item by its text and every cause in its `source()` chain.
pub trait DescribeChain {
    /// The error type.
    type Error;
    /// The describer.
    fn __modelmetry_describe(&self) -> fn(&Self::Error) -> String;
}

impl<E: std::error::Error> DescribeChain for &&&&OfType<E> {
    type Error = E;
    fn __modelmetry_describe(&self) -> fn(&E) -> String {
        |e| super::capture::chain_text(e)
    }
}

/// Describe an error item by its `Display` text.
pub trait DescribeDisplay {
    /// The error type.
    type Error;
    /// The describer.
    fn __modelmetry_describe(&self) -> fn(&Self::Error) -> String;
}

impl<E: Display> DescribeDisplay for &&OfType<E> {
    type Error = E;
    fn __modelmetry_describe(&self) -> fn(&E) -> String {
        |e| e.to_string()
    }
}

/// Describe an error item by its `Debug` text.
pub trait DescribeDebug {
    /// The error type.
    type Error;
    /// The describer.
    fn __modelmetry_describe(&self) -> fn(&Self::Error) -> String;
}

impl<E: Debug> DescribeDebug for &OfType<E> {
    type Error = E;
    fn __modelmetry_describe(&self) -> fn(&E) -> String {
        |e| format!("{e:?}")
    }
}

/// Describe an error item by its type's name.
pub trait DescribeOpaque {
    /// The error type.
    type Error;
    /// The describer.
    fn __modelmetry_describe(&self) -> fn(&Self::Error) -> String;
}

impl<E> DescribeOpaque for OfType<E> {
    type Error = E;
    fn __modelmetry_describe(&self) -> fn(&E) -> String {
        |_| format!("an error of type {}", std::any::type_name::<E>())
    }
}

impl ResultShape {
    /// The fold of `Result` items: `ok` sees the `Ok` values; an `Err` closes the span.
    pub fn fold<F, E>(self, ok: F, describe: fn(&E) -> String) -> ResultItems<F, E> {
        ResultItems { ok, describe }
    }
}

impl PlainShape {
    /// The fold of plain items: `ok` itself.
    pub fn fold<F, E>(self, ok: F, _describe: fn(&E) -> String) -> F {
        ok
    }
}

/// The fold of `Result` items: like [`Results`](crate::fold::Results), with the error described
/// as the macros describe any error (its causes too, else `Display`, else `Debug`, else the
/// type's name).
pub struct ResultItems<F, E> {
    ok: F,
    describe: fn(&E) -> String,
}

impl<T, E, F: Fold<T>> Fold<Result<T, E>> for ResultItems<F, E> {
    fn item(&mut self, item: &Result<T, E>) -> Result<(), String> {
        match item {
            Ok(v) => self.ok.item(v),
            Err(e) => Err((self.describe)(e)),
        }
    }
}

impl<F: FoldOutput, E> FoldOutput for ResultItems<F, E> {
    fn output(&mut self) -> Option<Value> {
        self.ok.output()
    }

    fn original_bytes(&self) -> Option<usize> {
        self.ok.original_bytes()
    }
}

/// A fold given with `fold = ...`: checked against the item type here, so that a fold of the
/// wrong items is an error on the user's expression.
pub fn user_fold<T, F: Fold<T>>(_: &OfType<T>, fold: F) -> F {
    fold
}

#[cfg(test)]
// The extra borrows are the mechanism under test: they pick the impl.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Chunk {
        delta: &'static str,
    }
    #[derive(Debug)]
    struct DebugOnly;
    struct Neither;

    #[test]
    fn text_json_and_nothing_are_picked_by_item_type() {
        let mut text = (&&&OfType::<&str>::new()).__modelmetry_fold();
        let mut json = (&&&OfType::<Chunk>::new()).__modelmetry_fold();
        let mut nothing = (&&&OfType::<Neither>::new()).__modelmetry_fold();
        text.item(&"a").unwrap();
        json.item(&Chunk { delta: "b" }).unwrap();
        nothing.item(&Neither).unwrap();
        assert_eq!(text.output(), Some(Value::from("a")));
        assert_eq!(json.output(), Some(serde_json::json!([{"delta": "b"}])));
        assert_eq!(nothing.output(), None);
        // Strings are text, not a JSON array of strings, though they are `Serialize` too.
        let mut owned = (&&&OfType::<String>::new()).__modelmetry_fold();
        owned.item(&"c".to_owned()).unwrap();
        assert_eq!(owned.output(), Some(Value::from("c")));
    }

    #[test]
    fn plain_items_keep_the_fold_of_their_type() {
        let (ok, err, shape) = (&&OfType::<&str>::new()).__modelmetry_split();
        let mut fold = shape.fold(
            (&&&ok).__modelmetry_fold(),
            (&&&err).__modelmetry_describe(),
        );
        assert_eq!(fold.item(&"plain"), Ok(()));
        assert_eq!(fold.output(), Some(Value::from("plain")));
    }

    #[test]
    fn result_items_close_on_err_with_the_best_description() {
        let (ok, err, shape) =
            (&&OfType::<Result<&str, std::io::Error>>::new()).__modelmetry_split();
        let mut fold = shape.fold(
            (&&&ok).__modelmetry_fold(),
            (&&&err).__modelmetry_describe(),
        );
        assert_eq!(fold.item(&Ok("x")), Ok(()));
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(fold.item(&Err::<&str, _>(reset)), Err("reset".to_owned()));
        assert_eq!(fold.output(), Some(Value::from("x")));

        let (ok, err, shape) = (&&OfType::<Result<u8, DebugOnly>>::new()).__modelmetry_split();
        let mut fold = shape.fold(
            (&&&ok).__modelmetry_fold(),
            (&&&err).__modelmetry_describe(),
        );
        assert_eq!(
            fold.item(&Err::<u8, _>(DebugOnly)),
            Err("DebugOnly".to_owned())
        );

        let (ok, err, shape) = (&&OfType::<Result<u8, Neither>>::new()).__modelmetry_split();
        let mut fold = shape.fold(
            (&&&ok).__modelmetry_fold(),
            (&&&err).__modelmetry_describe(),
        );
        let text = fold.item(&Err::<u8, _>(Neither)).unwrap_err();
        assert!(
            text.starts_with("an error of type") && text.contains("Neither"),
            "{text}"
        );
    }
}
