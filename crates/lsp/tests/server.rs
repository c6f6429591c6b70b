//! The server's conversation over an in-memory connection: the handshakes,
//! how it ends, and what it does with requests it cannot answer.

use std::thread::JoinHandle;
use std::time::Duration;

use loopc_lsp::{serve, Config, Ended};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, ResponseError};
use serde_json::{json, Value};

struct Client {
    connection: Connection,
    server: JoinHandle<Result<Ended, String>>,
    next_id: i32,
}

impl Client {
    fn start() -> Client {
        let (server_side, connection) = Connection::memory();
        let server = std::thread::spawn(move || serve(&server_side, Config::default()).map_err(|e| e.to_string()));
        let mut client = Client {
            connection,
            server,
            next_id: 0,
        };
        let result = client.request("initialize", json!({ "capabilities": {} })).expect("initialized");
        assert_eq!(result["serverInfo"]["name"], "loopc");
        client.notify("initialized", json!({}));
        client
    }

    fn send(&self, message: Message) {
        self.connection.sender.send(message).expect("the server is listening");
    }

    fn notify(&self, method: &str, params: Value) {
        self.send(Notification::new(method.to_owned(), params).into());
    }

    fn receive(&self) -> Message {
        self.connection
            .receiver
            .recv_timeout(Duration::from_secs(20))
            .expect("the server answers")
    }

    fn request(&mut self, method: &str, params: Value) -> Result<Value, ResponseError> {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        self.send(Request::new(id.clone(), method.to_owned(), params).into());
        loop {
            if let Message::Response(response) = self.receive() {
                assert_eq!(response.id, id);
                return response.response_result;
            }
        }
    }

    fn published(&self) -> Value {
        loop {
            if let Message::Notification(n) = self.receive() {
                if n.method == "textDocument/publishDiagnostics" {
                    return n.params;
                }
            }
        }
    }

    fn end(self) -> Ended {
        drop(self.connection);
        self.server.join().expect("the server does not panic").expect("no protocol error")
    }
}

const URI: &str = "file:///nowhere/spec.yaml";

fn open(client: &Client, text: &str) -> Value {
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": URI, "languageId": "yaml", "version": 1, "text": text } }),
    );
    client.published()
}

#[test]
fn shutdown_then_exit_is_the_clean_end() {
    let mut client = Client::start();
    assert!(client.request("shutdown", Value::Null).is_ok());
    client.notify("exit", Value::Null);
    assert_eq!(client.end(), Ended::Shutdown);
}

#[test]
fn exit_without_shutdown_and_a_closed_stream_are_not() {
    let client = Client::start();
    client.notify("exit", Value::Null);
    assert_eq!(client.end(), Ended::ExitWithoutShutdown);
    assert_eq!(Client::start().end(), Ended::Disconnected);
}

#[test]
fn bad_requests_get_errors_and_the_server_goes_on() {
    let mut client = Client::start();
    let unknown = client.request("textDocument/formatting", json!({}));
    assert_eq!(unknown.unwrap_err().code, ErrorCode::MethodNotFound as i32);
    let malformed = client.request("textDocument/hover", json!({ "position": "nowhere" }));
    assert_eq!(malformed.unwrap_err().code, ErrorCode::InvalidParams as i32);
    // A document never opened: no answer to give, and no error either.
    let unopened = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": "file:///x.yaml" }, "position": { "line": 0, "character": 0 } }),
    );
    assert_eq!(unopened.unwrap(), Value::Null);
    client.notify("textDocument/didChange", json!({ "textDocument": { "uri": "file:///x.yaml" } }));
    // Bytes no parser likes, and positions past the end of the text.
    let diagnostics = open(&client, "loop_name: \u{0}\t[\n\u{feff}: {");
    assert!(!diagnostics["diagnostics"].as_array().unwrap().is_empty());
    let far = client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": URI }, "position": { "line": 999, "character": 999 } }),
    );
    assert!(far.is_ok());
    let rename = client.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": URI }, "position": { "line": 0, "character": 0 }, "newName": "x" }),
    );
    assert_eq!(rename.unwrap_err().code, ErrorCode::RequestFailed as i32);
    assert!(client.request("shutdown", Value::Null).is_ok());
}

#[test]
fn diagnostics_are_published_for_each_version_and_cleared_on_close() {
    let client = Client::start();
    let text = "loop_name: demo\nworkers:\n  - id: a\n    depends_on: [nobody]\n";
    let first = open(&client, text);
    assert_eq!(first["version"], 1);
    let codes: Vec<&str> = first["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert!(codes.contains(&"L201"), "{codes:?}");
    let l201 = first["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "L201")
        .unwrap();
    assert_eq!(
        l201["range"],
        json!({ "start": { "line": 3, "character": 17 }, "end": { "line": 3, "character": 23 } })
    );
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": URI, "version": 2 },
            "contentChanges": [{ "text": text.replace("nobody", "a") }]
        }),
    );
    let second = client.published();
    assert_eq!(second["version"], 2);
    assert!(!second["diagnostics"].as_array().unwrap().iter().any(|d| d["code"] == "L201"));
    client.notify("textDocument/didClose", json!({ "textDocument": { "uri": URI } }));
    assert_eq!(client.published()["diagnostics"], json!([]));
}
