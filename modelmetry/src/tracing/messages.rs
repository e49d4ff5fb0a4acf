//! The GenAI conventions' message JSON (`gen_ai.input.messages`, `gen_ai.output.messages`,
//! `gen_ai.system_instructions`, `gen_ai.tool.definitions`) read into our [`Message`] and
//! [`Tool`] values.
//!
//! A message is `{role, parts: [...], name?}`; parts are `{type: "text", content}`,
//! `{type: "tool_call", id?, name, arguments}`, `{type: "tool_call_response", id?, response}`
//! (rig puts tool results in a `user` message's parts, as its providers do; they become tool
//! messages here), `{type: "blob", mime_type, content}`. Reasoning parts are left out: the
//! wire has no place for them. A part of another type is kept as its JSON text, so nothing
//! the framework recorded silently disappears. Text that is not this JSON is `None`: the
//! caller keeps it as metadata.

use serde_json::Value;

use super::semconv;
use crate::values::{
    AssistantMessage, DataPart, Message, Part, SystemMessage, Tool, ToolCall, ToolMessage,
    UserMessage,
};
use semconv as f;

/// A list of messages, and the finish reasons output messages carried.
pub(crate) fn parse_messages(json: &str) -> Option<(Vec<Message>, Vec<String>)> {
    let value: Value = serde_json::from_str(json).ok()?;
    let list = value.as_array()?;
    let mut out = Vec::new();
    let mut reasons = Vec::new();
    for m in list {
        let obj = m.as_object()?;
        if let Some(reason) = obj.get(f::MSG_FINISH_REASON).and_then(Value::as_str) {
            reasons.push(reason.to_owned());
        }
        message(obj, &mut out);
    }
    Some((out, reasons))
}

/// System instructions: a list of parts (or, from some writers, plain text) as one system
/// message.
pub(crate) fn parse_system_instructions(text: &str) -> Option<Message> {
    let parts = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(parts)) => parts,
        Ok(Value::String(s)) => vec![text_part_json(s)],
        _ => return None,
    };
    let mut split = Split::default();
    for p in &parts {
        split.part(p);
    }
    Some(Message::System(SystemMessage {
        contents: split.contents,
        name: None,
    }))
}

/// Tool definitions: `[{type: "function", name, description, parameters}]` (or OpenAI's
/// `{type, function: {...}}`).
pub(crate) fn parse_tool_definitions(json: &str) -> Option<Vec<Tool>> {
    let value: Value = serde_json::from_str(json).ok()?;
    let mut tools = Vec::new();
    for def in value.as_array()? {
        let def = def.get(f::TOOL_DEF_FUNCTION).unwrap_or(def);
        let name = def.get(f::TOOL_DEF_NAME)?.as_str()?.to_owned();
        tools.push(Tool {
            name,
            description: def
                .get(f::TOOL_DEF_DESCRIPTION)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            parameters: def
                .get(f::TOOL_DEF_PARAMETERS)
                .cloned()
                .unwrap_or(Value::Null),
        });
    }
    Some(tools)
}

fn text_part_json(s: String) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(f::PART_TYPE.into(), f::PART_TEXT.into());
    m.insert(f::PART_CONTENT.into(), Value::String(s));
    Value::Object(m)
}

/// A message's parts sorted into what our message types hold.
#[derive(Default)]
struct Split {
    contents: Vec<Part>,
    calls: Vec<ToolCall>,
    /// Tool results: the call's id and the result as text.
    responses: Vec<(String, String)>,
}

impl Split {
    fn part(&mut self, p: &Value) {
        let kind = p.get(f::PART_TYPE).and_then(Value::as_str).unwrap_or("");
        let text_of = |key: &str| p.get(key).map(as_text);
        match kind {
            f::PART_TEXT => {
                if let Some(text) = text_of(f::PART_CONTENT) {
                    self.contents.push(Part::text(text));
                }
            }
            f::PART_TOOL_CALL => {
                let id = p.get(f::PART_ID).map(as_text).unwrap_or_default();
                let name = p.get(f::PART_NAME).map(as_text).unwrap_or_default();
                let arguments = p.get(f::PART_ARGUMENTS).cloned().unwrap_or(Value::Null);
                self.calls.push(ToolCall::function(id, name, arguments));
            }
            f::PART_TOOL_CALL_RESPONSE => {
                let id = p.get(f::PART_ID).map(as_text).unwrap_or_default();
                let response = text_of(f::PART_RESPONSE)
                    .or_else(|| text_of(f::PART_RESULT))
                    .unwrap_or_default();
                self.responses.push((id, response));
            }
            f::PART_BLOB => {
                let mime = p.get(f::PART_MIME_TYPE).and_then(Value::as_str);
                let data = p.get(f::PART_CONTENT).and_then(Value::as_str);
                if let (Some(mime), Some(data)) = (mime, data) {
                    self.contents.push(Part::Data(DataPart {
                        mime_type: mime.to_owned(),
                        data: data.to_owned(),
                        detail: None,
                    }));
                } else {
                    self.contents.push(Part::text(p.to_string()));
                }
            }
            f::PART_REASONING => {}
            _ => self.contents.push(Part::text(p.to_string())),
        }
    }
}

/// A string as itself, anything else as its JSON text.
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn message(obj: &serde_json::Map<String, Value>, out: &mut Vec<Message>) {
    let role = obj.get(f::MSG_ROLE).and_then(Value::as_str).unwrap_or("");
    let name = obj
        .get(f::MSG_NAME)
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut split = Split::default();
    match obj.get(f::MSG_PARTS) {
        Some(Value::Array(parts)) => parts.iter().for_each(|p| split.part(p)),
        _ => {
            if let Some(content) = obj.get(f::MSG_CONTENT) {
                split.contents.push(Part::text(as_text(content)));
            }
        }
    }
    // Tool results first: they answer the calls of the message before this one.
    for (id, text) in std::mem::take(&mut split.responses) {
        out.push(Message::Tool(ToolMessage {
            contents: vec![Part::text(text)],
            tool_call_id: id,
        }));
    }
    let Split {
        contents, calls, ..
    } = split;
    match role {
        f::ROLE_SYSTEM => out.push(Message::System(SystemMessage { contents, name })),
        f::ROLE_ASSISTANT => {
            if !contents.is_empty() || !calls.is_empty() {
                out.push(Message::Assistant(AssistantMessage {
                    contents,
                    name,
                    tool_calls: (!calls.is_empty()).then_some(calls),
                }));
            }
        }
        // A tool message's results were pushed above; text beside them is kept as a tool
        // message without a call id.
        f::ROLE_TOOL => {
            if !contents.is_empty() {
                out.push(Message::Tool(ToolMessage {
                    contents,
                    tool_call_id: String::new(),
                }));
            }
        }
        // `user`, and roles the conventions do not name.
        _ => {
            if !contents.is_empty() {
                out.push(Message::User(UserMessage { contents, name }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rig_tool_results_in_a_user_message_become_tool_messages() {
        let json = r#"[
            {"role":"user","parts":[{"type":"text","content":"weather?"}]},
            {"role":"assistant","parts":[{"type":"tool_call","id":"c1","name":"get_weather","arguments":{"city":"Paris"}}]},
            {"role":"user","parts":[{"type":"tool_call_response","id":"c1","response":"rain"}]}
        ]"#;
        let (msgs, _) = parse_messages(json).unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[0], Message::user("weather?"));
        let Message::Assistant(a) = &msgs[1] else {
            panic!("{msgs:?}")
        };
        assert_eq!(
            a.tool_calls.as_ref().unwrap()[0].function.name,
            "get_weather"
        );
        assert_eq!(msgs[2], Message::tool("c1", "rain"));
    }

    #[test]
    fn not_message_json_is_none() {
        assert!(parse_messages("hello").is_none());
        assert!(parse_messages("{\"role\":\"user\"}").is_none());
        assert!(parse_system_instructions("{}").is_none());
    }
}
