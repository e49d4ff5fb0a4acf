#[modelmetry::span(skip_all, skip(prompt))]
fn generate(prompt: &str) -> usize {
    prompt.len()
}

fn main() {}
