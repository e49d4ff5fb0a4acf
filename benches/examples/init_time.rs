//! What the embedded price table adds to `init`, measured in a fresh process each run (the
//! table is decoded once per process).
//!
//! `cargo run --profile bench -p modelmetry-benches --example init_time -- <mode>` with mode
//! `decode` (the decoding alone), `background` (`init` in background delivery: the flusher
//! decodes it) or `synchronous` (`init` in synchronous delivery: decoded on `init`'s thread).

use std::time::{Duration, Instant};

use modelmetry::{Config, Delivery, ExporterKind};

fn main() {
    let mode = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "decode".to_owned());
    let config = Config::default().exporter(ExporterKind::Console);
    let took = match mode.as_str() {
        "decode" => modelmetry::bench_support::warm_prices(),
        "background" | "synchronous" => {
            let delivery = if mode == "background" {
                Delivery::Background
            } else {
                Delivery::Synchronous
            };
            let start = Instant::now();
            let guard = config.delivery(delivery).init();
            let took = start.elapsed();
            drop(guard);
            took
        }
        other => {
            eprintln!("unknown mode {other:?}: decode, background or synchronous");
            Duration::ZERO
        }
    };
    println!("{mode}: {:.2} ms", took.as_secs_f64() * 1e3);
}
