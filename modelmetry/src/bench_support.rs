//! Hooks for the workspace's benchmarks (`benches/`). Not an API: hidden, and compiled only
//! with the `__bench` feature, which no user should enable.

use std::time::Instant;

use crate::client::{self, InitGuard};
use crate::config::{Config, Delivery};
use crate::export::{Exporter, Settle, Tally, batch, ingest};
use crate::record::FinishedTrace;
use crate::{Kind, Usage};

/// Counts the records it is given and drops them: the cost of export without a destination.
struct Discard;

impl Exporter for Discard {
    fn export(&self, traces: &[FinishedTrace], _: Instant, _: &dyn Settle) -> Tally {
        Tally {
            sent: traces.iter().map(FinishedTrace::record_count).sum(),
            ..Tally::default()
        }
    }
}

/// Tracing on, background delivery, finished traces dropped by the flusher thread.
pub fn install_discarding(capture_content: bool) -> InitGuard {
    client::install_exporter(
        Config::default()
            .capture_content(capture_content)
            .delivery(Delivery::Background),
        Some(Box::new(Discard)),
    )
}

/// Tracing on, with traces left in the buffer (no flush for an hour): to measure memory.
pub fn install_holding() -> InitGuard {
    client::install_exporter(
        Config::default()
            .flush_interval(std::time::Duration::from_secs(3600))
            .max_batch_records(usize::MAX)
            .max_batch_bytes(usize::MAX)
            .max_buffer_records(u64::MAX)
            .max_buffer_bytes(usize::MAX),
        Some(Box::new(Discard)),
    )
}

/// Decode the embedded price table (what `init` or the flusher does once) and return how long
/// it took: the first call in a process measures the decoding, later ones nothing.
pub fn warm_prices() -> std::time::Duration {
    let start = Instant::now();
    crate::pricing::warm();
    start.elapsed()
}

/// Finished traces recorded through the public API, kept for the serialisation benchmarks.
#[derive(Clone)]
pub struct Synthetic {
    traces: Vec<FinishedTrace>,
}

impl Synthetic {
    /// One trace of `spans` spans, each like a small model call: kind, model, provider, usage,
    /// a short input and output.
    pub fn record(spans: usize) -> Synthetic {
        let guard = client::install_exporter(
            Config::default().delivery(Delivery::Synchronous),
            Some(Box::new(Discard)),
        );
        let trace = crate::context::stack::record_for_bench(|| {
            let _t = crate::start_trace("bench.trace");
            for i in 0..spans {
                let s = crate::start_span(
                    "llm.generate",
                    if i % 2 == 0 { Kind::Llm } else { Kind::Tool },
                );
                s.set_model("gpt-4o-mini");
                s.set_provider("openai");
                s.set_input("What is the status of order A-1042?");
                s.set_output("Your order is in transit and arrives tomorrow.");
                s.set_usage(Usage::tokens(120, 18));
            }
        });
        drop(guard);
        Synthetic {
            traces: trace.into_iter().collect(),
        }
    }

    /// Price every span, as the pipeline does before export (the embedded table; with
    /// `custom`, a `Config::price` for the spans' model instead); returns the spans priced.
    /// Each call needs unpriced traces: clone a fresh `Synthetic` for it.
    pub fn price(&mut self, custom: bool) -> usize {
        let prices = if custom {
            Config::default()
                .price("gpt-4o-mini", "openai", 0.15, 0.6)
                .prices
        } else {
            Vec::new()
        };
        crate::pricing::apply(&prices, &mut self.traces);
        self.traces
            .iter()
            .flat_map(|t| &t.spans)
            .filter(|s| s.data.as_ref().is_some_and(|d| d.llm.cost.is_some()))
            .count()
    }

    /// Records (trace, spans) in the synthetic traces.
    pub fn records(&self) -> u64 {
        self.traces.iter().map(FinishedTrace::record_count).sum()
    }

    /// Turn the traces into ingest request bodies, as the exporter does; returns the bytes.
    pub fn encode_ingest(&self, max_batch_bytes: usize) -> usize {
        let record_limit = crate::Config::default()
            .max_batch_bytes(max_batch_bytes)
            .record_limit();
        let (records, _) = ingest::encode_traces(&self.traces, record_limit);
        batch::pack(&records, usize::MAX, max_batch_bytes)
            .iter()
            .map(|r| r.body.len())
            .sum()
    }
}

/// One reading of the clock spans are timed with: a span takes two, and the benchmarks show
/// what they cost alone.
#[inline]
pub fn clock_read() -> u64 {
    crate::time::Tick::now().raw()
}
