// Write an offline HTML page that renders Mermaid files with the pinned
// mermaid bundle (file://, no network), as GitHub shows them in light or dark
// mode. Used by render.sh and measure.sh.
//
//   node page.mjs [--theme light|dark] PAGE.html MERMAID.min.js DIAGRAM.mmd...
//
// light: Mermaid theme `default` on white; dark: theme `dark` on #0d1117
// (GitHub's dark page). Diagrams are drawn at their natural size
// (useMaxWidth off). When rendering ends the page title is
// `rendered W1xH1 W2xH2 …` (one size per diagram, CSS px) or `error`.
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
let theme = 'light';
if (args[0] === '--theme') {
  theme = args[1];
  args.splice(0, 2);
}
const [page, bundle, ...diagrams] = args;
if (!['light', 'dark'].includes(theme) || diagrams.length === 0) {
  console.error('usage: node page.mjs [--theme light|dark] PAGE.html MERMAID.min.js DIAGRAM.mmd...');
  process.exit(2);
}
const [mermaidTheme, background] = theme === 'dark' ? ['dark', '#0d1117'] : ['default', '#ffffff'];
// JSON inside <script>: keep `</script>` and `<!--` in spec text inert.
const texts = JSON.stringify(diagrams.map((d) => readFileSync(d, 'utf8'))).replace(/</g, '\\u003c');
writeFileSync(
  page,
  `<!doctype html>
<html><head><meta charset="utf-8"><title>rendering</title>
<style>
body { margin: 0; padding: 20px; background: ${background}; }
.out { display: block; width: max-content; margin-bottom: 20px; }
</style>
</head><body><div id="all"></div>
<script src="${pathToFileURL(bundle).href}"></script>
<script>
const texts = ${texts};
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: '${mermaidTheme}', flowchart: { useMaxWidth: false } });
(async () => {
  const sizes = [];
  for (const [i, text] of texts.entries()) {
    const out = document.createElement('div');
    out.className = 'out';
    document.getElementById('all').appendChild(out);
    const { svg } = await mermaid.render('diagram' + i, text);
    out.innerHTML = svg;
    const box = out.querySelector('svg').getBoundingClientRect();
    sizes.push(Math.ceil(box.width) + 'x' + Math.ceil(box.height));
  }
  document.title = 'rendered ' + sizes.join(' ');
})().catch((e) => {
  document.getElementById('all').textContent = 'MERMAID ERROR: ' + (e && e.message || e);
  document.title = 'error';
});
</script></body></html>
`,
);
