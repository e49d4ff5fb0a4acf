#[modelmetry::span]
struct Client;

fn main() {}
