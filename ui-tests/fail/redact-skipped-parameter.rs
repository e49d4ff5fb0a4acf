#[modelmetry::span(skip(api_key), redact(api_key))]
fn generate(prompt: &str, api_key: &str) -> usize {
    prompt.len() + api_key.len()
}

fn main() {}
