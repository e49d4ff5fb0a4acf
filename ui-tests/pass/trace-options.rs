//! Every option of `#[trace]`.
#![deny(warnings)]

use modelmetry::{span, trace};

struct Conversation {
    id: String,
    user: String,
}

#[trace]
fn default_name() {}

#[trace(name = "chatbot.turn", session = conversation.id.clone(), user = &conversation.user)]
fn turn(conversation: &Conversation, message: &str) -> String {
    step(message)
}

#[trace(session = "s", user = String::from("u"), tags = ["support", String::from("orders")])]
fn tagged() {}

#[trace(metadata(channel = "web", attempt = 1))]
fn with_metadata() -> u8 {
    1
}

#[trace(flush)]
fn job() -> Result<(), String> {
    Ok(())
}

#[trace(skip(secret), output = false)]
fn skipping(secret: &str, visible: u8) -> String {
    format!("{secret}{visible}")
}

#[trace(skip_all, name = "all skipped")]
fn skipping_all(secret: &str) -> usize {
    secret.len()
}

#[span]
fn step(message: &str) -> String {
    message.to_owned()
}

fn main() {
    default_name();
    let c = Conversation {
        id: "c".into(),
        user: "u".into(),
    };
    assert_eq!(turn(&c, "hi"), "hi");
    tagged();
    let _ = with_metadata();
    job().unwrap();
    let _ = skipping("s", 1);
    let _ = skipping_all("s");
}
