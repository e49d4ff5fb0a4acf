#[modelmetry::trace(name = chatbot_turn)]
fn turn() {}

fn main() {}
