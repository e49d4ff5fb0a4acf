// A span on a function returning an iterator closes before the first item: a warning says
// so (denied here to see it), and `stream` or `stream = false` silences it.
#![deny(warnings)]

#[modelmetry::span(kind = "llm")]
fn answer(prompt: &str) -> impl Iterator<Item = String> {
    vec![prompt.to_owned()].into_iter()
}

#[modelmetry::span(kind = "llm")]
fn boxed() -> Result<Box<dyn Iterator<Item = u8>>, String> {
    Ok(Box::new(0..3))
}

#[modelmetry::span(kind = "llm", stream = false)]
fn builder() -> impl Iterator<Item = u8> {
    0..3
}

#[modelmetry::span(kind = "llm", stream = true)]
fn traced() -> impl Iterator<Item = u8> {
    0..3
}

fn main() {
    let _ = (answer("a").count(), boxed(), builder().count(), traced().count());
}
