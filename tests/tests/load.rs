//! Load: 8 threads × 100,000 spans against a small buffer and a slow server. Recording never
//! blocks, the heap stays within a bound set by the buffer's byte limit, whole traces are
//! dropped and counted when the buffer is full, and the counters add up.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use modelmetry_tests::{Delta, Harness, Reply, expect_lost, wait_until};

/// Counts the bytes live on the heap and their peak: the test's memory gauge.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(live, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let live =
                    LIVE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
                PEAK.fetch_max(live, Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const THREADS: usize = 8;
const SPANS_PER_THREAD: usize = 100_000;
const SPANS_PER_TRACE: usize = 100;
const BUFFER_BYTES: usize = 4 * 1024 * 1024;

#[test]
fn eight_threads_of_100k_spans_stay_within_the_memory_bound_and_add_up() {
    let h = Harness::start();
    h.server.keep_bodies(false);
    h.server
        .fallback(Reply::ok().after(Duration::from_millis(25)));
    let guard = h
        .config()
        .max_buffer_records(20_000)
        .max_buffer_bytes(BUFFER_BYTES)
        .max_batch_records(1000)
        .flush_interval(Duration::from_millis(50))
        .request_timeout(Duration::from_secs(5))
        .export_timeout(Duration::from_secs(10))
        .init()
        .expect("init");

    let baseline = LIVE.load(Relaxed);
    PEAK.store(baseline, Relaxed);
    let start = Instant::now();
    let slowest = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let mut slowest = Duration::ZERO;
                    for i in 0..SPANS_PER_THREAD / SPANS_PER_TRACE {
                        let trace = modelmetry::start_trace("load.turn");
                        for _ in 0..SPANS_PER_TRACE {
                            let span = modelmetry::start_span("load.step", modelmetry::Kind::Tool);
                            span.set_metadata("thread", &t);
                        }
                        trace.set_metadata("i", &i);
                        let closing = Instant::now();
                        drop(trace); // hands the trace to the buffer: must never wait on the network
                        slowest = slowest.max(closing.elapsed());
                    }
                    slowest
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .max()
            .unwrap_or_default()
    });
    let recorded_in = start.elapsed();
    let peak = PEAK.load(Relaxed).saturating_sub(baseline);
    expect_lost(modelmetry::shutdown(Duration::from_secs(15)), "buffer_full");
    drop(guard);
    assert!(wait_until(Duration::from_secs(5), || {
        h.delta().buffered == 0
    }));

    let d = h.delta();
    let produced = (THREADS * SPANS_PER_THREAD / SPANS_PER_TRACE * (SPANS_PER_TRACE + 1)) as i64;
    assert_eq!(d.produced, produced);
    assert!(
        d.buffer_full > 0,
        "a slow server must overflow a small buffer: {d:?}"
    );
    assert_eq!(
        d.buffer_full % (SPANS_PER_TRACE as i64 + 1),
        0,
        "whole traces are dropped"
    );
    let received: usize = h
        .server
        .requests()
        .iter()
        .filter(|r| r.accepted())
        .map(|r| r.records)
        .sum();
    assert_eq!(d.sent, received as i64, "sent is what the server accepted");
    assert_eq!(
        d,
        Delta {
            produced,
            sent: d.sent,
            buffer_full: d.buffer_full,
            ..Delta::default()
        },
        "nothing lost but to the full buffer, nothing unaccounted"
    );
    // The buffer's byte bound covers the traces waiting and those being exported (the size
    // estimate counts their memory); a round is encoded four requests' worth (4 MiB) at a
    // time, held up to three times over: as wire body, as JSON records and as request bodies.
    let bound = BUFFER_BYTES + 3 * 4 * 1024 * 1024;
    assert!(
        peak < bound,
        "peak heap growth {peak} bytes, bound {bound} (recorded in {recorded_in:?})"
    );
    assert!(
        slowest < Duration::from_millis(500),
        "closing a trace took {slowest:?}: recording must not wait for the network"
    );
    eprintln!(
        "load: {produced} records in {recorded_in:?}, sent {}, dropped {} (buffer full), peak heap +{} KiB, slowest close {slowest:?}",
        d.sent,
        d.buffer_full,
        peak / 1024
    );
}
