//! `unsafe fn`, free and as a method.
#![deny(warnings)]

use modelmetry::span;

/// # Safety
/// `ptr` must point at a live `u32`.
#[span]
unsafe fn read(ptr: *const u32) -> u32 {
    // SAFETY: the caller promises `ptr` is valid.
    unsafe { *ptr }
}

struct Raw;

impl Raw {
    /// # Safety
    /// None needed; `unsafe` to show the shape.
    #[span]
    unsafe fn zero(&self) -> u32 {
        0
    }
}

fn main() {
    let x = 7u32;
    // SAFETY: `x` is alive.
    assert_eq!(unsafe { read(&x) }, 7);
    // SAFETY: no requirement.
    assert_eq!(unsafe { Raw.zero() }, 0);
}
