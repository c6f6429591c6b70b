//! The built-in tools, in one table: each tool's name, what it does, the
//! JSON Schema of its arguments (offered to models as a function), and its
//! implementation. A new tool is one row here.

use serde_json::{json, Value};

use super::{Sandbox, ToolFailure};

/// What the sandbox runs for a tool.
pub(crate) type Run = fn(&Sandbox, &Value) -> Result<Value, ToolFailure>;

/// One built-in tool.
pub struct Tool {
    pub name: &'static str,
    pub description: &'static str,
    /// The JSON Schema of its arguments.
    pub arguments: fn() -> Value,
    /// What the sandbox runs; `None` for `remember`, a memory write the
    /// interpreter makes (under the write policy and `pre_memory_write`).
    pub(crate) run: Option<Run>,
}

fn path() -> Value {
    json!({"type": "string", "description": "a path relative to the workspace root"})
}

/// Every built-in tool.
pub static TOOLS: &[Tool] = &[
    Tool {
        name: "read_file",
        description: "Read a text file of the workspace.",
        arguments: || json!({"type": "object", "properties": {"path": path()}, "required": ["path"]}),
        run: Some(|sb, args| sb.read_file(args)),
    },
    Tool {
        name: "write_file",
        description: "Create or replace a file of the workspace.",
        arguments: || json!({"type": "object", "properties": {"path": path(), "content": {"type": "string"}}, "required": ["path", "content"]}),
        run: Some(|sb, args| sb.write_file(args, false)),
    },
    Tool {
        name: "append_file",
        description: "Append text to a file of the workspace.",
        arguments: || json!({"type": "object", "properties": {"path": path(), "content": {"type": "string"}}, "required": ["path", "content"]}),
        run: Some(|sb, args| sb.write_file(args, true)),
    },
    Tool {
        name: "delete_file",
        description: "Delete a file of the workspace.",
        arguments: || json!({"type": "object", "properties": {"path": path()}, "required": ["path"]}),
        run: Some(|sb, args| sb.delete_file(args)),
    },
    Tool {
        name: "list_dir",
        description: "List a directory of the workspace.",
        arguments: || json!({"type": "object", "properties": {"path": path()}}),
        run: Some(|sb, args| sb.list_dir(args)),
    },
    Tool {
        name: "run_command",
        description: "Run a program in the workspace.",
        arguments: || {
            json!({"type": "object", "properties": {
                "argv": {"type": "array", "items": {"type": "string"}, "description": "program and arguments"},
                "timeout_seconds": {"type": "number"}
            }, "required": ["argv"]})
        },
        run: Some(|sb, args| sb.run_command_tool(args)),
    },
    Tool {
        name: "remember",
        description: "Write a value to the loop's memory under a key.",
        arguments: || json!({"type": "object", "properties": {"key": {"type": "string"}, "value": {}}, "required": ["key", "value"]}),
        run: None,
    },
];

/// The built-in tool called `name`.
pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.name == name)
}

/// The names of the built-in tools.
pub fn names() -> impl Iterator<Item = &'static str> {
    TOOLS.iter().map(|t| t.name)
}
