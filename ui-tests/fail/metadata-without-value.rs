#[modelmetry::span(metadata(version))]
fn generate() {}

fn main() {}
