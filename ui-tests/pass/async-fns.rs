//! `async fn`: free, methods, returning borrows, with `?`, and `Send` when the body is.
#![deny(warnings)]

use modelmetry::{span, trace};

#[span(kind = "llm")]
async fn generate(prompt: &str) -> String {
    format!("{prompt}!")
}

#[span]
async fn nothing() {}

#[span]
async fn early(n: i32) -> Result<i32, String> {
    if n < 0 {
        return Err("negative".to_owned());
    }
    let parsed: i32 = "2".parse().map_err(|_| "bad".to_owned())?;
    Ok(n * parsed)
}

struct Store {
    items: Vec<String>,
}

impl Store {
    #[span(kind = "retriever")]
    async fn first(&self) -> Option<&String> {
        self.items.first()
    }

    #[span]
    async fn push(&mut self, item: String) -> &mut Vec<String> {
        self.items.push(item);
        &mut self.items
    }
}

#[trace(name = "turn", flush)]
async fn turn(session: &str) -> usize {
    let answer = generate(session).await;
    answer.len()
}

fn assert_send<T: Send>(_: &T) {}

fn block_on<F: std::future::Future>(fut: F) -> F::Output {
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
    let fut = generate("a");
    assert_send(&fut);
    assert_eq!(block_on(fut), "a!");
    block_on(nothing());
    assert_eq!(block_on(early(2)), Ok(4));
    assert_eq!(block_on(early(-1)), Err("negative".to_owned()));
    let mut store = Store { items: vec!["x".into()] };
    assert_eq!(block_on(store.first()).map(String::as_str), Some("x"));
    assert_eq!(block_on(store.push("y".into())).len(), 2);
    let t = turn("s");
    assert_send(&t);
    assert_eq!(block_on(t), 2);
}
