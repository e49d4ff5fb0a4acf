// An instrumented function that is never called is still dead code.
#![deny(dead_code)]

#[modelmetry::span]
fn never_called(x: u8) -> u8 {
    x
}

#[modelmetry::trace]
async fn never_awaited() {}

fn main() {}
