#[modelmetry::span(redact(api_key))]
fn generate(prompt: &str, apikey: &str) -> usize {
    prompt.len() + apikey.len()
}

fn main() {}
