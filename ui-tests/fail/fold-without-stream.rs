#[modelmetry::span(kind = "llm", fold = modelmetry::fold::Nothing)]
fn answer() -> String {
    String::new()
}

fn main() {}
