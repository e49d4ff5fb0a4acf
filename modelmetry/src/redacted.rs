//! [`Redacted`]: a value the SDK never captures.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::{Serialize, Serializer};

/// A value that is never captured, whatever the capture settings: recorded as
/// `"<redacted: {type}>"` (its type's name only) by the `#[span]`/`#[trace]` macros, by
/// every setter that takes a `Serialize` value, and by its `Debug` text. Wrap a secret
/// argument's type in it; the function reads the value through `Deref`:
///
/// ```
/// use modelmetry::Redacted;
///
/// #[modelmetry::span]
/// fn call(prompt: &str, api_key: Redacted<String>) -> usize {
///     prompt.len() + api_key.len()
/// }
///
/// # let _rec = modelmetry::testing::Recorder::install();
/// call("hi", Redacted::new("sk-secret".to_owned()));
/// assert_eq!(format!("{:?}", Redacted::new(1)), "Redacted<i32>(<redacted>)");
/// assert_eq!(
///     serde_json::to_string(&Redacted::new("sk-secret")).unwrap(),
///     r#""<redacted: &str>""#
/// );
/// ```
///
/// It has no `Display`: it cannot slip into an error's text or a format string unnoticed.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wrap `value`.
    pub const fn new(value: T) -> Self {
        Redacted(value)
    }

    /// The value itself.
    pub fn into_inner(self) -> T {
        self.0
    }

    /// The text it is recorded as.
    fn placeholder() -> String {
        format!("<redacted: {}>", std::any::type_name::<T>())
    }
}

impl<T> From<T> for Redacted<T> {
    fn from(value: T) -> Self {
        Redacted(value)
    }
}

impl<T> Deref for Redacted<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Redacted<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> Serialize for Redacted<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&Self::placeholder())
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redacted<{}>(<redacted>)", std::any::type_name::<T>())
    }
}
