#[modelmetry::span(kind = "llm", stream)]
fn answer(prompt: &str) -> String {
    prompt.to_owned()
}

fn main() {}
