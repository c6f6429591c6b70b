//! The server: the protocol's handshakes and one loop that reads the
//! client's messages in order, keeping the open documents in memory.
//!
//! It is synchronous and single-threaded: each change is checked before
//! the next message is read, so every answer is about the text the client
//! last sent. A panic in a handler (a bug, never bad input) fails that one
//! request instead of the server.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;
use lsp_types::{self as lsp, notification as n, request as r};
use serde_json::Value;

use crate::completion::{self, ItemKind};
use crate::convert::{self, RuleDocs};
use crate::document::{Analysed, SettingsSource};
use crate::symbols::{Role, Symbols};

/// What `loopc lsp` starts the server with.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub settings: SettingsSource,
    pub rules: RuleDocs,
    /// Reported to the client as the server's version.
    pub version: String,
}

/// How the conversation with the client ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// `shutdown`, then `exit`: the protocol's clean end.
    Shutdown,
    /// `exit` without `shutdown` (the protocol asks for exit status 1).
    ExitWithoutShutdown,
    /// The client closed the stream.
    Disconnected,
}

/// Why the server stopped before the client ended the conversation.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("LSP protocol error: {0}")]
    Protocol(#[from] lsp_server::ProtocolError),
    #[error("cannot talk to the client: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot describe the server's capabilities: {0}")]
    Json(#[from] serde_json::Error),
}

/// Serve one client over standard input and output.
pub fn serve_stdio(config: Config) -> Result<Ended, ServeError> {
    let (connection, threads) = Connection::stdio();
    let ended = serve(&connection, config)?;
    // Dropping the connection ends the writer thread; the reader has
    // stopped at `exit` or at the end of input.
    drop(connection);
    threads.join()?;
    Ok(ended)
}

/// Serve one client over `connection`, from `initialize` to the end.
pub fn serve(connection: &Connection, config: Config) -> Result<Ended, ServeError> {
    let (id, _params) = connection.initialize_start()?;
    let result = lsp::InitializeResult {
        capabilities: capabilities(),
        server_info: Some(lsp::ServerInfo {
            name: "loopc".into(),
            version: Some(config.version.clone()),
        }),
    };
    connection.initialize_finish(id, serde_json::to_value(result)?)?;
    let mut server = Server {
        config,
        documents: HashMap::new(),
        connection,
        shown_settings_error: None,
    };
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    return Ok(Ended::Shutdown);
                }
                server.request(request);
            }
            Message::Notification(notification) if notification.method == n::Exit::METHOD => return Ok(Ended::ExitWithoutShutdown),
            Message::Notification(notification) => server.notification(notification),
            Message::Response(_) => {}
        }
    }
    Ok(Ended::Disconnected)
}

fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(lsp::TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(lsp::TextDocumentSyncKind::FULL),
            save: Some(lsp::TextDocumentSyncSaveOptions::Supported(true)),
            ..lsp::TextDocumentSyncOptions::default()
        })),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some([".", "/", "[", ","].map(String::from).to_vec()),
            ..lsp::CompletionOptions::default()
        }),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: lsp::WorkDoneProgressOptions::default(),
        })),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Options(lsp::CodeActionOptions {
            code_action_kinds: Some(vec![lsp::CodeActionKind::QUICKFIX]),
            ..lsp::CodeActionOptions::default()
        })),
        ..lsp::ServerCapabilities::default()
    }
}

struct Document {
    version: i32,
    text: String,
    /// Where the document is (or would be) on disk: settings, composition
    /// `ref`s and file completion start from here.
    path: PathBuf,
    /// Whether `path` is a real file (a `file:` URI).
    on_disk: bool,
    analysed: Analysed,
    /// The ids of the last version that parsed: completion offers them
    /// while the text being typed does not parse.
    known: Symbols,
}

/// A request that cannot be answered, as the error the client gets.
struct Failure {
    code: i32,
    message: String,
}

impl Failure {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure {
            code: code as i32,
            message: message.into(),
        }
    }
}

struct Server<'c> {
    config: Config,
    documents: HashMap<lsp::Uri, Document>,
    connection: &'c Connection,
    /// The last `loopc.toml` error shown, so that each is shown once.
    shown_settings_error: Option<String>,
}

/// The params of a request of type `R`, answered by `answer`.
fn answer<R: r::Request>(request: Request, answer: impl FnOnce(R::Params) -> Result<R::Result, Failure>) -> Result<Value, Failure> {
    let params: R::Params =
        serde_json::from_value(request.params).map_err(|e| Failure::new(ErrorCode::InvalidParams, format!("{}: {e}", R::METHOD)))?;
    let result = answer(params)?;
    serde_json::to_value(result).map_err(|e| Failure::new(ErrorCode::InternalError, e.to_string()))
}

impl Server<'_> {
    fn send(&self, message: Message) {
        // A closed channel means the client is gone; the loop ends on its own.
        let _ = self.connection.sender.send(message);
    }

    fn notify<N: n::Notification>(&self, params: N::Params) {
        self.send(Notification::new(N::METHOD.to_owned(), params).into());
    }

    fn request(&mut self, request: Request) {
        let id = request.id.clone();
        let response = match catch_unwind(AssertUnwindSafe(|| self.answer(request))) {
            Ok(Ok(value)) => Response::new_ok(id, value),
            Ok(Err(failure)) => Response::new_err(id, failure.code, failure.message),
            Err(_) => Response::new_err(
                id,
                ErrorCode::InternalError as i32,
                "loopc lsp: internal error (a bug in loopc; please report it)".into(),
            ),
        };
        self.send(response.into());
    }

    fn answer(&mut self, request: Request) -> Result<Value, Failure> {
        match request.method.as_str() {
            r::HoverRequest::METHOD => answer::<r::HoverRequest>(request, |p| Ok(self.hover(p))),
            r::Completion::METHOD => answer::<r::Completion>(request, |p| Ok(self.completion(p))),
            r::GotoDefinition::METHOD => answer::<r::GotoDefinition>(request, |p| Ok(self.definition(p))),
            r::References::METHOD => answer::<r::References>(request, |p| Ok(self.references(p))),
            r::PrepareRenameRequest::METHOD => answer::<r::PrepareRenameRequest>(request, |p| Ok(self.prepare_rename(p))),
            r::Rename::METHOD => answer::<r::Rename>(request, |p| self.rename(p)),
            r::CodeActionRequest::METHOD => answer::<r::CodeActionRequest>(request, |p| Ok(self.code_actions(p))),
            method => Err(Failure::new(
                ErrorCode::MethodNotFound,
                format!("loopc lsp does not handle `{method}`"),
            )),
        }
    }

    fn notification(&mut self, notification: Notification) {
        let method = notification.method.clone();
        let handled = catch_unwind(AssertUnwindSafe(|| self.on_notification(notification)));
        if handled.is_err() {
            eprintln!("loopc lsp: internal error while handling `{method}` (a bug in loopc; please report it)");
        }
    }

    fn on_notification(&mut self, notification: Notification) {
        fn params<N: n::Notification>(notification: Notification) -> Option<N::Params> {
            serde_json::from_value(notification.params).ok()
        }
        match notification.method.as_str() {
            n::DidOpenTextDocument::METHOD => {
                if let Some(p) = params::<n::DidOpenTextDocument>(notification) {
                    let doc = p.text_document;
                    self.open(doc.uri, doc.version, doc.text);
                }
            }
            n::DidChangeTextDocument::METHOD => {
                if let Some(p) = params::<n::DidChangeTextDocument>(notification) {
                    self.change(p);
                }
            }
            n::DidCloseTextDocument::METHOD => {
                if let Some(p) = params::<n::DidCloseTextDocument>(notification) {
                    self.documents.remove(&p.text_document.uri);
                    self.publish_empty(p.text_document.uri);
                }
            }
            // A saved file can be another spec's composition child, or the
            // settings may have changed: every open document is checked again.
            n::DidSaveTextDocument::METHOD => {
                let uris: Vec<lsp::Uri> = self.documents.keys().cloned().collect();
                for uri in uris {
                    self.reanalyse(&uri);
                }
            }
            _ => {}
        }
    }

    fn open(&mut self, uri: lsp::Uri, version: i32, text: String) {
        let (path, on_disk) = match convert::uri_to_path(&uri) {
            Some(path) => (path, true),
            None => (PathBuf::from(uri.path().as_str()), false),
        };
        let analysed = self.analyse(&path, &text);
        let known = analysed.symbols.clone();
        self.documents.insert(
            uri.clone(),
            Document {
                version,
                text,
                path,
                on_disk,
                analysed,
                known,
            },
        );
        self.publish(&uri);
    }

    fn change(&mut self, p: lsp::DidChangeTextDocumentParams) {
        let uri = p.text_document.uri;
        let Some(doc) = self.documents.get_mut(&uri) else { return };
        for change in p.content_changes {
            match change.range {
                // Full sync, as announced.
                None => doc.text = change.text,
                // A client that sends ranges anyway still gets them applied.
                Some(range) => {
                    let index = crate::position::LineIndex::new(&doc.text);
                    let base = doc.text.len() - index.body().len();
                    let start = (base + index.offset(range.start)).min(doc.text.len());
                    let end = (base + index.offset(range.end)).clamp(start, doc.text.len());
                    doc.text.replace_range(start..end, &change.text);
                }
            }
        }
        doc.version = p.text_document.version;
        self.reanalyse(&uri);
    }

    fn reanalyse(&mut self, uri: &lsp::Uri) {
        // Out of the map while it is checked: `analyse` may note a settings error.
        let Some(mut doc) = self.documents.remove(uri) else { return };
        doc.analysed = self.analyse(&doc.path, &doc.text);
        if doc.analysed.root.is_some() {
            doc.known = doc.analysed.symbols.clone();
        }
        self.documents.insert(uri.clone(), doc);
        self.publish(uri);
    }

    /// Check `text` with the settings of `path`; a `loopc.toml` that cannot
    /// be used is said once, and the defaults are used meanwhile.
    fn analyse(&mut self, path: &Path, text: &str) -> Analysed {
        let settings = match self.config.settings.settings_for(path) {
            Ok(settings) => settings,
            Err(e) => {
                let message = format!("loopc: {e} (checking with the default settings)");
                if self.shown_settings_error.as_deref() != Some(message.as_str()) {
                    self.notify::<n::ShowMessage>(lsp::ShowMessageParams {
                        typ: lsp::MessageType::WARNING,
                        message: message.clone(),
                    });
                    self.shown_settings_error = Some(message);
                }
                loopc_check::Settings::default()
            }
        };
        match catch_unwind(AssertUnwindSafe(|| Analysed::new(path, text, &settings))) {
            Ok(analysed) => analysed,
            Err(_) => {
                eprintln!(
                    "loopc lsp: internal error while checking {} (a bug in loopc; please report it)",
                    path.display()
                );
                Analysed::new(path, "", &settings)
            }
        }
    }

    fn publish(&self, uri: &lsp::Uri) {
        let Some(doc) = self.documents.get(uri) else { return };
        let a = &doc.analysed;
        let diagnostics = a
            .diagnostics
            .iter()
            .map(|d| convert::diagnostic(d, &a.index, uri, &self.config.rules))
            .collect();
        self.notify::<n::PublishDiagnostics>(lsp::PublishDiagnosticsParams::new(uri.clone(), diagnostics, Some(doc.version)));
    }

    fn publish_empty(&self, uri: lsp::Uri) {
        self.notify::<n::PublishDiagnostics>(lsp::PublishDiagnosticsParams::new(uri, Vec::new(), None));
    }

    /// The open document at `at` and the loopc offset of its position.
    fn at(&self, at: &lsp::TextDocumentPositionParams) -> Option<(&Document, usize)> {
        let doc = self.documents.get(&at.text_document.uri)?;
        Some((doc, doc.analysed.index.offset(at.position)))
    }

    fn hover(&self, p: lsp::HoverParams) -> Option<lsp::Hover> {
        let (doc, offset) = self.at(&p.text_document_position_params)?;
        let (markdown, span) = crate::hover::hover(&doc.analysed, offset, &self.config.rules)?;
        Some(lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value: markdown,
            }),
            range: Some(doc.analysed.index.range(span)),
        })
    }

    fn completion(&self, p: lsp::CompletionParams) -> Option<lsp::CompletionResponse> {
        let (doc, offset) = self.at(&p.text_document_position)?;
        let index = &doc.analysed.index;
        let site = completion::site(index.body(), offset)?;
        let replaced = index.range(loopc_diagnostics::Span::new(site.start, offset));
        let spec_path = doc.on_disk.then_some(doc.path.as_path());
        let items = completion::items(&site, &doc.known, spec_path)
            .into_iter()
            .map(|item| lsp::CompletionItem {
                kind: Some(match item.kind {
                    ItemKind::Id => lsp::CompletionItemKind::REFERENCE,
                    ItemKind::Value => lsp::CompletionItemKind::VALUE,
                    ItemKind::File => lsp::CompletionItemKind::FILE,
                    ItemKind::Folder => lsp::CompletionItemKind::FOLDER,
                }),
                detail: Some(item.detail),
                filter_text: Some(item.label.clone()),
                text_edit: Some(lsp::CompletionTextEdit::Edit(lsp::TextEdit::new(replaced, item.label.clone()))),
                label: item.label,
                ..lsp::CompletionItem::default()
            })
            .collect();
        Some(lsp::CompletionResponse::Array(items))
    }

    fn definition(&self, p: lsp::GotoDefinitionParams) -> Option<lsp::GotoDefinitionResponse> {
        let at = &p.text_document_position_params;
        let (doc, offset) = self.at(at)?;
        let a = &doc.analysed;
        if let Some(id) = a.symbols.at(offset) {
            let def = a.symbols.definition(id.kind, &id.name)?;
            let location = lsp::Location::new(at.text_document.uri.clone(), a.index.range(def.span));
            return Some(lsp::GotoDefinitionResponse::Scalar(location));
        }
        // A composition `ref`: the child spec it resolves to, as `loopc check` resolves it.
        let reference = a.symbols.file_ref_at(offset)?;
        let file = loopc_check::candidates(&doc.path, &reference.path)
            .into_iter()
            .find(|p| p.is_file())?;
        let file = file.canonicalize().unwrap_or(file);
        let location = lsp::Location::new(convert::path_to_uri(&file)?, lsp::Range::default());
        Some(lsp::GotoDefinitionResponse::Scalar(location))
    }

    fn references(&self, p: lsp::ReferenceParams) -> Option<Vec<lsp::Location>> {
        let at = &p.text_document_position;
        let (doc, offset) = self.at(at)?;
        let a = &doc.analysed;
        let id = a.symbols.at(offset)?;
        let locations = a
            .symbols
            .of(id.kind, &id.name)
            .filter(|o| p.context.include_declaration || o.role == Role::Reference)
            .map(|o| lsp::Location::new(at.text_document.uri.clone(), a.index.range(o.span)))
            .collect();
        Some(locations)
    }

    fn prepare_rename(&self, p: lsp::TextDocumentPositionParams) -> Option<lsp::PrepareRenameResponse> {
        let (doc, offset) = self.at(&p)?;
        let id = doc.analysed.symbols.at(offset)?;
        Some(lsp::PrepareRenameResponse::Range(doc.analysed.index.range(id.span)))
    }

    fn rename(&self, p: lsp::RenameParams) -> Result<Option<lsp::WorkspaceEdit>, Failure> {
        let at = &p.text_document_position;
        let Some((doc, offset)) = self.at(at) else { return Ok(None) };
        let index = &doc.analysed.index;
        let replacements = doc
            .analysed
            .symbols
            .rename(offset, &p.new_name)
            .map_err(|e| Failure::new(ErrorCode::RequestFailed, e.to_string()))?;
        let edits = replacements
            .into_iter()
            .map(|r| lsp::TextEdit::new(index.range(r.span), r.text))
            .collect();
        Ok(Some(lsp::WorkspaceEdit::new(HashMap::from([(
            at.text_document.uri.clone(),
            edits,
        )]))))
    }

    fn code_actions(&self, p: lsp::CodeActionParams) -> Option<lsp::CodeActionResponse> {
        let wants_quickfix = p
            .context
            .only
            .as_ref()
            .is_none_or(|kinds| kinds.iter().any(|k| lsp::CodeActionKind::QUICKFIX.as_str().starts_with(k.as_str())));
        let doc = self.documents.get(&p.text_document.uri).filter(|_| wants_quickfix)?;
        let a = &doc.analysed;
        Some(convert::quick_fixes(
            &a.diagnostics,
            &a.index,
            &p.text_document.uri,
            &self.config.rules,
            p.range,
        ))
    }
}
