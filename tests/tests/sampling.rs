//! Head sampling by trace id, the tail rules that keep what matters, and the counters of what
//! sampling dropped.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use modelmetry::testing::{RecordedTrace, Recorder};
use modelmetry::{Config, Cost, Kind, Threshold, Usage, finding, llm, propagation, stats};
use serde_json::json;

fn trace_metadata(t: &RecordedTrace) -> serde_json::Map<String, serde_json::Value> {
    t.ingest().traces[0].metadata.clone()
}

#[test]
fn at_rate_one_tenth_the_kept_share_is_within_binomial_bounds() {
    let recorder = Recorder::install_with(Config::default().sample_rate(0.1));
    const N: f64 = 10_000.0;
    for _ in 0..10_000 {
        let _t = modelmetry::start_trace("t");
        let _s = modelmetry::start_span("s", Kind::Other);
    }
    let kept = recorder.take();
    // Binomial(10 000, 0.1): mean 1000, sigma 30; 4 sigma either side.
    let (mean, sigma) = (N * 0.1, (N * 0.1 * 0.9f64).sqrt());
    let k = kept.len() as f64;
    assert!((k - mean).abs() <= 4.0 * sigma, "kept {k} of {N}");
    for t in &kept {
        assert_eq!(trace_metadata(t)["modelmetry.sample_rate"], json!(0.1));
        assert!(trace_metadata(t).get("modelmetry.kept_by").is_none());
    }
    let s = stats().sampling;
    assert_eq!(s.kept as usize, kept.len());
    assert_eq!(s.dropped_traces as usize, 10_000 - kept.len());
    // The trace and its one span, per dropped trace.
    assert_eq!(s.dropped_records, 2 * s.dropped_traces);
}

#[test]
fn rate_one_sends_everything_without_a_sample_rate_note() {
    let recorder = Recorder::install();
    for _ in 0..50 {
        let _t = modelmetry::start_trace("t");
    }
    let kept = recorder.take();
    assert_eq!(kept.len(), 50);
    assert!(
        trace_metadata(&kept[0])
            .get("modelmetry.sample_rate")
            .is_none()
    );
    assert_eq!(stats().sampling, Default::default());
}

#[modelmetry::span]
fn failing(n: u32) -> Result<u32, String> {
    if n % 2 == 0 {
        Err(format!("failed on {n}"))
    } else {
        Ok(n)
    }
}

#[test]
fn every_error_trace_is_kept_and_the_others_dropped() {
    let recorder = Recorder::install_with(Config::default().sample_rate(0.0));
    for n in 0..200 {
        let _t = modelmetry::start_trace("t");
        let _ = failing(n);
    }
    let kept = recorder.take();
    assert_eq!(kept.len(), 100, "every trace with an error, and only those");
    for t in &kept {
        assert_eq!(trace_metadata(t)["modelmetry.kept_by"], json!("error"));
        assert_eq!(trace_metadata(t)["modelmetry.sample_rate"], json!(0.0));
        let span = &t.ingest().spans[0];
        assert_eq!(span.severity, Some(modelmetry::Severity::Error));
        // Dropped at its head: no content, no error text was captured.
        assert!(span.metadata.get("input").is_none(), "{:?}", span.metadata);
        assert!(span.message.is_none());
    }
    assert_eq!(stats().sampling.kept_by_rule, 100);
    assert_eq!(stats().sampling.dropped_traces, 100);
}

#[test]
fn keeping_errors_can_be_turned_off() {
    let recorder = Recorder::install_with(Config::default().sample_rate(0.0).keep_errors(false));
    for n in 0..20 {
        let _t = modelmetry::start_trace("t");
        let _ = failing(n * 2);
    }
    assert!(recorder.take().is_empty());
    assert_eq!(stats().sampling.dropped_traces, 20);
}

#[test]
fn every_trace_with_a_low_finding_is_kept() {
    let recorder = Recorder::install_with(
        Config::default()
            .sample_rate(0.0)
            .keep_if_finding("response_safe_score", Threshold::Below(0.5))
            .keep_if_finding("toxicity", Threshold::Above(0.9)),
    );
    let scores = [0.1, 0.49, 0.5, 0.9, 0.2];
    for score in scores {
        let _t = modelmetry::start_trace("t");
        let _s = modelmetry::start_span("answer", Kind::Llm);
        finding!(response_safe_score = score);
    }
    for tox in [0.95, 0.5] {
        let _t = modelmetry::start_trace("t");
        finding!(toxicity = tox);
    }
    {
        // Another finding's low value keeps nothing.
        let _t = modelmetry::start_trace("t");
        finding!(relevance = 0.0);
    }
    let kept = recorder.take();
    let values: Vec<serde_json::Value> = kept
        .iter()
        .map(|t| serde_json::to_value(&t.ingest().findings[0].value).unwrap())
        .collect();
    assert_eq!(values, [json!(0.1), json!(0.49), json!(0.2), json!(0.95)]);
    assert_eq!(
        trace_metadata(&kept[0])["modelmetry.kept_by"],
        json!("finding:response_safe_score")
    );
    assert_eq!(
        trace_metadata(&kept[3])["modelmetry.kept_by"],
        json!("finding:toxicity")
    );
}

#[test]
fn cost_and_duration_over_a_limit_keep_a_trace() {
    let recorder = Recorder::install_with(
        Config::default()
            .sample_rate(0.0)
            .keep_if_cost_over(0.05)
            .keep_if_duration_over(Duration::from_millis(30)),
    );
    for total in [0.01, 0.06] {
        let _t = modelmetry::start_trace("t");
        let _s = modelmetry::start_span("call", Kind::Llm);
        llm::set_cost(Cost::new(total / 2.0, total / 2.0, "USD"));
    }
    {
        let _t = modelmetry::start_trace("slow");
        std::thread::sleep(Duration::from_millis(40));
    }
    let kept = recorder.take();
    assert_eq!(kept.len(), 2);
    assert_eq!(
        trace_metadata(&kept[0])["modelmetry.kept_by"],
        json!("cost")
    );
    assert_eq!(
        trace_metadata(&kept[1])["modelmetry.kept_by"],
        json!("duration")
    );
}

#[test]
fn dropped_traces_still_count_their_usage_and_cost() {
    let recorder = Recorder::install_with(Config::default().sample_rate(0.0));
    for _ in 0..10 {
        let _t = modelmetry::start_trace("t");
        let _s = modelmetry::start_span("call", Kind::Llm);
        llm::set_model("gpt-4o");
        llm::set_usage(Usage::tokens(100, 40));
        llm::set_cost(Cost::new(0.001, 0.002, "USD"));
    }
    {
        // A cost in another currency is not added to the dollars.
        let _t = modelmetry::start_trace("t");
        let _s = modelmetry::start_span("call", Kind::Llm);
        llm::set_cost(Cost::new(1.0, 1.0, "EUR"));
    }
    assert!(recorder.take().is_empty());
    let s = stats().sampling;
    assert_eq!(s.dropped_traces, 11);
    assert_eq!(s.dropped_records, 22);
    assert_eq!(s.dropped_input_tokens, 1000);
    assert_eq!(s.dropped_output_tokens, 400);
    assert_eq!(s.dropped_total_tokens, 1400);
    assert_eq!(s.dropped_cost_usd_nanos, 30_000_000);
    assert!((s.dropped_cost_usd() - 0.03).abs() < 1e-12);
    // Not produced: the delivery balance holds without them.
    assert_eq!(stats().produced, 0);
    assert_eq!(stats().unaccounted(), 0);
}

/// Counts how many times it is serialised.
struct Watched;
static SERIALISED: AtomicUsize = AtomicUsize::new(0);
impl serde::Serialize for Watched {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SERIALISED.fetch_add(1, Ordering::Relaxed);
        s.serialize_str("watched")
    }
}

#[modelmetry::span(metadata(watched = Watched))]
fn takes_watched(w: &Watched) -> usize {
    let _ = w;
    1
}

#[test]
fn a_trace_dropped_at_its_head_captures_nothing() {
    let recorder = Recorder::install_with(Config::default().sample_rate(0.0));
    let before = SERIALISED.load(Ordering::Relaxed);
    for _ in 0..10 {
        let _t = modelmetry::start_trace("t");
        takes_watched(&Watched);
        modelmetry::current_span().set_input(&Watched);
        modelmetry::current_span().set_metadata("w", &Watched);
    }
    assert_eq!(
        SERIALISED.load(Ordering::Relaxed),
        before,
        "no capture at all"
    );
    assert!(recorder.take().is_empty());
    drop(recorder);

    // The same code, kept: captured.
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("t");
        takes_watched(&Watched);
    }
    assert_eq!(recorder.take().len(), 1);
    assert!(SERIALISED.load(Ordering::Relaxed) > before);
}

#[test]
fn an_invalid_rate_is_a_clear_error() {
    for bad in [1.5, -0.1, f64::NAN] {
        let Err(err) = Config::default()
            .exporter(modelmetry::ExporterKind::None)
            .sample_rate(bad)
            .init()
        else {
            panic!("{bad} was accepted");
        };
        let text = err.to_string();
        assert!(
            text.contains("MODELMETRY_SAMPLE_RATE") && text.contains("from 0 to 1"),
            "{text}"
        );
    }
}

#[test]
fn the_traceparent_carries_the_decision() {
    let _recorder = Recorder::install_with(Config::default().sample_rate(0.5));
    let (mut kept, mut dropped) = (0, 0);
    for _ in 0..200 {
        let _t = modelmetry::start_trace("t");
        let tp = propagation::traceparent().unwrap();
        match &tp[53..] {
            "01" => kept += 1,
            "00" => dropped += 1,
            other => panic!("flags {other}"),
        }
    }
    assert!(kept > 50 && dropped > 50, "{kept} {dropped}");
}

const CHILD_INPUT: &str = "MODELMETRY_TEST_SAMPLING_CHILD";

/// The other service: continues each trace of `CHILD_INPUT` three ways and prints, per
/// line, whether it kept it: following the header, deciding from the id alone, and following
/// the header with its flag flipped.
#[test]
#[ignore = "run as a child process by two_processes_sharing_a_traceparent_decide_alike"]
fn sampling_child_process() {
    let input = std::env::var(CHILD_INPUT).expect("run by the parent test");
    let recorder = Recorder::install_with(Config::default().sample_rate(0.5));
    let mut out = String::new();
    for tp in input.split(',') {
        let kept = |ctx: modelmetry::Context| {
            {
                let _a = ctx.attach();
                let _s = modelmetry::start_span("handle", Kind::Other);
            }
            u8::from(!recorder.take().is_empty())
        };
        let header = kept(propagation::from_headers(tp, None));
        let parsed = propagation::from_headers(tp, None);
        let by_id = kept(modelmetry::Context::remote(
            parsed.trace_id().unwrap(),
            parsed.span_id().unwrap(),
        ));
        let flipped = if tp.ends_with("-01") {
            tp.replace_range(53.., "00")
        } else {
            tp.replace_range(53.., "01")
        };
        let flipped = kept(propagation::from_headers(&flipped, None));
        out.push_str(&format!("{header}{by_id}{flipped}\n"));
    }
    println!("CHILD-BEGIN\n{out}CHILD-END");
}

trait ReplaceRange {
    fn replace_range(&self, at: std::ops::RangeFrom<usize>, with: &str) -> String;
}
impl ReplaceRange for str {
    fn replace_range(&self, at: std::ops::RangeFrom<usize>, with: &str) -> String {
        let mut s = self.to_owned();
        String::replace_range(&mut s, at, with);
        s
    }
}

#[test]
fn two_processes_sharing_a_traceparent_decide_alike() {
    let recorder = Recorder::install_with(Config::default().sample_rate(0.5));
    let mut sent = Vec::new();
    for _ in 0..100 {
        let _t = modelmetry::start_trace("caller");
        sent.push(propagation::traceparent().unwrap());
    }
    let kept_here = recorder.take();
    let kept_flags: Vec<bool> = sent.iter().map(|tp| tp.ends_with("-01")).collect();
    assert_eq!(
        kept_flags.iter().filter(|k| **k).count(),
        kept_here.len(),
        "the flag says what this process kept"
    );

    let exe = std::env::current_exe().unwrap();
    let output = Command::new(exe)
        .args([
            "--exact",
            "sampling_child_process",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env(CHILD_INPUT, sent.join(","))
        .output()
        .expect("the child process runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let body = stdout
        .split("CHILD-BEGIN\n")
        .nth(1)
        .and_then(|s| s.split("CHILD-END").next())
        .expect("the child's answer");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), sent.len());
    for (line, kept) in lines.iter().zip(&kept_flags) {
        let k = if *kept { '1' } else { '0' };
        let f = if *kept { '0' } else { '1' };
        let expected: String = [k, k, f].iter().collect();
        assert_eq!(
            *line, expected,
            "following the header, deciding by id, flag flipped"
        );
    }
}

/// A computed cost (here from a `Config::price`, which needs no table) counts for a dropped
/// trace and for the cost rule, as a hand-set one does: head-dropped traces are priced before
/// the tail decision.
#[test]
fn a_computed_cost_counts_for_dropped_traces_and_for_the_cost_rule() {
    let config = Config::default()
        .sample_rate(0.0)
        .price("ft:gpt-4o-mini:acme", "openai", 2.0, 8.0)
        .keep_if_cost_over(5.0);
    let recorder = Recorder::install_with(config);
    let call = |input: u64, output: u64| {
        let _t = modelmetry::start_trace("t");
        let _s = modelmetry::start_span("call", Kind::Llm);
        llm::set_model("ft:gpt-4o-mini:acme");
        llm::set_provider("openai");
        llm::set_usage(Usage::tokens(input, output));
    };
    // $2 + $4 = $6: over the limit, kept by the rule, with its computed cost.
    call(1_000_000, 500_000);
    // $0.2 + $0.4 = $0.6: dropped, its cost counted.
    call(100_000, 50_000);
    let kept = recorder.take();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        trace_metadata(&kept[0])["modelmetry.kept_by"],
        json!("cost")
    );
    let s = stats().sampling;
    assert_eq!(s.dropped_traces, 1);
    assert_eq!(s.dropped_cost_usd_nanos, 600_000_000);
}
