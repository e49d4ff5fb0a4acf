//! What `modelmetry::openai::TracedChat` adds to an async-openai call: the same request to the
//! same loopback server (real HTTP, OpenAI's response shapes), bare and traced.
//! `cargo bench -p modelmetry-benches --bench openai`.

use std::hint::black_box;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::CreateChatCompletionRequest;
use criterion::Criterion;
use futures::StreamExt;
use modelmetry::openai::TracedChat;
use modelmetry_tests::Server;
use modelmetry_tests::shapes::{self, json_reply, sse, sse_reply};
use serde_json::json;

fn request(stream: bool) -> CreateChatCompletionRequest {
    let mut body = json!({
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": "You are a support agent. Use tools to look orders up."},
            {"role": "user", "content": "Hi! Where is my order #A-1042? It was due yesterday."}
        ],
        "tools": [{"type": "function", "function": {"name": "GetOrderInformation",
            "description": "Look an order up by its id",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}}}]
    });
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    serde_json::from_value(body).expect("a valid request")
}

fn server() -> Server {
    let server = Server::start();
    server.keep_bodies(false);
    let answer = shapes::chat_answer(
        "Your order A-1042 is in transit with DHL and should arrive tomorrow. Sorry for the delay!",
    );
    let words: Vec<String> = answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .split_inclusive(' ')
        .map(str::to_owned)
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let streamed = sse(&shapes::chat_stream_text(&words, true));
    server.rule(move |r| {
        let streaming =
            serde_json::from_slice::<serde_json::Value>(&r.body).is_ok_and(|b| b["stream"] == true);
        Some(if streaming {
            sse_reply(&streamed)
        } else {
            json_reply(&answer)
        })
    });
    server
}

fn openai(c: &mut Criterion) {
    let server = server();
    // See tests/Cargo.toml: reqwest's crypto provider when the examples' rustls is unified in.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = Client::with_config(
        OpenAIConfig::new()
            .with_api_base(format!("{}/v1", server.base_url()))
            .with_api_key("sk-bench"),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("openai");
    g.sample_size(60);

    let bare_create =
        || rt.block_on(async { black_box(client.chat().create(request(false)).await.unwrap()) });
    let traced_create = || {
        rt.block_on(async {
            black_box(
                TracedChat::new(&client)
                    .create(request(false))
                    .await
                    .unwrap(),
            )
        })
    };
    let bare_stream = || {
        rt.block_on(async {
            let s = client.chat().create_stream(request(true)).await.unwrap();
            black_box(s.count().await)
        })
    };
    let traced_stream = || {
        rt.block_on(async {
            let s = TracedChat::new(&client)
                .create_stream(request(true))
                .await
                .unwrap();
            black_box(s.count().await)
        })
    };

    g.bench_function("create: bare async-openai", |b| b.iter(bare_create));
    g.bench_function("create: TracedChat, tracing off", |b| b.iter(traced_create));
    g.bench_function("create_stream (19 chunks): bare async-openai", |b| {
        b.iter(bare_stream)
    });
    {
        let _on = modelmetry::bench_support::install_discarding(true);
        g.bench_function("create: TracedChat, tracing on, capture on", |b| {
            b.iter(traced_create)
        });
        g.bench_function(
            "create_stream (19 chunks): TracedChat, tracing on, capture on",
            |b| b.iter(traced_stream),
        );
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    openai(&mut c);
    c.final_summary();
}
