//! Every option of `#[span]`, and every kind with its aliases.
#![deny(warnings)]

use modelmetry::span;

struct ApiKey(#[allow(dead_code)] String); // neither Serialize nor Debug: never captured here

#[span(kind = "llm", name = "llm.generate", model = "gpt-4o-mini", provider = "openai")]
fn generate(prompt: &str) -> String {
    prompt.to_owned()
}

#[span(kind = "completion", model = format!("gpt-{}", 4), provider = String::from("openai"))]
fn completion(prompt: &str) -> String {
    prompt.to_owned()
}

#[span(kind = "embeddings")]
fn embed(text: &str) -> Vec<f32> {
    vec![text.len() as f32]
}

#[span(kind = "retriever")]
fn retrieve(query: &str) -> Vec<String> {
    vec![query.to_owned()]
}

#[span(kind = "retrieval")]
fn retrieve_alias(query: &str) -> usize {
    query.len()
}

#[span(kind = "tool", name = "GetOrderInformation")]
fn tool(order_id: u64) -> u64 {
    order_id
}

#[span(kind = "agent")]
fn agent() {}

#[span(kind = "chain")]
fn chain() {}

#[span(kind = "other")]
fn other() {}

#[span(metadata(version = 2, "route.name" = "orders", r#type = "internal"))]
fn with_metadata(x: u8) -> u8 {
    x
}

#[span(skip(key))]
fn skip_one(key: ApiKey, question: &str) -> usize {
    drop(key);
    question.len()
}

#[span(skip(key, question))]
fn skip_two(key: ApiKey, question: &str) -> usize {
    drop(key);
    question.len()
}

#[span(skip_all)]
fn skip_all(key: ApiKey) -> bool {
    drop(key);
    true
}

#[span(output = false)]
fn secret() -> String {
    "s3cret".to_owned()
}

#[span(output = true)]
fn not_a_method(x: u8) -> u8 {
    x
}

struct S;
impl S {
    #[span(skip(self))]
    fn m(&self) -> u8 {
        1
    }
}

#[span(
    kind = "llm",
    name = "everything",
    model = "m",
    provider = "p",
    metadata(a = 1),
    skip(b),
    output = false,
)]
fn everything(a: u8, b: u8) -> u8 {
    a + b
}

fn main() {
    let _ = generate("a") + &completion("b");
    let _ = embed("x");
    let _ = retrieve("q");
    let _ = retrieve_alias("q") + tool(1) as usize;
    agent();
    chain();
    other();
    let _ = with_metadata(1);
    let _ = skip_one(ApiKey("k".into()), "q") + skip_two(ApiKey("k".into()), "q");
    let _ = skip_all(ApiKey("k".into()));
    let _ = secret();
    let _ = not_a_method(1) + S.m() + everything(1, 2);
}
