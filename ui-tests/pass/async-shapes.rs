//! `async fn` shapes the rewrite into `fn -> impl Future` must keep: generics, `impl Trait`
//! arguments, several elided lifetimes, patterns, `mut` and `_` arguments, impls with
//! lifetimes, associated functions returning `Self`, trait impls (with `+ Send` promised by the
//! trait, and `async fn` in the trait), trait default methods, `unsafe`, and `Send` futures.
#![deny(warnings)]

use std::fmt::Display;
use std::future::Future;

use modelmetry::{span, trace};

#[span]
async fn generic<T: Display + Send, const N: usize>(items: [T; N]) -> String {
    items.iter().map(ToString::to_string).collect()
}

#[span]
async fn impl_arg(x: impl Display + Send, y: &str, z: &mut Vec<u8>) -> usize {
    z.push(1);
    x.to_string().len() + y.len() + z.len()
}

#[span]
async fn two_borrows<'a>(a: &'a str, b: &str) -> &'a str {
    let _ = b;
    a
}

#[span]
async fn patterns((a, b): (u8, u8), mut c: u8, _: String, [d, ..]: [u8; 2]) -> u8 {
    c += 1;
    a + b + c + d
}

#[span]
async fn returns_borrow(text: &str) -> &str {
    &text[..1]
}

#[span]
async fn opaque_output(n: u8) -> impl Display {
    n
}

struct Parser<'a> {
    text: &'a str,
}

impl<'a> Parser<'a> {
    #[span]
    async fn new(text: &'a str) -> Self {
        Parser { text }
    }

    #[span]
    async fn word(&self) -> &'a str {
        self.text.split(' ').next().unwrap_or("")
    }

    #[span]
    async fn rest(&mut self, skip: usize) -> &str {
        self.text = &self.text[skip..];
        self.text
    }

    #[span]
    async fn into_text(self) -> &'a str {
        self.text
    }
}

trait Tool {
    fn run(&self, input: &str) -> impl Future<Output = String> + Send;

    async fn describe(&self, verbose: bool) -> String;

    #[span(kind = "tool")]
    async fn run_twice(&self, input: &str) -> String
    where
        Self: Sync,
    {
        let once = self.run(input).await;
        self.run(&once).await
    }
}

struct Echo;

impl Tool for Echo {
    #[span(kind = "tool")]
    async fn run(&self, input: &str) -> String {
        format!("{input}!")
    }

    #[span]
    async fn describe(&self, verbose: bool) -> String {
        if verbose { "echoes".into() } else { "e".into() }
    }
}

#[span]
async unsafe fn dangerous(p: *const u8) -> u8 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *p }
}

#[trace(name = "turn", session = session_id, user = user_id, tags = [tenant])]
async fn owned_options(session_id: String, user_id: String, tenant: String) -> String {
    format!("{session_id}/{user_id}/{tenant}")
}

fn assert_send<T: Send>(_: &T) {}

fn block_on<F: Future>(fut: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn main() {
    assert_eq!(block_on(generic([1, 2])), "12");
    let mut z = Vec::new();
    let fut = impl_arg(5, "ab", &mut z);
    assert_send(&fut);
    assert_eq!(block_on(fut), 4);
    let outer = String::from("outer");
    let inner = String::from("inner");
    let got = block_on(two_borrows(&outer, &inner));
    drop(inner);
    assert_eq!(got, "outer");
    assert_eq!(block_on(patterns((1, 2), 3, String::new(), [4, 5])), 11);
    assert_eq!(block_on(returns_borrow("xy")), "x");
    assert_eq!(block_on(opaque_output(3)).to_string(), "3");
    let mut parser = block_on(Parser::new("a b"));
    assert_eq!(block_on(parser.word()), "a");
    assert_eq!(block_on(parser.rest(2)), "b");
    assert_eq!(block_on(parser.into_text()), "b");
    let run = Echo.run_twice("a");
    assert_send(&run);
    assert_eq!(block_on(run), "a!!");
    assert_eq!(block_on(Echo.describe(true)), "echoes");
    let byte = 7u8;
    // SAFETY: a valid pointer.
    assert_eq!(block_on(unsafe { dangerous(&byte) }), 7);
    assert_eq!(
        block_on(owned_options("s".into(), "u".into(), "t".into())),
        "s/u/t"
    );
}
