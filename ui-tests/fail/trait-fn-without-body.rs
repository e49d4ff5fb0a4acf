trait Model {
    #[modelmetry::span]
    fn complete(&self, prompt: &str) -> String;
}

fn main() {}
