//! `?` on `Result` and `Option`, `Result` aliases, errors without `Display`.
#![deny(warnings)]

use modelmetry::span;

#[derive(Debug)]
struct DebugError;

struct OpaqueError;

#[span]
fn parse_sum(a: &str, b: &str) -> Result<i64, std::num::ParseIntError> {
    Ok(a.parse::<i64>()? + b.parse::<i64>()?)
}

#[span]
fn io_alias(fail: bool) -> std::io::Result<u8> {
    if fail {
        Err(std::io::Error::other("disk"))?;
    }
    Ok(1)
}

#[span]
fn option_chain(values: &[u8]) -> Option<u8> {
    let first = values.first()?;
    Some(first + 1)
}

#[span]
fn boxed(fail: bool) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if fail {
        return Err("boxed".into());
    }
    Ok(())
}

#[span]
fn debug_error() -> Result<(), DebugError> {
    Err(DebugError)
}

#[span]
fn opaque_error() -> Result<u8, OpaqueError> {
    Err(OpaqueError)
}

fn main() {
    assert_eq!(parse_sum("1", "2").ok(), Some(3));
    assert!(parse_sum("1", "x").is_err());
    assert!(io_alias(true).is_err() && io_alias(false).is_ok());
    assert_eq!(option_chain(&[]), None);
    assert_eq!(option_chain(&[1]), Some(2));
    assert!(boxed(true).is_err());
    assert!(debug_error().is_err());
    assert!(opaque_error().is_err());
}
