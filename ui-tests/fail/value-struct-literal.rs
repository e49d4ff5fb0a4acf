// The values handed to the span API are `#[non_exhaustive]` (a field the spec adds is not a
// breaking change): they are built with constructors and builder methods, never literals.

fn main() {
    let _ = modelmetry::Options {
        temperature: Some(0.2),
        ..modelmetry::Options::default()
    };
    let _ = modelmetry::Usage {
        input: None,
        output: None,
        total: None,
    };
    let _ = modelmetry::Options::new().temperature(0.2).max_tokens(100);
}
