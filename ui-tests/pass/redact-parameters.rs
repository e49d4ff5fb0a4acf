//! `redact(...)`: the named parameters are recorded as their type's name, never captured.
#![deny(warnings)]

use modelmetry::span;

#[span(redact(api_key))]
fn generate(prompt: &str, api_key: &str) -> usize {
    prompt.len() + api_key.len()
}

#[modelmetry::trace(redact(password, token), skip(client))]
fn login(user: &str, password: String, token: &[u8], client: &()) -> bool {
    let _ = client;
    !user.is_empty() && !password.is_empty() && !token.is_empty()
}

fn main() {
    let _ = generate("hi", "sk-secret");
    let _ = login("u", "p".to_owned(), b"t", &());
}
