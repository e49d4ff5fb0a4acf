//! `#[span(stream)]` on every iterator shape: `impl Iterator`, `Box<dyn Iterator>`, a `Result`
//! of either (an alias such as `io::Result` too), methods, generic items, and the options.
#![deny(warnings)]

use modelmetry::{fold, span};

#[span(kind = "llm", stream)]
fn chunks(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive(' ')
}

#[span(kind = "llm", stream)]
fn boxed(n: u32) -> Box<dyn Iterator<Item = u32>> {
    Box::new(0..n)
}

#[span(kind = "llm", stream)]
fn boxed_send<'a>(words: &'a [String]) -> Box<dyn Iterator<Item = &'a String> + Send + 'a> {
    Box::new(words.iter())
}

#[span(kind = "llm", stream)]
fn connect(up: bool) -> Result<impl Iterator<Item = String>, String> {
    if !up {
        return Err("down".to_owned());
    }
    let n: usize = "2".parse().map_err(|_| "not a number".to_owned())?;
    Ok(["a", "b", "c"].into_iter().take(n).map(str::to_owned))
}

#[span(kind = "llm", stream)]
fn read_lines(text: &str) -> std::io::Result<Box<dyn Iterator<Item = std::io::Result<String>> + '_>> {
    use std::io::BufRead;
    Ok(Box::new(std::io::Cursor::new(text.as_bytes()).lines()))
}

#[span(stream)]
fn generic<T: Clone>(items: &[T]) -> impl Iterator<Item = T> + '_ {
    items.iter().cloned()
}

#[span(stream)]
fn collected(words: Vec<&'static str>) -> impl Iterator<Item = String> {
    // The item type comes from the declared `Item = String`.
    words.into_iter().map(|w| w.chars().rev().collect())
}

#[span(
    kind = "llm",
    stream,
    fold = fold::FromFn::new(|out: &mut serde_json::Value, n: &u32| {
        *out = serde_json::Value::from(*n);
        Ok(())
    })
)]
fn last_only(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[span(kind = "llm", stream, output = false, skip_all)]
fn private(secret: &str) -> impl Iterator<Item = char> + '_ {
    secret.chars()
}

struct Client {
    name: String,
}

impl Client {
    #[span(kind = "llm", stream)]
    fn letters(&self) -> impl Iterator<Item = char> + '_ {
        self.name.chars()
    }

    #[span(kind = "llm", stream)]
    fn into_words(self) -> Box<dyn Iterator<Item = String>> {
        Box::new(self.name.split(' ').map(str::to_owned).collect::<Vec<_>>().into_iter())
    }
}

fn main() {
    assert_eq!(chunks("a b").count(), 2);
    assert_eq!(boxed(3).sum::<u32>(), 3);
    let words = vec!["x".to_owned()];
    assert_eq!(boxed_send(&words).count(), 1);
    assert_eq!(connect(true).map(Iterator::count), Ok(2));
    assert!(connect(false).is_err());
    assert_eq!(read_lines("a\nb").map(Iterator::count).ok(), Some(2));
    assert_eq!(generic(&[1u8, 2]).count(), 2);
    assert_eq!(collected(vec!["ab"]).collect::<Vec<_>>(), ["ba"]);
    assert_eq!(last_only(3).last(), Some(2));
    assert_eq!(private("pin").count(), 3);
    let client = Client { name: "a b".to_owned() };
    assert_eq!(client.letters().count(), 3);
    assert_eq!(client.into_words().count(), 2);
}
