//! async-openai's chat client, traced (feature `async-openai`).
//!
//! [`TracedChat`] has `create` and `create_stream` of the same signatures as
//! `async_openai::Chat`'s; each call is an llm span named `chat {model}`, filled from the
//! request and the response as [`llm::record_openai_request`](crate::llm::record_openai_request)
//! and [`record_openai_response`](crate::llm::record_openai_response) read them. It works with
//! any server async-openai talks to (OpenAI, Azure OpenAI, vLLM, Ollama, OpenRouter, …).
//!
//! ```no_run
//! use async_openai::Client;
//! use async_openai::types::chat::{
//!     ChatCompletionRequestUserMessage, CreateChatCompletionRequestArgs,
//! };
//! use modelmetry::openai::TracedChat;
//!
//! # async fn run() -> Result<(), async_openai::error::OpenAIError> {
//! let client = Client::new();
//! let request = CreateChatCompletionRequestArgs::default()
//!     .model("gpt-4o-mini")
//!     .messages([ChatCompletionRequestUserMessage::from("Where is my order?").into()])
//!     .build()?;
//! let response = TracedChat::new(&client).create(request).await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! ```

use async_openai::Client;
use async_openai::config::Config;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionResponseStream, CreateChatCompletionRequest, CreateChatCompletionResponse,
    CreateChatCompletionStreamResponse,
};
use serde_json::Value;

use crate::context::target::Target;
use crate::fold::{Fold, FoldOutput};
use crate::llm::StreamAccumulator;
use crate::llm::call::{self, ProviderError};
use crate::llm::openai_json;
use crate::{Instrument, Kind, StreamSpan};

/// async-openai's `Chat`, with each call traced. Make one per call or keep it: it borrows the
/// client, as `client.chat()` does.
///
/// - **Spans**: one llm span per call, named `chat {model}`, under the current span. Its
///   provider is named after the client's base URL: `openai` for `api.openai.com`, `azure`
///   for Azure OpenAI (`*.openai.azure.com`, `*.azure-api.net`), else the host
///   (`localhost`, `openrouter.ai`, …); the base URL is in its options.
/// - **Errors**: an `Err` marks the span `error`. An API error keeps the provider's error body:
///   the span's message is one line (`401 invalid_request_error: Incorrect API key provided
///   (code: invalid_api_key)`) and its metadata `provider_error` holds `status`, `type`,
///   `code`, `param` and `message`.
/// - **Streams**: [`create_stream`](Self::create_stream) returns a traced stream whose span
///   closes when the stream ends, at an `Err` item, or when it is dropped early (marked
///   `cancelled`, with what had arrived recorded); its first chunk is the time to first token.
pub struct TracedChat<'c, C: Config> {
    client: &'c Client<C>,
}

impl<C: Config> std::fmt::Debug for TracedChat<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedChat")
            .field("api_base", &self.client.config().api_base())
            .finish()
    }
}

impl<'c, C: Config> TracedChat<'c, C> {
    /// The chat API of `client`, traced.
    pub fn new(client: &'c Client<C>) -> Self {
        TracedChat { client }
    }

    /// `async_openai::Chat::create`, in an llm span filled from the request and the response.
    pub async fn create(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<CreateChatCompletionResponse, OpenAIError> {
        if !crate::dispatch::enabled() {
            return self.client.chat().create(request).await;
        }
        let name = format!("chat {}", request.model);
        let call = async move {
            self.record_request(&request);
            let result = self.client.chat().create(request).await;
            let t = Target::current_span();
            match &result {
                Ok(response) => match serde_json::to_value(response) {
                    Ok(v) => call::apply_response(t, openai_json::response(&v)),
                    Err(e) => t.set_metadata(
                        crate::metadata_keys::UNMAPPED,
                        &[format!("response: not serialisable ({e})")],
                    ),
                },
                Err(e) => call::apply_error(t, &error_of(e)),
            }
            result
        };
        call.in_span(name, Kind::Llm).await
    }

    /// `async_openai::Chat::create_stream`, in an llm span that lasts as long as the stream.
    ///
    /// **Usage**: OpenAI sends a streamed answer's usage only when asked, so unless the request
    /// sets `stream_options.include_usage`, this sets it to `true`: the stream then ends with
    /// one more chunk, whose `choices` are empty and whose `usage` the span records. A request
    /// that sets it to `false` is left alone (its span has no usage).
    pub async fn create_stream(
        &self,
        mut request: CreateChatCompletionRequest,
    ) -> Result<ChatCompletionResponseStream, OpenAIError> {
        if !crate::dispatch::enabled() {
            return self.client.chat().create_stream(request).await;
        }
        let options = request.stream_options.get_or_insert_with(Default::default);
        if options.include_usage.is_none() {
            options.include_usage = Some(true);
        }
        if request.stream.is_none() {
            request.stream = Some(true);
        }
        let mut span = StreamSpan::open(format!("chat {}", request.model), Kind::Llm);
        span.in_scope(|| self.record_request(&request));
        match span
            .in_future(self.client.chat().create_stream(request))
            .await
        {
            Ok(stream) => Ok(Box::pin(span.wrap(stream, ChatChunks::default()))),
            Err(e) => {
                let error = error_of(&e);
                span.in_scope(|| call::apply_error(Target::current_span(), &error));
                span.fail(&error.text());
                Err(e)
            }
        }
    }

    fn record_request(&self, request: &CreateChatCompletionRequest) {
        // Through the text: async-openai's `f32` parameters (temperature, top_p) read back as
        // the decimals written (0.2), not as the nearest `f64` of the `f32` (0.2000000029…).
        let value = serde_json::to_vec(request)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(Value::Null);
        let mut req = openai_json::request(&value);
        let base = self.client.config().api_base();
        req.options.provider = Some(provider_of(base));
        req.options.base_url = Some(base.to_owned());
        call::apply_request(Target::current_span(), req);
    }
}

/// The provider a base URL names: `openai`, `azure`, or its host.
pub(crate) fn provider_of(base_url: &str) -> String {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let host = host.to_ascii_lowercase();
    if host == "api.openai.com" {
        "openai".to_owned()
    } else if host.ends_with(".openai.azure.com")
        || host.ends_with(".azure-api.net")
        || host.ends_with(".cognitiveservices.azure.com")
    {
        "azure".to_owned()
    } else if host.is_empty() {
        "openai".to_owned()
    } else {
        host
    }
}

/// An async-openai error as the provider's error body says it, when it says it.
fn error_of(e: &OpenAIError) -> ProviderError {
    match e {
        OpenAIError::ApiError(api) => ProviderError {
            status: Some(api.status_code.as_u16()),
            kind: api.api_error.r#type.clone(),
            code: api.api_error.code.clone(),
            param: api.api_error.param.clone(),
            message: api.api_error.message.clone(),
        },
        // An error sent inside a stream (`data: {"error": {...}}`) does not parse as a chunk.
        OpenAIError::JSONDeserialize(_, content) => match serde_json::from_str::<Value>(content) {
            Ok(body) if body.get("error").is_some() => ProviderError::from_body(None, &body),
            _ => ProviderError {
                message: e.to_string(),
                ..ProviderError::default()
            },
        },
        other => ProviderError {
            message: other.to_string(),
            ..ProviderError::default()
        },
    }
}

/// The fold of a traced chat stream: chunks to the accumulator, an `Err` item closes the span
/// as an error with the provider's error body.
#[derive(Default)]
struct ChatChunks {
    acc: StreamAccumulator,
}

impl Fold<Result<CreateChatCompletionStreamResponse, OpenAIError>> for ChatChunks {
    fn item(
        &mut self,
        item: &Result<CreateChatCompletionStreamResponse, OpenAIError>,
    ) -> Result<(), String> {
        match item {
            Ok(chunk) => Fold::item(&mut self.acc, chunk),
            Err(e) => {
                let error = error_of(e);
                let t = Target::current_span();
                call::apply_error(t, &error);
                // The span ends at this item: what had arrived goes with it now.
                self.acc.add_messages(t);
                Err(error.text())
            }
        }
    }
}

impl FoldOutput for ChatChunks {
    fn output(&mut self) -> Option<Value> {
        self.acc.output()
    }
}

#[cfg(test)]
mod tests {
    use super::provider_of;

    #[test]
    fn the_provider_is_named_after_the_base_url() {
        assert_eq!(provider_of("https://api.openai.com/v1"), "openai");
        assert_eq!(provider_of("https://my-res.openai.azure.com"), "azure");
        assert_eq!(provider_of("https://gw.azure-api.net/openai"), "azure");
        assert_eq!(provider_of("http://localhost:11434/v1"), "localhost");
        assert_eq!(
            provider_of("https://user:pw@OpenRouter.ai/api/v1"),
            "openrouter.ai"
        );
        assert_eq!(provider_of("http://[::1]:8000/v1"), "::1");
    }
}
