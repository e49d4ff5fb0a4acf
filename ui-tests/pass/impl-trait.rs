//! `impl Trait` in argument and in return position.
#![deny(warnings)]

use std::fmt::Display;

use modelmetry::span;

#[span]
fn show(value: impl Display) -> String {
    value.to_string()
}

#[span(stream = false)] // the span covers building the iterator only (no hint)
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[span]
fn parse(text: &str) -> Result<impl Display, std::num::ParseIntError> {
    let n: i64 = text.parse()?;
    Ok(n * 2)
}

#[span]
fn parse_boxed(text: &str) -> Result<impl Display, Box<dyn std::error::Error + Send + Sync>> {
    let n: i64 = text.parse()?;
    Ok(n * 2)
}

#[span]
fn adder(by: i32) -> impl Fn(i32) -> i32 {
    move |x| x + by
}

fn main() {
    assert_eq!(show(4), "4");
    assert_eq!(evens(5).collect::<Vec<_>>(), vec![0, 2, 4]);
    assert_eq!(parse("21").map(|d| d.to_string()).ok(), Some("42".to_owned()));
    assert!(parse("x").is_err());
    assert!(parse_boxed("x").is_err());
    assert_eq!(adder(1)(1), 2);
}
