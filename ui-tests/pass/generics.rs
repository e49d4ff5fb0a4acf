//! Generic functions with bounds, `where` clauses, lifetimes and const generics.
#![deny(warnings)]

use std::fmt::Debug;

use modelmetry::span;
use serde::Serialize;

#[span]
fn describe<T: Debug>(value: T) -> String {
    format!("{value:?}")
}

#[span]
fn to_json<T>(value: &T) -> serde_json::Value
where
    T: Serialize + ?Sized,
{
    serde_json::to_value(value).unwrap_or_default()
}

#[span]
fn unbounded<T>(value: T) -> T {
    value
}

#[span]
fn pick<'a, 'b: 'a>(a: &'a str, b: &'b str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}

#[span]
fn sum<const N: usize>(values: [u32; N]) -> u32 {
    values.iter().sum()
}

struct Wrapper<T>(T);

impl<T: Clone + Debug> Wrapper<T> {
    #[span]
    fn get(&self) -> T {
        self.0.clone()
    }
}

fn main() {
    assert_eq!(describe(3), "3");
    assert_eq!(to_json("x"), serde_json::json!("x"));
    assert_eq!(unbounded(5u8), 5);
    assert_eq!(pick("ab", "c"), "ab");
    assert_eq!(sum([1, 2, 3]), 6);
    assert_eq!(Wrapper(vec![1]).get(), vec![1]);
}
