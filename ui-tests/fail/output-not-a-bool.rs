#[modelmetry::span(output = "no")]
fn generate() -> u8 {
    1
}

fn main() {}
