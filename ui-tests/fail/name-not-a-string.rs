#[modelmetry::trace(name = 42)]
fn turn() {}

fn main() {}
