//! The OpenTelemetry exporter (cargo feature `otlp`): finished traces as OTLP/HTTP, in
//! protobuf (the default) or JSON, with the GenAI semantic conventions.
//!
//! It reads the standard variables and nothing of the application's own OpenTelemetry set-up:
//! no global tracer provider is installed, replaced or flushed, so an application that already
//! uses the `opentelemetry` crates keeps its pipeline exactly as it was.

pub(crate) mod exporter;
pub(crate) mod map;
pub(crate) mod proto;
pub(crate) mod semconv;

use prost::Message as _;

pub(crate) use crate::config::otlp::{OtlpCompression, OtlpConfig, OtlpProtocol};
use crate::record::FinishedTrace;
use proto::{
    ExportTraceServiceRequest, InstrumentationScope, KeyValue, Resource, ResourceSpans, ScopeSpans,
    any_value::Value as V,
};

impl OtlpConfig {
    /// The OTLP spans of one trace.
    pub(crate) fn spans(&self, trace: &FinishedTrace) -> Vec<proto::Span> {
        let options = crate::config::otlp::MapOptions {
            content: self.options.content && crate::capture::content_enabled(),
            ..self.options
        };
        map::spans(trace, options)
    }

    /// The request carrying `spans`, with this exporter's resource and scope.
    pub(crate) fn request(&self, spans: Vec<proto::Span>) -> ExportTraceServiceRequest {
        let mut resource: Vec<KeyValue> = self
            .resource
            .iter()
            .map(|(k, v)| KeyValue::new(k, V::StringValue(v.clone())))
            .collect();
        for (k, v) in [
            (semconv::TELEMETRY_SDK_NAME, "modelmetry"),
            (semconv::TELEMETRY_SDK_LANGUAGE, "rust"),
            (semconv::TELEMETRY_SDK_VERSION, env!("CARGO_PKG_VERSION")),
        ] {
            resource.push(KeyValue::new(k, V::StringValue(v.to_owned())));
        }
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: resource,
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "modelmetry".to_owned(),
                        version: env!("CARGO_PKG_VERSION").to_owned(),
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    /// The request body for `spans`, in this exporter's encoding.
    pub(crate) fn encode_spans(&self, spans: Vec<proto::Span>) -> Vec<u8> {
        let req = self.request(spans);
        match self.protocol {
            OtlpProtocol::HttpProtobuf => req.encode_to_vec(),
            OtlpProtocol::HttpJson => proto::to_json(&req).to_string().into_bytes(),
        }
    }

    /// The request body for `traces` and its content type (the encoding tests read it back).
    #[cfg(test)]
    pub(crate) fn encode(&self, traces: &[FinishedTrace]) -> (Vec<u8>, &'static str) {
        let spans = traces.iter().flat_map(|t| self.spans(t)).collect();
        (self.encode_spans(spans), self.protocol.content_type())
    }
}

#[cfg(test)]
mod encoding_tests {
    //! Our OTLP bytes, read back by `opentelemetry-proto` (prost for protobuf, serde for JSON).

    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Instant;

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as TheirRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as TheirValue;
    use opentelemetry_proto::tonic::trace::v1::Span as TheirSpan;
    use prost::Message as _;

    use super::*;
    use crate::config::{Config, Delivery};
    use crate::export::{Exporter, Settle, Tally};
    use crate::{Finding, Kind, Message, Usage};

    type Encoded = (Vec<u8>, &'static str);

    struct Keep(OtlpConfig, Arc<Mutex<Vec<Encoded>>>);

    impl Exporter for Keep {
        fn export(&self, traces: &[FinishedTrace], _: Instant, _: &dyn Settle) -> Tally {
            self.1
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(self.0.encode(traces));
            Tally {
                sent: traces.iter().map(FinishedTrace::record_count).sum(),
                ..Tally::default()
            }
        }
    }

    fn record(otlp: OtlpConfig) -> Encoded {
        let _lock = crate::testing::lock();
        let out = Arc::new(Mutex::new(Vec::new()));
        let guard = crate::client::install_exporter(
            Config::default().delivery(Delivery::Synchronous),
            Some(Box::new(Keep(otlp, out.clone()))),
        );
        {
            let trace = crate::start_trace("chatbot.turn");
            trace.set_session_id("conv-1");
            trace.set_user_id("u-1");
            let llm = crate::start_span("llm.generate", Kind::Llm);
            llm.set_model("gpt-4o");
            llm.set_provider("openai");
            llm.set_messages(vec![
                Message::system("be brief"),
                Message::user("hi"),
                Message::assistant("hello"),
            ]);
            llm.set_usage(Usage::tokens(12, 3));
            Finding::new("response_safe_score", 0.93)
                .comment("fine")
                .record();
            Finding::new("verdict", "pass").record();
            crate::Event::new("retry").with("attempt", &2).record();
            {
                let tool = crate::start_span("get_order", Kind::Tool);
                tool.set_input(&serde_json::json!({"id": 7}));
                tool.record_error(&"not found");
            }
            drop(llm);
            drop(trace);
        }
        drop(guard);
        let mut v = out.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(v.len(), 1);
        v.remove(0)
    }

    fn attr<'a>(span: &'a TheirSpan, key: &str) -> Option<&'a TheirValue> {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    fn string(v: Option<&TheirValue>) -> Option<&str> {
        match v {
            Some(TheirValue::StringValue(s)) => Some(s),
            _ => None,
        }
    }

    fn check(req: &TheirRequest) {
        let rs = &req.resource_spans[0];
        let resource = rs.resource.as_ref().expect("resource");
        assert!(
            resource
                .attributes
                .iter()
                .any(|kv| kv.key == "service.name")
        );
        let spans = &rs.scope_spans[0].spans;
        assert_eq!(spans.len(), 3);
        let root = &spans[0];
        let llm = spans
            .iter()
            .find(|s| s.name == "chat gpt-4o")
            .expect("llm span named by the conventions");
        let tool = spans
            .iter()
            .find(|s| s.name == "execute_tool get_order")
            .expect("tool span");
        assert!(root.parent_span_id.is_empty());
        assert_eq!(llm.parent_span_id, root.span_id);
        assert_eq!(tool.parent_span_id, llm.span_id);
        assert!(
            spans
                .iter()
                .all(|s| s.trace_id == root.trace_id && s.trace_id.len() == 16)
        );
        assert!(
            llm.start_time_unix_nano >= root.start_time_unix_nano
                && llm.end_time_unix_nano <= root.end_time_unix_nano
        );
        assert_eq!(llm.kind, 3, "CLIENT");
        assert_eq!(string(attr(root, "gen_ai.conversation.id")), Some("conv-1"));
        assert_eq!(string(attr(llm, "gen_ai.operation.name")), Some("chat"));
        assert_eq!(string(attr(llm, "gen_ai.provider.name")), Some("openai"));
        assert_eq!(
            attr(llm, "gen_ai.usage.input_tokens"),
            Some(&TheirValue::IntValue(12))
        );
        let input = string(attr(llm, "gen_ai.input.messages")).expect("input messages");
        // Compared as JSON, not as text: serde_json's `preserve_order` (which any crate in a
        // build may turn on, genai's serde_json does) changes the order of the keys, not the value.
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(input).ok(),
            Some(
                serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}])
            )
        );
        let output = string(attr(llm, "gen_ai.output.messages")).expect("output messages");
        assert!(output.contains(r#""finish_reason":"stop""#), "{output}");
        assert!(
            string(attr(llm, "gen_ai.system_instructions")).is_some_and(|s| s.contains("be brief"))
        );
        let evals: Vec<_> = llm
            .events
            .iter()
            .filter(|e| e.name == "gen_ai.evaluation.result")
            .collect();
        assert_eq!(evals.len(), 2);
        let score = evals[0]
            .attributes
            .iter()
            .find(|kv| kv.key == "gen_ai.evaluation.score.value");
        assert_eq!(
            score
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| v.value.clone()),
            Some(TheirValue::DoubleValue(0.93))
        );
        assert!(llm.events.iter().any(|e| e.name == "retry"));
        assert_eq!(tool.status.as_ref().map(|s| s.code), Some(2), "ERROR");
        assert_eq!(string(attr(tool, "error.type")), Some("_OTHER"));
        assert_eq!(
            string(attr(tool, "gen_ai.tool.call.arguments")),
            Some(r#"{"id":7}"#)
        );
    }

    #[test]
    fn protobuf_decodes_with_opentelemetry_proto() {
        let (bytes, content_type) = record(OtlpConfig::default());
        assert_eq!(content_type, "application/x-protobuf");
        let req =
            TheirRequest::decode(bytes.as_slice()).expect("their prost types decode our bytes");
        check(&req);
    }

    #[test]
    fn json_deserialises_with_opentelemetry_proto() {
        let (bytes, content_type) = record(OtlpConfig::default().protocol(OtlpProtocol::HttpJson));
        assert_eq!(content_type, "application/json");
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        assert!(!text.contains("\"traceId\":\"\""), "{text}");
        let raw: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        let trace_id = raw["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
            .as_str()
            .expect("hex id");
        assert_eq!(trace_id.len(), 32);
        assert!(trace_id.bytes().all(|b| b.is_ascii_hexdigit()));
        let req: TheirRequest =
            serde_json::from_slice(&bytes).expect("their serde types read our JSON");
        check(&req);
    }

    #[test]
    fn content_off_writes_no_content() {
        let (bytes, _) = record(OtlpConfig::default().content(false));
        let req = TheirRequest::decode(bytes.as_slice()).expect("decodes");
        for span in &req.resource_spans[0].scope_spans[0].spans {
            for key in [
                "gen_ai.input.messages",
                "gen_ai.output.messages",
                "gen_ai.tool.call.arguments",
                "gen_ai.system_instructions",
            ] {
                assert!(attr(span, key).is_none(), "{key} on {}", span.name);
            }
        }
    }

    #[test]
    fn profiles_add_their_attributes_and_events() {
        let (bytes, _) = record(
            OtlpConfig::default()
                .confident(true)
                .per_message_events(true),
        );
        let req = TheirRequest::decode(bytes.as_slice()).expect("decodes");
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        let llm = spans.iter().find(|s| s.name == "chat gpt-4o").expect("llm");
        assert_eq!(string(attr(llm, "confident.span.type")), Some("llm"));
        assert_eq!(string(attr(llm, "confident.llm.model")), Some("gpt-4o"));
        let names: Vec<&str> = llm.events.iter().map(|e| e.name.as_str()).collect();
        for n in [
            "gen_ai.system.message",
            "gen_ai.user.message",
            "gen_ai.choice",
        ] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        assert_eq!(
            string(attr(&spans[0], "confident.trace.thread_id")),
            Some("conv-1")
        );
        let tool = spans
            .iter()
            .find(|s| s.name.starts_with("execute_tool"))
            .expect("tool");
        assert_eq!(string(attr(tool, "confident.tool.name")), Some("get_order"));
    }
}
