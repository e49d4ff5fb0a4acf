#[modelmetry::trace(kind = "llm")]
fn turn() {}

fn main() {}
