//! The expansions are lint-clean: this file uses every macro form under `#![deny(warnings)]`
//! (and CI runs clippy on it with `-D warnings`, pedantic lints included), so a warning that
//! the expansion causes fails the build. That an instrumented function never called still
//! triggers `dead_code` is shown by `ui-tests/fail/dead-code-still-reported.rs`.
#![deny(warnings)]
#![deny(clippy::all, clippy::pedantic)]

use modelmetry::{event, finding, span, trace};

#[derive(Debug, serde::Serialize)]
struct Order {
    id: String,
}

#[trace(
    name = "lint.turn",
    session = "s",
    user = "u",
    tags = ["a"],
    metadata(k = 1),
    skip(secret),
    flush
)]
fn turn(secret: &str, question: &str) -> Result<usize, String> {
    let order = lookup(question)?;
    generate(&order.id);
    unit();
    finding!(score = 0.5);
    finding!(a = 1, b = true, c = "x"; comment = "c", description = "d", metadata(m = 2));
    event!("e");
    event!(e2, k = 1, question);
    Ok(secret.len() + order.id.len())
}

#[span(kind = "tool", name = "lookup", output = false)]
fn lookup(question: &str) -> Result<Order, String> {
    if question.is_empty() {
        return Err("empty".to_owned());
    }
    Ok(Order {
        id: question.to_owned(),
    })
}

#[span(kind = "llm", model = "m", provider = "p", skip_all)]
fn generate(prompt: &str) -> String {
    prompt.to_owned()
}

#[span]
fn unit() {}

#[span(name = format!("named.{n}"))]
fn named(n: u8, mut acc: Vec<u8>) -> Vec<u8> {
    acc.push(n);
    acc
}

#[span(kind = "tool")]
fn unused_param(_unused: u8, mut count: u32) -> u32 {
    count += 1;
    count
}

#[span]
fn diverges_never(message: &str) -> ! {
    panic!("{message}")
}

struct Client {
    calls: u8,
}

impl Client {
    #[span(kind = "agent")]
    fn run(&self, n: u8) -> u8 {
        n + self.calls
    }

    #[span]
    fn calls_mut(&mut self) -> &mut u8 {
        &mut self.calls
    }

    #[span(kind = "retriever")]
    async fn fetch(&mut self, n: u8) -> Option<u8> {
        self.calls += 1;
        Some(n)
    }
}

#[trace]
async fn async_turn(n: u8) -> u8 {
    let mut c = Client { calls: 0 };
    c.fetch(n).await.unwrap_or_default() + c.run(n)
}

#[span(kind = "chain")]
async fn async_unit() {}

#[span(kind = "llm", stream, model = "m", metadata(k = 1))]
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(' ')
}

#[span(kind = "llm", stream, output = false, skip_all)]
fn fallible(n: u8) -> Result<Box<dyn Iterator<Item = Result<u8, String>>>, String> {
    if n == 0 {
        return Err("none".to_owned());
    }
    Ok(Box::new((0..n).map(Ok)))
}

#[span(kind = "llm", stream, fold = modelmetry::fold::Nothing)]
async fn async_words(
    text: &'static str,
) -> std::pin::Pin<Box<dyn futures_core::Stream<Item = &'static str> + Send>> {
    Box::pin(Words(text.split(' ').collect()))
}

struct Words(Vec<&'static str>);

impl futures_core::Stream for Words {
    type Item = &'static str;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<&'static str>> {
        std::task::Poll::Ready(self.0.pop())
    }
}

#[test]
fn every_form_compiles_without_warnings() {
    let _recorder = modelmetry::testing::Recorder::install();
    assert_eq!(turn("k", "q"), Ok(2));
    assert_eq!(named(3, vec![1]), vec![1, 3]);
    assert_eq!(unused_param(0, 1), 2);
    let mut client = Client { calls: 0 };
    *client.calls_mut() += 2;
    assert_eq!(client.run(1), 3);
    assert!(std::panic::catch_unwind(|| diverges_never("stop")).is_err());
    let fut = async_turn(1);
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert_eq!(fut.as_mut().poll(&mut cx), std::task::Poll::Ready(3));
    let unit_fut = std::pin::pin!(async_unit());
    assert!(unit_fut.poll(&mut cx).is_ready());
    assert_eq!(words("a b").count(), 2);
    assert_eq!(fallible(2).map(Iterator::count), Ok(2));
    assert!(fallible(0).is_err());
    let words_fut = std::pin::pin!(async_words("a b"));
    let std::task::Poll::Ready(mut stream) = words_fut.poll(&mut cx) else {
        panic!("ready at once");
    };
    assert_eq!(
        stream.as_mut().poll_next(&mut cx),
        std::task::Poll::Ready(Some("b"))
    );
}
