//! The tool-use conversation of an agentic worker step, in each API's own
//! wire format. The interpreter runs a worker's tool calls through the
//! sandbox and invokes the worker again with `payload.transcript`: one turn
//! per earlier call of the model, each with the model's text, its tool calls
//! and what each call returned. The executors replay it as the native
//! messages (OpenAI: an assistant message with `tool_calls`, then one `tool`
//! message per call; Anthropic: an assistant message with `tool_use` blocks,
//! then a user message of `tool_result` blocks), so the model sees its own
//! calls and their results as if the conversation had never stopped.
//!
//! Call ids are the runtime's own (`call_<turn>_<n>`): an API accepts any id
//! in the history as long as a call and its result agree, and ours are the
//! same when a resumed run replays the turns from the store.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Invocation;

/// One earlier call of the model within this step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// What the model said beside its tool calls.
    #[serde(default)]
    pub text: String,
    pub calls: Vec<TurnCall>,
}

/// A tool call of a turn and what it returned (or why it was refused).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TurnCall {
    pub tool: String,
    #[serde(default)]
    pub args: Value,
    /// The tool's result, or `{"error": …}` for a refused or failed call.
    pub result: Value,
}

/// The turns of `invocation` (none for a step's first call).
pub(crate) fn turns(invocation: &Invocation) -> Vec<Turn> {
    invocation
        .payload
        .get("transcript")
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .unwrap_or_default()
}

fn call_id(turn: usize, n: usize) -> String {
    format!("call_{turn}_{n}")
}

/// What a tool returned, as the text a tool message carries.
fn result_text(result: &Value) -> String {
    match result {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The OpenAI chat messages that follow `[system, user]`.
pub(crate) fn openai_messages(turns: &[Turn]) -> Vec<Value> {
    let mut messages = Vec::new();
    for (t, turn) in turns.iter().enumerate() {
        let calls: Vec<Value> = turn
            .calls
            .iter()
            .enumerate()
            .map(|(n, c)| {
                json!({
                    "id": call_id(t, n),
                    "type": "function",
                    "function": {"name": c.tool, "arguments": c.args.to_string()},
                })
            })
            .collect();
        let content = if turn.text.is_empty() { Value::Null } else { json!(turn.text) };
        messages.push(json!({"role": "assistant", "content": content, "tool_calls": calls}));
        for (n, c) in turn.calls.iter().enumerate() {
            messages.push(json!({"role": "tool", "tool_call_id": call_id(t, n), "content": result_text(&c.result)}));
        }
    }
    messages
}

/// The Anthropic messages that follow the first user message.
pub(crate) fn anthropic_messages(turns: &[Turn]) -> Vec<Value> {
    let mut messages = Vec::new();
    for (t, turn) in turns.iter().enumerate() {
        let mut blocks = Vec::new();
        if !turn.text.is_empty() {
            blocks.push(json!({"type": "text", "text": turn.text}));
        }
        for (n, c) in turn.calls.iter().enumerate() {
            let input = if c.args.is_object() { c.args.clone() } else { json!({}) };
            blocks.push(json!({"type": "tool_use", "id": call_id(t, n), "name": c.tool, "input": input}));
        }
        messages.push(json!({"role": "assistant", "content": blocks}));
        let results: Vec<Value> = turn
            .calls
            .iter()
            .enumerate()
            .map(|(n, c)| {
                let mut block = json!({"type": "tool_result", "tool_use_id": call_id(t, n), "content": result_text(&c.result)});
                if c.result.get("error").is_some() {
                    block["is_error"] = json!(true);
                }
                block
            })
            .collect();
        messages.push(json!({"role": "user", "content": results}));
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn() -> Vec<Turn> {
        vec![Turn {
            text: "Reading it first.".into(),
            calls: vec![
                TurnCall {
                    tool: "read_file".into(),
                    args: json!({"path": "calc.py"}),
                    result: json!({"content": "def add(a, b): return a - b\n"}),
                },
                TurnCall {
                    tool: "run_command".into(),
                    args: json!({"argv": ["rm", "-rf", "/"]}),
                    result: json!({"error": "refused"}),
                },
            ],
        }]
    }

    #[test]
    fn openai_pairs_each_call_with_its_tool_message() {
        let messages = openai_messages(&turn());
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0]["tool_calls"][1]["id"], "call_0_1");
        assert_eq!(messages[0]["tool_calls"][0]["function"]["arguments"], r#"{"path":"calc.py"}"#);
        assert_eq!(messages[2]["role"], "tool");
        assert_eq!(messages[2]["tool_call_id"], "call_0_1");
    }

    #[test]
    fn anthropic_answers_tool_use_with_tool_results() {
        let messages = anthropic_messages(&turn());
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0]["content"][0]["type"], "text");
        assert_eq!(messages[0]["content"][2]["id"], "call_0_1");
        assert_eq!(messages[1]["role"], "user");
        assert_eq!(messages[1]["content"][1]["tool_use_id"], "call_0_1");
        assert_eq!(messages[1]["content"][1]["is_error"], true);
        assert!(messages[1]["content"][0].get("is_error").is_none());
    }
}
