#[modelmetry::span(metadata(version = 1, version = 2))]
fn generate() {}

fn main() {}
