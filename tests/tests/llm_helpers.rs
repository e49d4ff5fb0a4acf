//! `modelmetry::llm` and the `kind`, `model` and `provider` options fill each span's wire
//! `Family` and `FamilyData`.

use modelmetry::testing::Recorder;
use modelmetry::unversioned::wire::{Family, FamilyData};
use modelmetry::{Cost, Message, Usage, llm, span};
use serde_json::json;

#[span(kind = "completion", model = "gpt-4o-mini", provider = "openai")]
fn complete(prompt: &str) -> String {
    let answer = format!("re: {prompt}");
    llm::set_messages(vec![Message::user(prompt)]);
    llm::add_message(Message::assistant(answer.clone()));
    llm::set_usage(Usage::tokens(12, 7));
    llm::set_cost(Cost::new(0.001, 0.002, "USD"));
    answer
}

#[span(kind = "embeddings", provider = "openai")]
fn embed(texts: Vec<String>) -> usize {
    llm::set_model("text-embedding-3-small");
    let n = texts.len();
    llm::set_embedding_inputs(texts);
    n
}

#[span(kind = "retrieval")]
fn retrieve(query: &str) -> usize {
    llm::add_query(modelmetry::RetrievalQuery::new(query));
    llm::add_document(
        modelmetry::Document::new("kb/1", serde_json::Value::Null)
            .title("Shipping")
            .content_type("text/plain"),
    );
    1
}

#[span(kind = "agent")]
fn agent() {}

#[test]
fn each_kind_fills_its_family() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("t");
        complete("hi");
        embed(vec!["a".into(), "b".into()]);
        retrieve("where is my order");
        agent();
    }
    let traces = recorder.take();
    assert_eq!(
        traces[0].tree(),
        "\
trace t  cost 0.003 USD
├── llm complete  gpt-4o-mini  tokens 12→7  cost 0.003 USD
├── embeddings embed  text-embedding-3-small
├── retriever retrieve
└── agent agent
"
    );
    let spans = &traces[0].ingest().spans;
    assert_eq!(spans[0].family, Some(Family::Completion));
    let Some(FamilyData::Completion(c)) = &spans[0].family_data else {
        panic!("completion data expected: {:?}", spans[0].family_data);
    };
    assert_eq!(c.messages.len(), 2);
    assert_eq!(c.messages[1].text(), "re: hi");
    let options = c.options.as_ref().unwrap();
    assert_eq!(options.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(options.provider.as_deref(), Some("openai"));
    assert!(c.usage.is_some() && c.cost.is_some());

    assert_eq!(spans[1].family, Some(Family::Embeddings));
    let Some(FamilyData::Embeddings(e)) = &spans[1].family_data else {
        panic!("embeddings data expected");
    };
    assert_eq!(e.inputs, ["a", "b"]);
    assert_eq!(e.options.provider.as_deref(), Some("openai"));

    assert_eq!(spans[2].family, Some(Family::Retrieval));
    let Some(FamilyData::Retrieval(r)) = &spans[2].family_data else {
        panic!("retrieval data expected");
    };
    assert_eq!(r.queries[0].text_representation, "where is my order");
    assert_eq!(r.documents[0].identifier, "kb/1");

    assert_eq!(spans[3].family, Some(Family::Other));
    assert_eq!(spans[3].metadata["kind"], json!("agent"));
}

#[test]
fn the_helpers_do_nothing_without_a_span_or_with_tracing_off() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("t");
        llm::set_model("nowhere");
        llm::set_usage(Usage::tokens(1, 1));
    }
    assert_eq!(recorder.take_trees(), "trace t\n");
    drop(recorder);
    let _lock = modelmetry::testing::lock();
    let _off = modelmetry::Config::default()
        .exporter(modelmetry::ExporterKind::None)
        .init()
        .unwrap();
    assert_eq!(complete("x"), "re: x");
}
