//! What the SDK costs outside the span loop: `init()` at start-up, and a trace of a million
//! spans (memory per span while it is open, and what becomes of it when it closes).
//!
//! ```text
//! cargo build --profile bench -p modelmetry-benches --example scale
//! target/release/examples/scale init      # init() and the first span, 11 fresh processes, medians
//! target/release/examples/scale million   # a 1,000,000-span trace: bytes per span, its fate
//! ```

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use modelmetry_benches::{Counting, live_bytes};

#[global_allocator]
static ALLOC: Counting = Counting;

const SPANS: u64 = 1_000_000;

#[modelmetry::span]
#[inline(never)]
fn step(x: u64) -> u64 {
    black_box(x.wrapping_mul(31))
}

/// In a fresh process: how long `init()` takes to return, and the first span after it.
fn init_once() {
    // The console exporter (the parent discards this process's stderr): no account, no
    // network, the real `init`.
    let start = Instant::now();
    let guard = modelmetry::Config::default()
        .exporter(modelmetry::ExporterKind::Console)
        .init()
        .expect("init");
    let init = start.elapsed();
    let start = Instant::now();
    step(1);
    let first = start.elapsed();
    println!("{} {}", init.as_micros(), first.as_micros());
    drop(guard);
}

fn median(mut v: Vec<u128>) -> u128 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn init_report() {
    let exe = std::env::current_exe().expect("own path");
    let (mut inits, mut firsts) = (Vec::new(), Vec::new());
    for _ in 0..11 {
        let out = Command::new(&exe).arg("init-once").output().expect("child");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text
            .split_whitespace()
            .filter_map(|w| w.parse::<u128>().ok());
        if let (Some(i), Some(f)) = (it.next(), it.next()) {
            inits.push(i);
            firsts.push(f);
        }
    }
    println!(
        "init(): median {} µs over {} fresh processes (each: {:?})",
        median(inits.clone()),
        inits.len(),
        inits
    );
    println!(
        "the first span after it: median {} µs (each: {:?})",
        median(firsts.clone()),
        firsts
    );
}

fn million() {
    let _on = modelmetry::bench_support::install_discarding(false);
    let before = live_bytes();
    let root = modelmetry::start_trace("million");
    let started = Instant::now();
    let sum = (0..SPANS).fold(0u64, |acc, i| acc ^ step(i));
    let recorded = started.elapsed();
    let live = live_bytes() - before;
    black_box(sum);
    drop(root);
    let _ = modelmetry::flush(Duration::from_secs(30));
    let stats = modelmetry::stats();
    println!(
        "{SPANS} spans in one trace: {:.1} ns per span recorded, {:.1} bytes per span held while open",
        recorded.as_nanos() as f64 / SPANS as f64,
        live as f64 / SPANS as f64
    );
    println!(
        "after it closed: produced {}, sent {}, dropped as too large for the buffer {} (the \
         diagnostic says so; Delivery::Synchronous sends it in parts)",
        stats.produced, stats.sent, stats.dropped.trace_too_large
    );
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("init-once") => init_once(),
        Some("million") => million(),
        _ => init_report(),
    }
}
