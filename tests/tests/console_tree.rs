//! The trace tree (the console's, and the recorder's snapshot) shows what happened: a span
//! dropped before it finished is `cancelled`, a model call shows its cost, a failed one its
//! error.

use modelmetry::testing::Recorder;
use modelmetry::{Cost, Usage, llm, span};

#[span(kind = "llm", model = "gpt-4o-mini")]
fn priced() -> String {
    llm::set_usage(Usage::tokens(100, 20));
    llm::set_cost(Cost::new(0.000_015, 0.000_012, "USD"));
    "ok".to_owned()
}

#[span(kind = "llm")]
fn failing() -> Result<String, String> {
    Err("rate limited: retry after 2s".to_owned())
}

#[span(kind = "llm", stream)]
fn chunks() -> impl Iterator<Item = String> {
    ["a", "b", "c"].into_iter().map(str::to_owned)
}

#[test]
fn the_tree_shows_cost_errors_and_cancelled_spans() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("turn");
        priced();
        let _ = failing();
        // The caller stops reading after the first chunk.
        assert_eq!(chunks().next().as_deref(), Some("a"));
    }
    assert_eq!(
        recorder.take_trees(),
        "\
trace turn  cost 0.000027 USD
├── llm priced  gpt-4o-mini  tokens 100→20  cost 0.000027 USD
├── llm failing  error: rate limited: retry after 2s
└── llm chunks  cancelled
    └── event first_token
"
    );
}
