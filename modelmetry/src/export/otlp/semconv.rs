//! Every attribute and event name the OpenTelemetry exporter writes, in one place, so renames
//! stay cheap. GenAI names follow semantic conventions v1.41.1 (still "Development").

// Operations and their values.
pub(crate) const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
pub(crate) const OP_CHAT: &str = "chat";
pub(crate) const OP_EMBEDDINGS: &str = "embeddings";
pub(crate) const OP_RETRIEVAL: &str = "retrieval";
pub(crate) const OP_EXECUTE_TOOL: &str = "execute_tool";
pub(crate) const OP_INVOKE_AGENT: &str = "invoke_agent";
pub(crate) const OP_INVOKE_WORKFLOW: &str = "invoke_workflow";

// Request, response and usage.
pub(crate) const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
pub(crate) const GEN_AI_SYSTEM_DEPRECATED: &str = "gen_ai.system";

// Well-known `gen_ai.provider.name` values, for a provider inferred from the model's name.
pub(crate) const PROVIDER_OPENAI: &str = "openai";
pub(crate) const PROVIDER_ANTHROPIC: &str = "anthropic";
pub(crate) const PROVIDER_GCP_GEMINI: &str = "gcp.gemini";
pub(crate) const PROVIDER_MISTRAL_AI: &str = "mistral_ai";
pub(crate) const PROVIDER_COHERE: &str = "cohere";
pub(crate) const PROVIDER_X_AI: &str = "x_ai";
pub(crate) const PROVIDER_DEEPSEEK: &str = "deepseek";
pub(crate) const PROVIDER_PERPLEXITY: &str = "perplexity";

pub(crate) const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
pub(crate) const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
pub(crate) const GEN_AI_REQUEST_TOP_P: &str = "gen_ai.request.top_p";
pub(crate) const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
pub(crate) const GEN_AI_REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
pub(crate) const GEN_AI_REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
pub(crate) const GEN_AI_REQUEST_SEED: &str = "gen_ai.request.seed";
pub(crate) const GEN_AI_REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
pub(crate) const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
pub(crate) const GEN_AI_REQUEST_TOP_K: &str = "gen_ai.request.top_k";
pub(crate) const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
pub(crate) const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
pub(crate) const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
pub(crate) const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
pub(crate) const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
// Parts of the input and output tokens (v1.38+): 5-minute and 1-hour cache writes together
// make `cache_creation`.
pub(crate) const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_read.input_tokens";
pub(crate) const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_creation.input_tokens";
pub(crate) const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: &str =
    "gen_ai.usage.reasoning.output_tokens";
// The OpenAI-specific tier attribute (written when the provider is OpenAI).
pub(crate) const OPENAI_RESPONSE_SERVICE_TIER: &str = "openai.response.service_tier";
pub(crate) const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";

// Content (opt-in: only written when content capture is on).
pub(crate) const GEN_AI_SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
pub(crate) const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
pub(crate) const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
pub(crate) const GEN_AI_TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";
pub(crate) const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
pub(crate) const GEN_AI_TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
pub(crate) const GEN_AI_RETRIEVAL_QUERY_TEXT: &str = "gen_ai.retrieval.query.text";
pub(crate) const GEN_AI_RETRIEVAL_DOCUMENTS: &str = "gen_ai.retrieval.documents";

// Tools, agents, workflows, data sources, embeddings.
pub(crate) const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
pub(crate) const GEN_AI_TOOL_TYPE: &str = "gen_ai.tool.type";
pub(crate) const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";
pub(crate) const GEN_AI_WORKFLOW_NAME: &str = "gen_ai.workflow.name";
pub(crate) const GEN_AI_DATA_SOURCE_ID: &str = "gen_ai.data_source.id";
pub(crate) const GEN_AI_EMBEDDINGS_DIMENSION_COUNT: &str = "gen_ai.embeddings.dimension.count";

// Evaluation results (our findings).
pub(crate) const EVENT_EVALUATION_RESULT: &str = "gen_ai.evaluation.result";
pub(crate) const GEN_AI_EVALUATION_NAME: &str = "gen_ai.evaluation.name";
pub(crate) const GEN_AI_EVALUATION_SCORE_VALUE: &str = "gen_ai.evaluation.score.value";
pub(crate) const GEN_AI_EVALUATION_SCORE_LABEL: &str = "gen_ai.evaluation.score.label";
pub(crate) const GEN_AI_EVALUATION_EXPLANATION: &str = "gen_ai.evaluation.explanation";

// The per-message events deprecated in v1.37, for backends that still read them.
pub(crate) const EVENT_SYSTEM_MESSAGE: &str = "gen_ai.system.message";
pub(crate) const EVENT_USER_MESSAGE: &str = "gen_ai.user.message";
pub(crate) const EVENT_ASSISTANT_MESSAGE: &str = "gen_ai.assistant.message";
pub(crate) const EVENT_TOOL_MESSAGE: &str = "gen_ai.tool.message";
pub(crate) const EVENT_CHOICE: &str = "gen_ai.choice";
pub(crate) const EVENT_ATTR_CONTENT: &str = "content";
pub(crate) const EVENT_ATTR_TOOL_CALLS: &str = "tool_calls";
pub(crate) const EVENT_ATTR_ID: &str = "id";
pub(crate) const EVENT_ATTR_INDEX: &str = "index";
pub(crate) const EVENT_ATTR_FINISH_REASON: &str = "finish_reason";
pub(crate) const EVENT_ATTR_MESSAGE: &str = "message";

// General conventions.
pub(crate) const ERROR_TYPE: &str = "error.type";
pub(crate) const ERROR_TYPE_OTHER: &str = "_OTHER";
pub(crate) const USER_ID: &str = "user.id";
// `service.name` is set from the settings (OTEL_SERVICE_NAME), so it is named with them:
// `config/otlp.rs`.
pub(crate) const TELEMETRY_SDK_NAME: &str = "telemetry.sdk.name";
pub(crate) const TELEMETRY_SDK_LANGUAGE: &str = "telemetry.sdk.language";
pub(crate) const TELEMETRY_SDK_VERSION: &str = "telemetry.sdk.version";

// Ours, for what the conventions have no name for.
pub(crate) const MM_SPAN_NAME: &str = "modelmetry.span.name";
pub(crate) const MM_SPAN_KIND: &str = "modelmetry.span.kind";
pub(crate) const MM_INPUT: &str = "modelmetry.input";
pub(crate) const MM_OUTPUT: &str = "modelmetry.output";
pub(crate) const MM_METADATA_PREFIX: &str = "modelmetry.metadata.";
pub(crate) const MM_TAGS: &str = "modelmetry.trace.tags";
pub(crate) const MM_TRACE_NAME: &str = "modelmetry.trace.name";
pub(crate) const MM_COST_TOTAL: &str = "modelmetry.cost.total";
pub(crate) const MM_COST_CURRENCY: &str = "modelmetry.cost.currency";
/// Of `gen_ai.usage.cache_creation.input_tokens`, the 1-hour writes (no convention names them).
pub(crate) const MM_USAGE_CACHE_WRITE_1H: &str = "modelmetry.usage.cache_creation_1h.input_tokens";
/// The service tier, whatever the provider.
pub(crate) const MM_SERVICE_TIER: &str = "modelmetry.service_tier";
pub(crate) const MM_TTFT_MS: &str = "modelmetry.ttft_ms";

// The Confident AI profile (their OpenTelemetry ingestion reads `confident.*`).
pub(crate) const CONFIDENT_SPAN_TYPE: &str = "confident.span.type";
pub(crate) const CONFIDENT_SPAN_INPUT: &str = "confident.span.input";
pub(crate) const CONFIDENT_SPAN_OUTPUT: &str = "confident.span.output";
pub(crate) const CONFIDENT_SPAN_ERROR: &str = "confident.span.error";
pub(crate) const CONFIDENT_SPAN_METRIC_COLLECTION: &str = "confident.span.metric_collection";
pub(crate) const CONFIDENT_LLM_MODEL: &str = "confident.llm.model";
pub(crate) const CONFIDENT_LLM_INPUT: &str = "confident.llm.attributes.input";
pub(crate) const CONFIDENT_LLM_OUTPUT: &str = "confident.llm.attributes.output";
pub(crate) const CONFIDENT_LLM_INPUT_TOKENS: &str = "confident.llm.attributes.input_token_count";
pub(crate) const CONFIDENT_LLM_OUTPUT_TOKENS: &str = "confident.llm.attributes.output_token_count";
pub(crate) const CONFIDENT_LLM_COST_PER_INPUT_TOKEN: &str = "confident.llm.cost_per_input_token";
pub(crate) const CONFIDENT_LLM_COST_PER_OUTPUT_TOKEN: &str = "confident.llm.cost_per_output_token";
pub(crate) const CONFIDENT_TOOL_NAME: &str = "confident.tool.name";
pub(crate) const CONFIDENT_TOOL_DESCRIPTION: &str = "confident.tool.description";
pub(crate) const CONFIDENT_TOOL_INPUT_PARAMETERS: &str =
    "confident.tool.attributes.input_parameters";
pub(crate) const CONFIDENT_TOOL_OUTPUT: &str = "confident.tool.attributes.output";
pub(crate) const CONFIDENT_RETRIEVER_EMBEDDER: &str = "confident.retriever.embedder";
pub(crate) const CONFIDENT_RETRIEVER_INPUT: &str = "confident.retriever.attributes.embedding_input";
pub(crate) const CONFIDENT_RETRIEVER_CONTEXT: &str =
    "confident.retriever.attributes.retrieval_context";
pub(crate) const CONFIDENT_RETRIEVER_TOP_K: &str = "confident.retriever.attributes.top_k";
pub(crate) const CONFIDENT_AGENT_NAME: &str = "confident.agent.name";
pub(crate) const CONFIDENT_AGENT_TOOLS: &str = "confident.agent.available_tools";
pub(crate) const CONFIDENT_AGENT_HANDOFFS: &str = "confident.agent.agent_handoffs";
pub(crate) const CONFIDENT_AGENT_INPUT: &str = "confident.agent.attributes.input";
pub(crate) const CONFIDENT_AGENT_OUTPUT: &str = "confident.agent.attributes.output";
pub(crate) const CONFIDENT_TRACE_NAME: &str = "confident.trace.name";
pub(crate) const CONFIDENT_TRACE_TAGS: &str = "confident.trace.tags";
pub(crate) const CONFIDENT_TRACE_THREAD_ID: &str = "confident.trace.thread_id";
pub(crate) const CONFIDENT_TRACE_USER_ID: &str = "confident.trace.user_id";
pub(crate) const CONFIDENT_TRACE_INPUT: &str = "confident.trace.input";
pub(crate) const CONFIDENT_TRACE_OUTPUT: &str = "confident.trace.output";
