//! The expansion is immune to names in the user's scope: a local `core`, `Option`,
//! `Result`, `Some`, variables named like the expansion's own, no prelude traits.
#![deny(warnings)]
#![allow(non_camel_case_types, dead_code)] // the odd names are the point

mod core {}
struct Option;
struct Some;
struct None;
struct Capture;
struct Scope;

type Result<T> = std::result::Result<T, std::fmt::Error>;

#[modelmetry::span]
fn uses_alias(__modelmetry_scope: u8, __modelmetry_ret: u8) -> Result<u8> {
    let __modelmetry_once = __modelmetry_scope + __modelmetry_ret;
    Ok(__modelmetry_once)
}

mod no_prelude {
    #[modelmetry::trace(tags = ["a"])]
    pub fn traced(x: u8) -> u8 {
        x
    }
}

fn main() {
    assert_eq!(uses_alias(1, 2), Ok(3));
    assert_eq!(no_prelude::traced(1), 1);
}
