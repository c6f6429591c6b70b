"""`loopc lsp` driven end to end by pytest-lsp, a real LSP client (pygls)
speaking JSON-RPC to the server over stdio, as an editor does.

tests/lsp.rs runs this with the binary under test in LOOPC_BIN. The client
announces Visual Studio Code's capabilities, and pytest-lsp checks what the
server sends against them.
"""

import os
import pathlib

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

LOOPC = os.environ.get("LOOPC_BIN", "loopc")

# A clean spec (no findings); see its header for why the reviewer is on one line.
SPEC = (pathlib.Path(__file__).parent / "loop.lss.yaml").read_text(encoding="utf-8")


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def position(text: str, needle: str, nth: int = 0, delta: int = 0) -> types.Position:
    """The position of the `nth` occurrence of `needle`, `delta` characters on."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    index += delta
    line_start = text.rfind("\n", 0, index) + 1
    return types.Position(line=text.count("\n", 0, index), character=utf16(text[line_start:index]))


def span(text: str, needle: str, word: str | None = None) -> types.Range:
    """The range of `word` (default: all) inside the first `needle`."""
    word = word or needle
    start = position(text, needle, delta=needle.index(word))
    return types.Range(start=start, end=types.Position(line=start.line, character=start.character + utf16(word)))


def offset(text: str, at: types.Position) -> int:
    index = sum(len(line) + 1 for line in text.split("\n")[: at.line])
    units = 0
    while units < at.character:
        units += 2 if ord(text[index]) > 0xFFFF else 1
        index += 1
    return index


def apply(text: str, edits) -> str:
    for edit in sorted(edits, key=lambda e: offset(text, e.range.start), reverse=True):
        text = text[: offset(text, edit.range.start)] + edit.new_text + text[offset(text, edit.range.end) :]
    return text


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[LOOPC, "lsp", "--stdio"]))
async def client(lsp_client: LanguageClient):
    capabilities = client_capabilities("visual-studio-code")
    result = await lsp_client.initialize_session(types.InitializeParams(capabilities=capabilities))
    assert result.server_info.name == "loopc"
    yield
    await lsp_client.shutdown_session()
    # shutdown, then exit: the protocol's clean end, exit status 0.
    assert lsp_client._server.returncode == 0


class Document:
    """One open document and the diagnostics the server last published for it."""

    def __init__(self, client: LanguageClient, path: pathlib.Path):
        self.client = client
        self.uri = path.as_uri()
        self.version = 0
        self.text = ""

    async def open(self, text: str):
        self.text = text
        self.version = 1
        item = types.TextDocumentItem(uri=self.uri, language_id="yaml", version=1, text=text)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
        return await self.published()

    async def change(self, text: str):
        self.text = text
        self.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        return await self.published()

    async def published(self):
        params = await self.client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        assert params.uri == self.uri
        return list(params.diagnostics)

    def at(self, needle: str, nth: int = 0, delta: int = 0):
        return types.TextDocumentIdentifier(uri=self.uri), position(self.text, needle, nth, delta)


@pytest.fixture
def spec_path(tmp_path: pathlib.Path) -> pathlib.Path:
    # A loopc.toml above the spec: the server finds it upward from the file.
    (tmp_path / "loopc.toml").write_text("")
    (tmp_path / "specs").mkdir()
    path = tmp_path / "specs" / "loop.lss.yaml"
    path.write_text(SPEC)
    return path


async def test_diagnostics_follow_edits(client: LanguageClient, spec_path):
    doc = Document(client, spec_path)
    assert await doc.open(SPEC) == []

    broken = SPEC.replace("depends_on: [fixer]", "depends_on: [fixr]")
    diagnostics = await doc.change(broken)
    [d] = diagnostics
    assert d.range == span(broken, "fixr"), "UTF-16 columns, after the 🔧 on the same line"
    assert d.code == "L201"
    assert d.severity == types.DiagnosticSeverity.Error
    assert d.source == "loopc"
    assert d.code_description.href.endswith("rules.md#l201")
    assert "did you mean `fixer`?" in d.message

    assert await doc.change(SPEC) == []

    # Malformed YAML: a syntax finding, and the server goes on answering.
    unclosed = SPEC.replace("runs_after: [fixer, reviewer]", "runs_after: [fixer, reviewer")
    diagnostics = await doc.change(unclosed)
    assert diagnostics and all(d.code.startswith("L0") for d in diagnostics), diagnostics
    uri, at = doc.at("runs_after")
    hover = await client.text_document_hover_async(types.HoverParams(text_document=uri, position=at))
    assert hover is None or "L0" in hover.contents.value
    assert await doc.change(SPEC) == []


async def test_settings_come_from_the_nearest_loopc_toml(client: LanguageClient, spec_path):
    (spec_path.parent.parent / "loopc.toml").write_text('[rules]\nunknown-reference = "warn"\n')
    doc = Document(client, spec_path)
    [d] = await doc.open(SPEC.replace("depends_on: [fixer]", "depends_on: [fixr]"))
    assert d.code == "L201" and d.severity == types.DiagnosticSeverity.Warning


async def test_other_yaml_gets_no_diagnostics(client: LanguageClient, tmp_path):
    doc = Document(client, tmp_path / "ci.yaml")
    assert await doc.open("on: push\njobs:\n  test: {runs-on: ubuntu-latest, steps: [{run: make]}\n") == []


async def test_hover_explains_keys_and_findings(client: LanguageClient, spec_path):
    doc = Document(client, spec_path)
    await doc.open(SPEC)
    uri, at = doc.at("source: evaluators.tests", delta=2)
    hover = await client.text_document_hover_async(types.HoverParams(text_document=uri, position=at))
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert "`feedback_channels[].source`" in hover.contents.value
    # The editor schema's own words (schemas/descriptions/lss.yaml).
    assert "Whose result the channel carries" in hover.contents.value, hover.contents.value
    assert hover.range == span(SPEC, "source: evaluators.tests", "source")

    broken = SPEC.replace("depends_on: [fixer]", "depends_on: [fixr]")
    await doc.change(broken)
    uri, at = doc.at("fixr", delta=1)
    hover = await client.text_document_hover_async(types.HoverParams(text_document=uri, position=at))
    text = hover.contents.value
    assert "L201" in text and "unknown-reference" in text and "What it does" in text, text


async def test_completion_offers_ids_where_ids_go(client: LanguageClient, spec_path):
    doc = Document(client, spec_path)
    await doc.open(SPEC.replace("depends_on: [fixer]", "depends_on: []"))
    uri, at = doc.at("depends_on: [", delta=len("depends_on: ["))
    result = await client.text_document_completion_async(types.CompletionParams(text_document=uri, position=at))
    labels = [item.label for item in result]
    assert labels == ["fixer", "reviewer"], labels

    typed = SPEC.replace("source: evaluators.tests\n    destination", "source: ev\n    destination")
    await doc.change(typed)
    uri, at = doc.at("source: ev", delta=len("source: ev"))
    result = await client.text_document_completion_async(types.CompletionParams(text_document=uri, position=at))
    by_label = {item.label: item for item in result}
    assert set(by_label) == {"evaluators.tests", "workers.fixer", "workers.reviewer"}
    edit = by_label["evaluators.tests"].text_edit
    assert edit.range == types.Range(start=position(typed, "ev\n"), end=at), "the typed word is replaced"


async def test_definition_and_references(client: LanguageClient, spec_path):
    doc = Document(client, spec_path)
    await doc.open(SPEC)
    definition = span(SPEC, "id: fixer", "fixer")

    uri, at = doc.at("runs_after: [fixer", delta=len("runs_after: [f"))
    result = await client.text_document_definition_async(types.DefinitionParams(text_document=uri, position=at))
    assert result.uri == doc.uri and result.range == definition

    uri, at = doc.at("fixer")
    params = types.ReferenceParams(
        text_document=uri, position=at, context=types.ReferenceContext(include_declaration=True)
    )
    found = sorted((loc.range.start.line, loc.range.start.character) for loc in await client.text_document_references_async(params))
    expected = sorted(
        (r.start.line, r.start.character)
        for r in [
            definition,
            span(SPEC, "[fixer]", "fixer"),  # the reviewer's depends_on, after the 🔧
            span(SPEC, "workers.fixer}", "fixer"),  # the reviewer's inputs
            span(SPEC, "[fixer, reviewer]", "fixer"),  # runs_after
            span(SPEC, "destination: workers.fixer", "fixer"),
        ]
    )
    assert found == expected


async def test_rename_edits_every_occurrence(client: LanguageClient, spec_path):
    doc = Document(client, spec_path)
    await doc.open(SPEC)
    uri, at = doc.at("workers.fixer", delta=len("workers.f"))
    prepared = await client.text_document_prepare_rename_async(types.PrepareRenameParams(text_document=uri, position=at))
    assert prepared == span(SPEC, "workers.fixer}", "fixer")

    edit = await client.text_document_rename_async(types.RenameParams(text_document=uri, position=at, new_name="repairer"))
    edits = edit.changes[doc.uri]
    assert len(edits) == 5
    renamed = apply(SPEC, edits)
    assert "workers.repairer" in renamed and "[repairer, reviewer]" in renamed and "depends_on: [repairer]" in renamed
    assert "scripted-fixer" in renamed, "text that is not the id stays"
    assert await doc.change(renamed) == [], "the renamed spec is still clean"

    uri, at = doc.at("workers.repairer", delta=len("workers.r"))
    with pytest.raises(Exception, match="not a valid worker"):
        await client.text_document_rename_async(types.RenameParams(text_document=uri, position=at, new_name="Not An Id"))


async def test_quick_fix_repairs_a_finding(client: LanguageClient, spec_path):
    doc = Document(client, spec_path)
    broken = SPEC.replace("depends_on: [fixer]", "depends_on: [fixr]")
    [d] = await doc.open(broken)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=doc.uri),
            range=d.range,
            context=types.CodeActionContext(diagnostics=[d]),
        )
    )
    [action] = actions
    assert action.kind == types.CodeActionKind.QuickFix
    assert "replace `fixr` with `fixer`" in action.title
    assert action.diagnostics[0].code == "L201"
    fixed = apply(broken, action.edit.changes[doc.uri])
    assert fixed == SPEC
    assert await doc.change(fixed) == []
