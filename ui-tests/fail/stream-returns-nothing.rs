#[modelmetry::span(stream)]
fn print_chunks() {
    println!("a");
}

fn main() {}
