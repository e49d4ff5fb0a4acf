// A type error in the body points at the user's code, not at the macro.
#[modelmetry::span]
fn tokens(text: &str) -> usize {
    text
}

#[modelmetry::span]
async fn tokens_async(text: &str) -> usize {
    text
}

fn main() {}
