#[modelmetry::span(kind = llm)]
fn generate() {}

fn main() {}
