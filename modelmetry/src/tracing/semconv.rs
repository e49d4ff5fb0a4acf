//! Every field name the bridge reads from a `tracing` span or event, in one place: the
//! OpenTelemetry GenAI conventions (v1.41.1, with the names rig and genai write where they
//! differ), `tracing-opentelemetry`'s `otel.*` fields, and the keys of the conventions'
//! message JSON.
//!
//! Checked against rig-core 0.44.0 (`src/telemetry/mod.rs`), rig-agent 0.44.0
//! (`src/agent/telemetry.rs`, `src/agent/engine.rs`) and genai 0.7.2 with `otel`
//! (`src/otel/conventions.rs`, `src/otel/span.rs`, `src/otel/agent.rs`).

/// The prefix that makes a span a GenAI span (bridged even outside a Modelmetry trace).
pub(crate) const GEN_AI_PREFIX: &str = "gen_ai.";

// `tracing-opentelemetry`'s fields, which genai writes too.
pub(crate) const OTEL_NAME: &str = "otel.name";
pub(crate) const OTEL_KIND: &str = "otel.kind";
pub(crate) const OTEL_STATUS_CODE: &str = "otel.status_code";
pub(crate) const OTEL_STATUS_MESSAGE: &str = "otel.status_message";
/// `otel.status_code`'s failure value, compared without case (genai writes `error`).
pub(crate) const STATUS_ERROR: &str = "error";
pub(crate) const ERROR_TYPE: &str = "error.type";

// The operation, and the values that choose a kind.
pub(crate) const OPERATION_NAME: &str = "gen_ai.operation.name";
pub(crate) const OP_CHAT: &str = "chat";
pub(crate) const OP_TEXT_COMPLETION: &str = "text_completion";
pub(crate) const OP_GENERATE_CONTENT: &str = "generate_content";
pub(crate) const OP_EMBEDDINGS: &str = "embeddings";
pub(crate) const OP_INVOKE_AGENT: &str = "invoke_agent";
pub(crate) const OP_CREATE_AGENT: &str = "create_agent";
pub(crate) const OP_EXECUTE_TOOL: &str = "execute_tool";
pub(crate) const OP_RETRIEVAL: &str = "retrieval";
pub(crate) const OP_INVOKE_WORKFLOW: &str = "invoke_workflow";

// Model and provider.
pub(crate) const PROVIDER_NAME: &str = "gen_ai.provider.name";
/// The name before `gen_ai.provider.name` (conventions before v1.37).
pub(crate) const SYSTEM_DEPRECATED: &str = "gen_ai.system";
pub(crate) const REQUEST_MODEL: &str = "gen_ai.request.model";
pub(crate) const RESPONSE_MODEL: &str = "gen_ai.response.model";
pub(crate) const RESPONSE_ID: &str = "gen_ai.response.id";
pub(crate) const RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";

// Request parameters (our `Options`).
pub(crate) const REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
pub(crate) const REQUEST_TOP_P: &str = "gen_ai.request.top_p";
pub(crate) const REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
pub(crate) const REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
pub(crate) const REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
pub(crate) const REQUEST_SEED: &str = "gen_ai.request.seed";
pub(crate) const REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
pub(crate) const REQUEST_STREAM: &str = "gen_ai.request.stream";
pub(crate) const TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";

// Usage, by bucket: each framework's spelling.
pub(crate) const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
pub(crate) const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
pub(crate) const USAGE_PROMPT_TOKENS_DEPRECATED: &str = "gen_ai.usage.prompt_tokens";
pub(crate) const USAGE_COMPLETION_TOKENS_DEPRECATED: &str = "gen_ai.usage.completion_tokens";
/// Cache reads (the conventions, rig and genai alike).
pub(crate) const USAGE_CACHE_READ: &str = "gen_ai.usage.cache_read.input_tokens";
/// Cache writes (rig and genai).
pub(crate) const USAGE_CACHE_CREATION: &str = "gen_ai.usage.cache_creation.input_tokens";
/// Reasoning tokens: the conventions' and genai's spelling.
pub(crate) const USAGE_REASONING_OUTPUT: &str = "gen_ai.usage.reasoning.output_tokens";
/// Reasoning tokens: rig's spelling.
pub(crate) const USAGE_REASONING_RIG: &str = "gen_ai.usage.reasoning_tokens";

// Content (captured only while content capture is on).
pub(crate) const SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
pub(crate) const INPUT_MESSAGES: &str = "gen_ai.input.messages";
pub(crate) const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// An agent run's prompt and answer as text (rig's `invoke_agent` span).
pub(crate) const PROMPT: &str = "gen_ai.prompt";
pub(crate) const COMPLETION: &str = "gen_ai.completion";
pub(crate) const TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
pub(crate) const TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
pub(crate) const RETRIEVAL_QUERY_TEXT: &str = "gen_ai.retrieval.query.text";
pub(crate) const RETRIEVAL_DOCUMENTS: &str = "gen_ai.retrieval.documents";

// What names a span when `otel.name` does not.
pub(crate) const TOOL_NAME: &str = "gen_ai.tool.name";
pub(crate) const AGENT_NAME: &str = "gen_ai.agent.name";
pub(crate) const WORKFLOW_NAME: &str = "gen_ai.workflow.name";
pub(crate) const DATA_SOURCE_ID: &str = "gen_ai.data_source.id";

/// The conversation: the trace's session.
pub(crate) const CONVERSATION_ID: &str = "gen_ai.conversation.id";

// An event's text (the `message` field `tracing::info!("...")` writes).
pub(crate) const EVENT_MESSAGE: &str = "message";
// Metadata keys the bridge adds to an event.
pub(crate) const EVENT_LEVEL: &str = "level";
pub(crate) const EVENT_TARGET: &str = "target";

// The conventions' message JSON.
pub(crate) const MSG_ROLE: &str = "role";
pub(crate) const MSG_PARTS: &str = "parts";
pub(crate) const MSG_NAME: &str = "name";
pub(crate) const MSG_FINISH_REASON: &str = "finish_reason";
/// Older message JSON (one text `content` instead of `parts`).
pub(crate) const MSG_CONTENT: &str = "content";
pub(crate) const ROLE_SYSTEM: &str = "system";
pub(crate) const ROLE_ASSISTANT: &str = "assistant";
pub(crate) const ROLE_TOOL: &str = "tool";
pub(crate) const PART_TYPE: &str = "type";
pub(crate) const PART_TEXT: &str = "text";
pub(crate) const PART_TOOL_CALL: &str = "tool_call";
pub(crate) const PART_TOOL_CALL_RESPONSE: &str = "tool_call_response";
pub(crate) const PART_REASONING: &str = "reasoning";
pub(crate) const PART_BLOB: &str = "blob";
pub(crate) const PART_CONTENT: &str = "content";
pub(crate) const PART_ID: &str = "id";
pub(crate) const PART_NAME: &str = "name";
pub(crate) const PART_ARGUMENTS: &str = "arguments";
pub(crate) const PART_RESPONSE: &str = "response";
/// What one example in the conventions' docs writes instead of `response`.
pub(crate) const PART_RESULT: &str = "result";
pub(crate) const PART_MIME_TYPE: &str = "mime_type";

// A tool definition (`gen_ai.tool.definitions`).
pub(crate) const TOOL_DEF_NAME: &str = "name";
pub(crate) const TOOL_DEF_DESCRIPTION: &str = "description";
pub(crate) const TOOL_DEF_PARAMETERS: &str = "parameters";
/// Some writers nest the definition under `function`, as OpenAI's API does.
pub(crate) const TOOL_DEF_FUNCTION: &str = "function";

// A retrieved document (`gen_ai.retrieval.documents`).
pub(crate) const DOC_ID: &str = "id";
