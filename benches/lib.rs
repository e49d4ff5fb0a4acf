//! Benchmarks only: see `benches/`. What several benchmarks share: the loopback server, a
//! counting allocator, the competitors' do-nothing exporters, and the rig-shaped GenAI span.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

static RECEIVED: AtomicU64 = AtomicU64::new(0);

/// A minimal HTTP/1.1 server on 127.0.0.1 that reads each request whole and answers 200.
pub fn loopback_server() -> String {
    let listener = match TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => panic!("cannot listen on loopback: {e}"),
    };
    let url = match listener.local_addr() {
        Ok(addr) => format!("http://{addr}"),
        Err(e) => panic!("no local address: {e}"),
    };
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut writer = match stream.try_clone() {
                    Ok(w) => w,
                    Err(_) => return,
                };
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        if line == "\r\n" {
                            break;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    RECEIVED.fetch_add(length as u64, Relaxed);
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    if writer.write_all(reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// Request body bytes the loopback server has received so far.
pub fn received_bytes() -> u64 {
    RECEIVED.load(Relaxed)
}

// ---- a counting allocator, for memory per span -----------------------------------------

/// A global allocator that forwards to the system's and counts the bytes live. Install it in
/// a benchmark with `#[global_allocator] static ALLOC: Counting = Counting;`.
pub struct Counting;

static LIVE: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);

/// Bytes allocated through [`Counting`] and not yet freed.
pub fn live_bytes() -> isize {
    LIVE.load(Relaxed)
}

// SAFETY: forwards to the system allocator unchanged; only counts live bytes.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        // SAFETY: as above.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        // SAFETY: as above.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

// ---- the competitors' set-up -------------------------------------------------------------

/// A fastrace reporter that drops what it is given.
pub struct NoReport;

impl fastrace::collector::Reporter for NoReport {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        std::hint::black_box(spans);
    }
}

/// An OpenTelemetry SDK exporter that drops what it is given.
#[derive(Debug)]
pub struct NoExport;

impl opentelemetry_sdk::trace::SpanExporter for NoExport {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

/// The OpenTelemetry SDK with a batch processor into [`NoExport`].
pub fn otel_provider() -> opentelemetry_sdk::trace::SdkTracerProvider {
    opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(NoExport)
        .build()
}

/// One chat span as rig-core writes it (operation, provider, model; usage recorded after
/// creation), entered once and closed.
#[inline(never)]
pub fn rig_chat_span() {
    let span = tracing::info_span!(
        target: "rig::completions",
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "openai",
        gen_ai.request.model = "gpt-4o",
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
    );
    let _e = span.enter();
    span.record("gen_ai.usage.input_tokens", std::hint::black_box(120u64));
    span.record("gen_ai.usage.output_tokens", std::hint::black_box(18u64));
}
