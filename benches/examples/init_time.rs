//! What the embedded price table adds to `init`, measured in a fresh process each run (the
//! table is decoded once per process).
//!
//! `cargo run --profile bench -p modelmetry-benches --example init_time -- <mode>` with mode
//! `decode` (the decoding alone), `background` (`init` in background delivery: the flusher
//! decodes it), `synchronous` (`init` in synchronous delivery: decoded on a thread `init` starts) or
//! `memory` (the heap the decoded table keeps, and the most it took while decoding).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Live heap bytes, and the most seen, for the `memory` mode.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(now, Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

use modelmetry::{Config, Delivery, ExporterKind};

fn main() {
    let mode = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "decode".to_owned());
    let config = Config::default().exporter(ExporterKind::Console);
    let took = match mode.as_str() {
        "decode" => modelmetry::bench_support::warm_prices(),
        "memory" => {
            let before = LIVE.load(Relaxed);
            PEAK.store(before, Relaxed);
            let took = modelmetry::bench_support::warm_prices();
            let kept = LIVE.load(Relaxed).saturating_sub(before);
            let peak = PEAK.load(Relaxed).saturating_sub(before);
            println!(
                "table kept {:.1} MiB, peak while decoding {:.1} MiB",
                kept as f64 / 1_048_576.0,
                peak as f64 / 1_048_576.0
            );
            took
        }
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
            eprintln!("unknown mode {other:?}: decode, background, synchronous or memory");
            Duration::ZERO
        }
    };
    println!("{mode}: {:.2} ms", took.as_secs_f64() * 1e3);
}
