//! Free functions of every return shape: value, unit, `()`, `!`, early return, `break` with a
//! value, `extern "C"`, attributes and doc comments kept.
#![deny(warnings)]

use modelmetry::span;

/// Doc comments and other attributes stay on the function.
#[span]
#[inline]
#[must_use]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[span(kind = "tool")]
fn log_it(message: &str) {
    if message.is_empty() {
        return;
    }
    let _ = message.len();
}

#[span]
fn explicit_unit() -> () {}

#[span]
fn diverges() -> ! {
    panic!("never returns")
}

#[span]
fn early(n: i32) -> &'static str {
    if n < 0 {
        return "negative";
    }
    "non-negative"
}

#[span]
fn first_even(numbers: Vec<u32>) -> Option<u32> {
    let mut i = 0;
    let found = loop {
        if i == numbers.len() {
            break None;
        }
        if numbers[i] % 2 == 0 {
            break Some(numbers[i]);
        }
        i += 1;
    };
    found
}

#[span]
extern "C" fn c_abi(x: i32) -> i32 {
    x * 2
}

#[span]
pub(crate) fn visible(_unused: u8, mut counter: u8) -> u8 {
    counter += 1;
    counter
}

fn main() {
    assert_eq!(add(1, 2), 3);
    log_it("hi");
    log_it("");
    explicit_unit();
    if std::env::args().count() > 100 {
        diverges();
    }
    assert_eq!(early(-1), "negative");
    assert_eq!(early(1), "non-negative");
    assert_eq!(first_even(vec![1, 3, 4]), Some(4));
    assert_eq!(c_abi(2), 4);
    assert_eq!(visible(0, 1), 2);
}
