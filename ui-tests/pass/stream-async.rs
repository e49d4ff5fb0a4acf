//! `#[span(stream)]` on async streams (feature `stream`): `impl Stream`, `Pin<Box<dyn Stream>>`,
//! and `async fn` returning either, or a `Result` of one, or an iterator.
#![deny(warnings)]

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use modelmetry::span;

struct Countdown(u8);

impl Stream for Countdown {
    type Item = u8;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u8>> {
        if self.0 == 0 {
            return Poll::Ready(None);
        }
        self.0 -= 1;
        Poll::Ready(Some(self.0))
    }
}

#[span(kind = "llm", stream)]
fn countdown(from: u8) -> impl Stream<Item = u8> {
    Countdown(from)
}

#[span(kind = "llm", stream)]
fn boxed(from: u8) -> Pin<Box<dyn Stream<Item = u8> + Send>> {
    Box::pin(Countdown(from))
}

#[span(kind = "llm", stream)]
async fn connect(from: u8) -> Result<impl Stream<Item = u8> + Send, String> {
    if from == 0 {
        return Err("nothing to count".to_owned());
    }
    Ok(Countdown(from))
}

#[span(kind = "llm", stream)]
async fn connect_boxed(from: u8) -> Result<Pin<Box<dyn Stream<Item = u8> + Send + 'static>>, String> {
    Ok(Box::pin(Countdown(from)))
}

#[span(kind = "llm", stream)]
async fn fetch_all(from: u8) -> impl Iterator<Item = u8> {
    0..from
}

fn count<S: Stream>(s: S) -> usize {
    let mut s = std::pin::pin!(s);
    let mut cx = Context::from_waker(Waker::noop());
    let mut n = 0;
    while let Poll::Ready(Some(_)) = s.as_mut().poll_next(&mut cx) {
        n += 1;
    }
    n
}

fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn is_send<T: Send>(t: T) -> T {
    t
}

fn main() {
    assert_eq!(count(countdown(3)), 3);
    assert_eq!(count(boxed(2)), 2);
    assert_eq!(block_on(is_send(connect(2))).map(count), Ok(2));
    assert!(block_on(connect(0)).is_err());
    assert_eq!(block_on(connect_boxed(1)).map(count), Ok(1));
    assert_eq!(block_on(fetch_all(4)).count(), 4);
}
