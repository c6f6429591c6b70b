// Write an offline HTML page that renders one Mermaid file with the pinned
// mermaid bundle (file://, no network). Used by render.sh.
//   node page.mjs DIAGRAM.mmd PAGE.html MERMAID.min.js
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [mmd, page, bundle] = process.argv.slice(2);
if (!bundle) {
  console.error('usage: node page.mjs DIAGRAM.mmd PAGE.html MERMAID.min.js');
  process.exit(2);
}
// JSON inside <script>: keep `</script>` and `<!--` in spec text inert.
const text = JSON.stringify(readFileSync(mmd, 'utf8')).replace(/</g, '\\u003c');
writeFileSync(
  page,
  `<!doctype html>
<html><head><meta charset="utf-8"><title>rendering</title>
<style>body { margin: 0; padding: 20px; background: #fff; } #out { display: inline-block; }</style>
</head><body><div id="out"></div>
<script src="${pathToFileURL(bundle).href}"></script>
<script>
const text = ${text};
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', flowchart: { useMaxWidth: false } });
mermaid.render('diagram', text).then(({ svg }) => {
  const out = document.getElementById('out');
  out.innerHTML = svg;
  const box = out.getBoundingClientRect();
  document.title = 'rendered ' + Math.ceil(box.width) + 'x' + Math.ceil(box.height);
}).catch((e) => {
  document.getElementById('out').textContent = 'MERMAID ERROR: ' + (e && e.message || e);
  document.title = 'error';
});
</script></body></html>
`,
);
