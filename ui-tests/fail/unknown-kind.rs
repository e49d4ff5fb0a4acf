#[modelmetry::span(kind = "lmm")]
fn generate() {}

fn main() {}
