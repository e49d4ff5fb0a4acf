#[modelmetry::span(model)]
fn generate() {}

fn main() {}
