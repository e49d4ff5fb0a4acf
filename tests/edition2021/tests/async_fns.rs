//! Attributed `async fn`s in an edition 2021 crate (this target's edition): the future each
//! returns borrows what an `async fn`'s would (elided lifetimes, `&self`, `&mut self`, an
//! impl's lifetime, a trait impl), and still records under its caller.
#![deny(warnings)]

use modelmetry::span;
use modelmetry::testing::Recorder;
use modelmetry_tests::block_on;

#[span]
async fn first_word(text: &str, sep: &str) -> usize {
    text.split(sep).next().map_or(0, str::len)
}

#[span]
async fn head(text: &str) -> &str {
    &text[..1]
}

struct Parser<'a> {
    text: &'a str,
    seen: Vec<String>,
}

impl<'a> Parser<'a> {
    #[span]
    async fn new(text: &'a str) -> Self {
        Parser {
            text,
            seen: Vec::new(),
        }
    }

    #[span]
    async fn word(&self) -> &'a str {
        self.text.split(' ').next().unwrap_or("")
    }

    #[span]
    async fn remember(&mut self, word: &str) -> &mut Vec<String> {
        self.seen.push(word.to_owned());
        &mut self.seen
    }
}

trait Model {
    async fn complete(&self, prompt: &str) -> String;
}

struct Echo;

impl Model for Echo {
    #[span(kind = "llm")]
    async fn complete(&self, prompt: &str) -> String {
        format!("{prompt}!")
    }
}

#[test]
fn async_fns_compile_and_nest_in_edition_2021() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("t");
        assert_eq!(block_on(first_word("ab cd", " ")), 2);
        assert_eq!(block_on(head("xy")), "x");
        let mut parser = block_on(Parser::new("hello world"));
        let word = block_on(parser.word());
        assert_eq!(block_on(parser.remember(word)).len(), 1);
        assert_eq!(block_on(Echo.complete("a")), "a!");
    }
    assert_eq!(
        recorder.take_trees(),
        "\
trace t
├── other first_word
├── other head
├── other new
├── other word
├── other remember
└── llm complete
"
    );
}
