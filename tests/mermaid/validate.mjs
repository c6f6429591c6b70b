// Parse Mermaid files with the real `mermaid` package, as a renderer would.
//
//   node validate.mjs [--forbid-config] [--dump] FILE.mmd...
//
// Prints `ok FILE` or `FAIL FILE: error` per file, then exactly
// `mermaid-parse: N passed, M failed`, and exits 1 when M > 0 (2 on usage
// errors). Used by tests/diagram_mermaid.rs on every `loopc diagram` output.
//
// --forbid-config  fail a diagram that sets Mermaid configuration (front
//                  matter or a `%%{init: …}%%` directive): loopc never emits
//                  one, so one in its output came from spec text.
// --dump           write FILE.parsed.json beside each file that parses: the
//                  flowchart's vertices, edges and subgraphs as Mermaid read
//                  them, labels decoded to the text a reader sees, the
//                  styles of each class, and `layout`: where dagre, Mermaid's layout engine, places
//                  each vertex (`x`, `y` of its centre), laid out from the
//                  nodes and edges Mermaid hands it, in Mermaid's order.
import { readFile, writeFile } from 'node:fs/promises';
import { JSDOM } from 'jsdom';
// The layout engine and graph library the pinned mermaid imports.
import { layout as dagreLayout } from 'dagre-d3-es/src/dagre/index.js';
import * as graphlib from 'dagre-d3-es/src/graphlib/index.js';

const args = process.argv.slice(2);
const forbidConfig = args.includes('--forbid-config');
const dump = args.includes('--dump');
const files = args.filter((a) => !a.startsWith('--'));
const unknown = args.filter((a) => a.startsWith('--') && a !== '--forbid-config' && a !== '--dump');
if (files.length === 0 || unknown.length > 0) {
  console.error('usage: node validate.mjs [--forbid-config] [--dump] FILE.mmd...');
  process.exit(2);
}

// mermaid (and DOMPurify, which binds to `window` when first imported) expect
// a browser: give them a jsdom one before importing mermaid.
const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
for (const name of ['window', 'document', 'navigator', 'Element', 'HTMLElement', 'SVGElement', 'Node', 'DOMParser', 'MutationObserver']) {
  if (dom.window[name] === undefined) continue;
  Object.defineProperty(globalThis, name, { value: name === 'window' ? dom.window : dom.window[name], configurable: true, writable: true });
}
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });

// Mermaid keeps `#name;` / `#123;` entity codes as placeholders until it
// renders; turn them into the characters the browser would show.
const textarea = dom.window.document.createElement('textarea');
function shown(text) {
  const html = String(text ?? '').replaceAll('ﬂ°°', '&#').replaceAll('ﬂ°', '&').replaceAll('¶ß', ';');
  textarea.innerHTML = html;
  return textarea.value;
}

async function structure(text) {
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  const db = diagram.db;
  if (typeof db.getVertices !== 'function') return null;
  return {
    vertices: [...db.getVertices().values()].map((v) => ({ id: v.id, text: shown(v.text), classes: v.classes ?? [] })),
    edges: db.getEdges().map((e) => ({ start: e.start, end: e.end, text: shown(e.text), stroke: e.stroke })),
    subgraphs: db.getSubGraphs().map((s) => ({ id: s.id, title: shown(s.title), nodes: s.nodes })),
    classes: Object.fromEntries([...db.getClasses()].map(([name, c]) => [name, c.styles ?? []])),
    layout: layout(db),
  };
}

// Lay the flowchart out as Mermaid's dagre renderer does: the nodes and
// edges of `db.getData()` in their order (subgraphs as compound parents),
// each edge's `minlen`, the diagram's direction and Mermaid's default
// spacing. Node and label sizes are estimated from their text: they move
// nodes within a rank, never from one rank to another, which is what this
// is for (dagre breaks cycles and ranks before it sizes anything).
function layout(db) {
  const data = db.getData();
  const direction = { TD: 'TB' }[db.getDirection()] ?? db.getDirection();
  const g = new graphlib.Graph({ multigraph: true, compound: true })
    .setGraph({ rankdir: direction, nodesep: 50, ranksep: 50, marginx: 8, marginy: 8 })
    .setDefaultEdgeLabel(() => ({}));
  const size = (label) => {
    const lines = shown(label).split(/<br\s*\/?>/);
    return { width: 30 + 8 * Math.max(...lines.map((l) => l.length)), height: 30 + 24 * lines.length };
  };
  for (const node of data.nodes) {
    g.setNode(node.id, node.isGroup ? {} : size(node.label));
    if (node.parentId) g.setParent(node.id, node.parentId);
  }
  for (const edge of data.edges) {
    if (edge.start === edge.end) continue;
    const label = edge.label ? size(edge.label) : { width: 0, height: 0 };
    g.setEdge(edge.start, edge.end, { minlen: edge.minlen ?? 1, labelpos: 'c', ...label }, edge.id);
  }
  dagreLayout(g);
  const placed = {};
  for (const node of data.nodes.filter((n) => !n.isGroup)) {
    const { x, y } = g.node(node.id);
    placed[node.id] = { x: Math.round(x), y: Math.round(y) };
  }
  return placed;
}

let passed = 0;
let failed = 0;
for (const file of files) {
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    failed++;
    console.log(`FAIL ${file}: cannot read: ${e.message}`);
    continue;
  }
  try {
    // Rejects on a syntax error; resolves to { diagramType, config } otherwise.
    const result = await mermaid.parse(text);
    if (!result || !result.diagramType) throw new Error(`parse returned ${JSON.stringify(result)}`);
    if (forbidConfig && result.config && Object.keys(result.config).length > 0) {
      throw new Error(`diagram sets Mermaid configuration ${JSON.stringify(result.config)}`);
    }
    if (dump) {
      const parsed = { diagramType: result.diagramType, config: result.config ?? {}, ...(await structure(text)) };
      await writeFile(`${file}.parsed.json`, JSON.stringify(parsed, null, 1) + '\n');
    }
    passed++;
    console.log(`ok ${file}`);
  } catch (e) {
    failed++;
    const message = String(e?.message ?? e).replace(/\s*\n\s*/g, ' | ').trim();
    console.log(`FAIL ${file}: ${message}`);
  }
}
console.log(`mermaid-parse: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
