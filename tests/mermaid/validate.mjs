// Parse Mermaid files with the real `mermaid` package, as a renderer would.
//
//   node validate.mjs FILE.mmd...
//
// Prints `ok FILE` or `FAIL FILE: error` per file, then exactly
// `mermaid-parse: N passed, M failed`, and exits 1 when M > 0 (2 on usage
// errors). Used by tests/diagram_mermaid.rs on every `loopc diagram` output.
import { readFile } from 'node:fs/promises';
import { JSDOM } from 'jsdom';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate.mjs FILE.mmd...');
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
    // Rejects on a syntax error; resolves to { diagramType } otherwise.
    const result = await mermaid.parse(text);
    if (!result || !result.diagramType) throw new Error(`parse returned ${JSON.stringify(result)}`);
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
