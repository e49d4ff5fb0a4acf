//! Functions in trait impls, trait default methods, and async fns in trait impls.
#![deny(warnings)]

use modelmetry::span;

trait Model {
    fn complete(&self, prompt: &str) -> String;

    #[span(kind = "chain")]
    fn complete_twice(&self, prompt: &str) -> String {
        let first = self.complete(prompt);
        self.complete(&first)
    }

    fn name(&self) -> &'static str;

    async fn embed(&self, text: &str) -> Vec<f32>;
}

struct Echo;

impl Model for Echo {
    #[span(kind = "llm", model = "echo-1")]
    fn complete(&self, prompt: &str) -> String {
        format!("{prompt}!")
    }

    #[span]
    fn name(&self) -> &'static str {
        "echo"
    }

    #[span(kind = "embeddings")]
    async fn embed(&self, text: &str) -> Vec<f32> {
        vec![text.len() as f32]
    }
}

impl std::fmt::Display for Echo {
    #[span]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Echo")
    }
}

fn main() {
    assert_eq!(Echo.complete_twice("a"), "a!!");
    assert_eq!(Echo.name(), "echo");
    assert_eq!(Echo.to_string(), "Echo");
    drop(Echo.embed("x"));
}
