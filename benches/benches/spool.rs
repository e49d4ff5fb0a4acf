//! What the spool's journal adds to each finished trace: with `MODELMETRY_SPOOL_DIR` set, the
//! thread that closes a trace redacts it, encodes it and appends it to the journal before the
//! close returns (so that an exit, a signal or `kill -9` loses nothing).
//!
//! Two cases side by side in one run, the same client otherwise (background delivery to a
//! loopback server, content captured): each iteration records one chatbot-like turn (a root
//! and three model-call spans with model, input, output and usage) and times it from the
//! root's opening to its close returning. Every 1,000 turns a flush (not timed) keeps the
//! buffer from filling. Ends by printing both medians and their ratio, as in BENCHMARKS.md.
//!
//! `cargo bench -p modelmetry-benches --bench spool`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::Criterion;
use modelmetry::{Kind, Usage};

const GROUP: &str = "journal";
/// Turns between two (untimed) flushes.
const FLUSH_EVERY: u64 = 1_000;

/// One turn: a root and three model calls (4 records).
fn turn() {
    let trace = modelmetry::start_trace("chatbot.turn");
    for _ in 0..3 {
        let s = modelmetry::start_span("llm.generate", Kind::Llm);
        s.set_model("gpt-4o-mini");
        s.set_provider("openai");
        s.set_input("What is the status of order A-1042?");
        s.set_output("Your order is in transit and arrives tomorrow.");
        s.set_usage(Usage::tokens(120, 18));
    }
    drop(trace);
}

fn bench_case(c: &mut Criterion, id: &str, spool: Option<&Path>) {
    let mut config = modelmetry::Config::default()
        .api_key("bench")
        .base_url(modelmetry_benches::loopback_server())
        .flush_interval(Duration::from_secs(3600));
    if let Some(dir) = spool {
        config = config.spool_dir(dir);
    }
    let guard = match config.init() {
        Ok(g) => g,
        Err(e) => panic!("cannot start the client: {e}"),
    };
    let mut g = c.benchmark_group(GROUP);
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let start = Instant::now();
                turn();
                total += start.elapsed();
                if i % FLUSH_EVERY == FLUSH_EVERY - 1 {
                    let _ = modelmetry::flush(Duration::from_secs(30));
                }
            }
            let _ = modelmetry::flush(Duration::from_secs(30));
            total
        })
    });
    g.finish();
    drop(guard);
}

/// Criterion's median (ns) of `id` in this group, from this run's estimates.
fn median(id: &str) -> Option<f64> {
    let path = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("criterion")
        .join(GROUP)
        .join(id)
        .join("new/estimates.json");
    let estimates: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

fn main() {
    let dir = std::env::temp_dir().join(format!("modelmetry-bench-spool-{}", std::process::id()));
    let mut c = Criterion::default().configure_from_args();
    bench_case(&mut c, "spool_off", None);
    bench_case(&mut c, "spool_on", Some(&dir));
    c.final_summary();
    let _ = std::fs::remove_dir_all(&dir);
    if let (Some(off), Some(on)) = (median("spool_off"), median("spool_on")) {
        println!("| a turn (root and 3 model calls, content on), closed | per turn (ns) |");
        println!("| --- | ---: |");
        println!("| spool off | {off:.0} |");
        println!(
            "| spool on: redacted, encoded and journaled before the close returns | {on:.0} |"
        );
        println!(
            "| added by the journal | {:.0} ({:.2}× the turn without it) |",
            on - off,
            on / off
        );
    }
    let lost = modelmetry::stats().dropped.delivery_total();
    println!("records dropped during the run (should be 0): {lost}");
}
