//! Methods taking `&self`, `&mut self`, `self`, `Box<Self>`; associated functions; methods
//! that return borrows of `self`.
#![deny(warnings)]

use modelmetry::span;

#[derive(Debug)]
struct Client {
    name: String,
    calls: u32,
}

impl Client {
    #[span]
    fn new(name: &str) -> Self {
        Client {
            name: name.to_owned(),
            calls: 0,
        }
    }

    #[span(kind = "llm")]
    fn name(&self) -> &str {
        &self.name
    }

    #[span]
    fn calls_mut(&mut self) -> &mut u32 {
        &mut self.calls
    }

    #[span]
    fn bump(&mut self, by: u32) {
        self.calls += by;
    }

    #[span]
    fn into_name(self) -> String {
        self.name
    }

    #[span]
    fn boxed(self: Box<Self>) -> u32 {
        self.calls
    }

    #[span]
    fn longest<'a>(&'a self, other: &'a str) -> &'a str {
        if other.len() > self.name.len() { other } else { &self.name }
    }
}

fn main() {
    let mut c = Client::new("a");
    assert_eq!(c.name(), "a");
    *c.calls_mut() += 2;
    c.bump(1);
    assert_eq!(c.calls, 3);
    assert_eq!(c.longest("abc"), "abc");
    let calls = Box::new(Client::new("b")).boxed();
    assert_eq!(calls, 0);
    assert_eq!(c.into_name(), "a");
}
