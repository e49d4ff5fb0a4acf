#[modelmetry::span(kind = "llm", model = 4)]
fn generate() {}

fn main() {}
