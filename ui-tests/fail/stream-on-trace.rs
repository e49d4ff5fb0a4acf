#[modelmetry::trace(stream)]
fn turn() -> impl Iterator<Item = u8> {
    0..3
}

fn main() {}
