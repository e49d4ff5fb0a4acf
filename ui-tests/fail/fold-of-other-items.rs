// A fold of text given to a stream of numbers: the error names the fold.
#[modelmetry::span(stream, fold = modelmetry::fold::Text::default())]
fn numbers() -> impl Iterator<Item = u8> {
    0..3
}

fn main() {}
