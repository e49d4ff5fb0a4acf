//! Errors and panics keep their cause: an `Err` records its whole `source()` chain, a panic
//! its payload's text.

use std::fmt;

use modelmetry::span;
use modelmetry::testing::Recorder;

#[derive(Debug)]
struct Root;
impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection refused")
    }
}
impl std::error::Error for Root {}

#[derive(Debug)]
struct Middle(Root);
impl fmt::Display for Middle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not reach the model server")
    }
}
impl std::error::Error for Middle {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[derive(Debug)]
struct Top(Middle);
impl fmt::Display for Top {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("generation failed")
    }
}
impl std::error::Error for Top {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// An error that prints its cause itself: the cause is not repeated.
#[derive(Debug)]
struct SaysItsCause(Root);
impl fmt::Display for SaysItsCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lookup failed: {}", self.0)
    }
}
impl std::error::Error for SaysItsCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[span]
fn typed() -> Result<(), Top> {
    Err(Top(Middle(Root)))
}

#[span]
fn boxed() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err(Box::new(Top(Middle(Root))))
}

#[span]
fn boxed_local() -> Result<(), Box<dyn std::error::Error>> {
    Err(Box::new(Middle(Root)))
}

#[span]
fn boxed_send() -> Result<(), Box<dyn std::error::Error + Send>> {
    Err(Box::new(Middle(Root)))
}

/// `impl Trait` in the `Ok` type: the error's type is still pinned for the expansion.
#[span]
fn boxed_opaque(
    fail: bool,
) -> Result<impl std::fmt::Display, Box<dyn std::error::Error + Send + Sync>> {
    if fail {
        return Err(Box::new(Top(Middle(Root))));
    }
    Ok(1)
}

#[span]
fn repeats() -> Result<(), SaysItsCause> {
    Err(SaysItsCause(Root))
}

#[span]
fn text_only() -> Result<(), String> {
    Err("plain text".to_owned())
}

#[span]
fn opaque_ok_text_err(fail: bool) -> Result<impl std::fmt::Display, String> {
    if fail {
        return Err("opaque failed".to_owned());
    }
    Ok(1)
}

fn message(rec: &Recorder) -> String {
    let t = rec.take().pop().expect("a trace");
    t.ingest().spans[0].message.clone().expect("a message")
}

#[test]
fn an_err_records_its_whole_source_chain() {
    let rec = Recorder::install();
    let _ = typed();
    assert_eq!(
        message(&rec),
        "generation failed: could not reach the model server: connection refused"
    );
    // A boxed `dyn Error` is not itself an `Error`, and still records its causes.
    let _ = boxed();
    assert_eq!(
        message(&rec),
        "generation failed: could not reach the model server: connection refused"
    );
    let _ = boxed_local();
    assert_eq!(
        message(&rec),
        "could not reach the model server: connection refused"
    );
    let _ = boxed_send();
    assert_eq!(
        message(&rec),
        "could not reach the model server: connection refused"
    );
    let _ = boxed_opaque(true);
    assert_eq!(
        message(&rec),
        "generation failed: could not reach the model server: connection refused"
    );
    let _ = opaque_ok_text_err(true);
    assert_eq!(message(&rec), "opaque failed");
    let _ = repeats();
    assert_eq!(message(&rec), "lookup failed: connection refused");
    let _ = text_only();
    assert_eq!(message(&rec), "plain text");
}

#[span]
fn panics() {
    panic!("boom");
}

#[test]
fn a_panic_records_its_payload() {
    let rec = Recorder::install();
    assert!(std::panic::catch_unwind(panics).is_err());
    let t = rec.take().pop().expect("a trace");
    assert_eq!(
        t.ingest().spans[0].message.as_deref(),
        Some("panicked: boom")
    );
    assert_eq!(
        t.tree(),
        "trace panics  error: panicked: boom\n└── other panics  error: panicked: boom\n"
    );
}

#[span(stream)]
fn boxed_items() -> impl Iterator<Item = Result<u32, Box<dyn std::error::Error + Send + Sync>>> {
    let failed: Box<dyn std::error::Error + Send + Sync> = Box::new(Top(Middle(Root)));
    vec![Ok(1), Err(failed)].into_iter()
}

#[test]
fn a_streams_boxed_error_item_records_its_causes() {
    let rec = Recorder::install();
    let items: Vec<_> = boxed_items().collect();
    assert_eq!(items.len(), 2);
    assert_eq!(
        message(&rec),
        "generation failed: could not reach the model server: connection refused"
    );
}

#[span(stream)]
fn typed_items() -> impl Iterator<Item = Result<u32, Top>> {
    vec![Ok(1), Err(Top(Middle(Root)))].into_iter()
}

#[test]
fn a_streams_error_item_records_its_causes() {
    let rec = Recorder::install();
    assert_eq!(typed_items().count(), 2);
    assert_eq!(
        message(&rec),
        "generation failed: could not reach the model server: connection refused"
    );
}
