#[modelmetry::span(stream, output = false, fold = modelmetry::fold::Nothing)]
fn chunks() -> impl Iterator<Item = u8> {
    0..3
}

fn main() {}
