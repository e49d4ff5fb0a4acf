// Only async streams come pinned: a pinned box of an iterator is no iterator.
#[modelmetry::span(stream)]
fn chunks() -> std::pin::Pin<Box<dyn Iterator<Item = u8>>> {
    Box::pin(0..3)
}

fn main() {}
