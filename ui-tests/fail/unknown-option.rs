#[modelmetry::span(kind = "llm", temprature = 0.2)]
fn generate() {}

fn main() {}
