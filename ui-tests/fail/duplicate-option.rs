#[modelmetry::span(name = "a", kind = "llm", name = "b")]
fn generate() {}

fn main() {}
