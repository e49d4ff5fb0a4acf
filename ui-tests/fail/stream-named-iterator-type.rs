// A named iterator type cannot hold the wrapper that carries the span.
#[modelmetry::span(kind = "llm", stream)]
fn chunks() -> std::vec::IntoIter<&'static str> {
    vec!["a", "b"].into_iter()
}

fn main() {}
