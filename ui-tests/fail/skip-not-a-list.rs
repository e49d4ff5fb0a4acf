#[modelmetry::span(skip = prompt)]
fn generate(prompt: &str) -> usize {
    prompt.len()
}

fn main() {}
