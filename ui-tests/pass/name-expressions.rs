//! `name = <expr>` (evaluated only when tracing is on), and option expressions taken by
//! reference: an owned `String` used as `session`, `user`, `model`, `provider`, a tag or
//! metadata stays usable in the body.
#![deny(warnings)]

use modelmetry::{span, trace};

#[span(kind = "tool", name = format!("tool.{tool}"))]
fn run_tool(tool: &str, input: u8) -> u8 {
    input
}

#[span(name = agent)]
async fn run_agent(agent: String) -> String {
    agent
}

#[trace(name = format!("job.{}", job.len()), session = session_id, user = user_id,
        tags = [tenant, "fixed"], metadata(tenant = tenant))]
fn job(job: String, session_id: String, user_id: String, tenant: String) -> String {
    format!("{job}{session_id}{user_id}{tenant}")
}

#[span(kind = "llm", model = model, provider = provider, metadata(model = model))]
fn generate(model: String, provider: String) -> String {
    model + &provider
}

#[span(kind = "llm", stream, name = format!("stream.{model}"), model = model)]
fn answer(model: String) -> impl Iterator<Item = String> {
    vec![model].into_iter()
}

fn main() {
    assert_eq!(run_tool("search", 3), 3);
    drop(run_agent("a".into()));
    assert_eq!(
        job("j".into(), "s".into(), "u".into(), "t".into()),
        "jsut"
    );
    assert_eq!(generate("m".into(), "p".into()), "mp");
    assert_eq!(answer("m".into()).count(), 1);
}
