// With a bad option, the function is still emitted: no "cannot find function" cascade.
#[modelmetry::span(kind = "nope")]
fn generate() -> u8 {
    1
}

fn main() {
    let _ = generate();
}
