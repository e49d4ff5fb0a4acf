//! A fixed amount of work for `valgrind --tool=callgrind`, whose instruction counts repeat
//! exactly from run to run (criterion's timings on a shared machine do not):
//!
//! ```text
//! cargo build --profile bench -p modelmetry-benches --example span_loop
//! valgrind --tool=callgrind --toggle-collect='span_loop::spans' \
//!     target/release/examples/span_loop spans
//! ```
//!
//! `spans` records `TRACES` traces of `SPANS` spans through the manual API (`macro`: through
//! `#[span]`, `--toggle-collect='span_loop::macro_spans'`; `off`: never initialised);
//! `findings` as many string findings;
//! `encode` serialises a 10,000-span trace to
//! ingest requests `ROUNDS` times. Divide the counts by the spans recorded or encoded.

use std::hint::black_box;

use modelmetry::Kind;

const TRACES: u64 = 1_000;
const SPANS: u64 = 100;
const ROUNDS: usize = 5;

#[inline(never)]
fn work(s: &str) -> String {
    s.to_owned()
}

#[inline(never)]
fn spans() {
    for _ in 0..TRACES {
        let _t = modelmetry::start_trace("root");
        for _ in 0..SPANS {
            let _span = modelmetry::start_span("work", Kind::Other);
            black_box(work(black_box("hello")));
        }
    }
}

#[modelmetry::span]
#[inline(never)]
fn traced_work(s: &str) -> String {
    work(s)
}

#[inline(never)]
fn macro_spans() {
    for _ in 0..TRACES {
        let _t = modelmetry::start_trace("root");
        for _ in 0..SPANS {
            black_box(traced_work(black_box("hello")));
        }
    }
}

#[inline(never)]
fn findings() {
    for _ in 0..TRACES {
        let _t = modelmetry::start_trace("root");
        for _ in 0..SPANS {
            modelmetry::finding!(verdict = black_box("pass"));
        }
    }
}

#[inline(never)]
fn encode(synthetic: &modelmetry::bench_support::Synthetic) -> usize {
    (0..ROUNDS).map(|_| synthetic.encode_ingest(1 << 20)).sum()
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("encode") => {
            let synthetic = modelmetry::bench_support::Synthetic::record(10_000);
            println!("{} bytes", encode(&synthetic));
        }
        Some("off") => {
            // Never initialised: every span is the disabled path.
            spans();
            println!("{} spans, tracing off", TRACES * SPANS);
        }
        Some("macro") => {
            let _on = modelmetry::bench_support::install_discarding(false);
            macro_spans();
            println!("{} spans through #[span]", TRACES * SPANS);
        }
        Some("findings") => {
            let _on = modelmetry::bench_support::install_discarding(false);
            findings();
            println!("{} findings", TRACES * SPANS);
        }
        _ => {
            let _on = modelmetry::bench_support::install_discarding(false);
            spans();
            println!("{} spans", TRACES * SPANS);
        }
    }
}
