//! Parameters bound by patterns, `_`, `mut` and raw identifiers.
#![deny(warnings)]

use modelmetry::span;

struct Point {
    x: i32,
    y: i32,
}

#[span]
fn tuple((a, b): (i32, i32)) -> i32 {
    a + b
}

#[span]
fn destructure(Point { x, y: height }: Point) -> i32 {
    x * height
}

#[span]
fn wildcard(_: u8, kept: u8) -> u8 {
    kept
}

#[span]
fn raw(r#type: &str, r#match: u8) -> usize {
    r#type.len() + r#match as usize
}

#[span]
fn by_ref(&value: &u8, [first, ..]: [u8; 3]) -> u8 {
    value + first
}

#[span(skip(height))]
fn skip_bound(Point { x, y: height }: Point) -> i32 {
    x + height
}

fn main() {
    assert_eq!(tuple((1, 2)), 3);
    assert_eq!(destructure(Point { x: 2, y: 3 }), 6);
    assert_eq!(wildcard(0, 1), 1);
    assert_eq!(raw("ab", 1), 3);
    assert_eq!(by_ref(&1, [2, 3, 4]), 3);
    assert_eq!(skip_bound(Point { x: 1, y: 1 }), 2);
}
