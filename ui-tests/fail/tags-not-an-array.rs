#[modelmetry::trace(tags = "support")]
fn turn() {}

fn main() {}
