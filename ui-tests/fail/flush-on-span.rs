#[modelmetry::span(flush)]
fn generate() {}

fn main() {}
