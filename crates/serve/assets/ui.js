// loopc serve --ui: the live parts. Everything else works without JavaScript.
(function () {
  "use strict";
  // Diagrams: Mermaid renders every <pre class="mermaid"> in the page's scheme.
  if (window.mermaid) {
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    window.mermaid.initialize({ startOnLoad: false, theme: dark ? "dark" : "default", securityLevel: "strict" });
    window.mermaid.run({ querySelector: "pre.mermaid" }).then(function () {
      document.querySelectorAll(".diagram").forEach(function (d) { d.setAttribute("data-rendered", "true"); });
    });
  }
  // Live progress of a run: steps started and finished, scores, spend, status.
  var live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  var src = live.getAttribute("data-events");
  var stream = new EventSource(src);
  function line(text) {
    var li = document.createElement("li");
    li.textContent = text;
    live.appendChild(li);
    live.scrollTop = live.scrollHeight;
  }
  function on(kind, f) { stream.addEventListener(kind, function (e) { f(JSON.parse(e.data)); }); }
  on("step_started", function (d) { line("iteration " + d.iteration + ": started " + d.steps.join(", ")); });
  on("step_finished", function (d) {
    var verdict = d.passed === true ? " passed" : d.passed === false ? " failed" : "";
    var score = typeof d.score === "number" ? " (score " + d.score + ")" : "";
    line("iteration " + d.iteration + ": " + d.step + " " + d.status + verdict + score + " · $" + d.cost_usd.toFixed(4));
  });
  on("event", function (d) { line("iteration " + d.iteration + ": " + d.kind + ": " + d.message); });
  on("spend", function (d) {
    var el = document.getElementById("spend");
    if (el) el.textContent = "$" + d.cost_usd.toFixed(4) + ", " + d.tokens + " tokens";
  });
  on("status", function (d) {
    var el = document.getElementById("status");
    if (el) { el.textContent = d.status; el.className = "status status-" + d.status; }
    line("status: " + d.status + (d.reason ? " — " + d.reason : ""));
  });
  on("end", function () { stream.close(); line("the run stopped executing; reload for the full record"); });
})();
