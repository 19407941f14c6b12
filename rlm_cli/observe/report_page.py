"""The page of `rlm-sub report`: HTML, CSS and script, all inline (report.py fills the slots).

The script only reads the JSON data block and builds nodes with textContent, never HTML
strings, so nothing from a trace can become markup. The Content-Security-Policy forbids
every fetch: the page works from a file, offline, and cannot call anything.
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
  :root { --ok: #2f9e44; --failed: #e03131; --fatal: #862e9c; --cancelled: #f08c00;
          --open: #868e96; --retry: #f59f00; --ink: #212529; --muted: #6c757d; }
  body { font: 14px/1.45 system-ui, sans-serif; color: var(--ink); margin: 0 auto;
         max-width: 1200px; padding: 1rem 1.5rem 3rem; }
  h1 { font-size: 1.35rem; margin-bottom: .2rem; }
  h2 { font-size: 1.1rem; margin: 1.8rem 0 .5rem; border-bottom: 1px solid #dee2e6; }
  .meta { color: var(--muted); }
  .totals b { font-variant-numeric: tabular-nums; }
  table { border-collapse: collapse; margin: .3rem 1.5rem .8rem 0; display: inline-table;
          vertical-align: top; }
  th, td { padding: .15rem .6rem; border-bottom: 1px solid #e9ecef; text-align: right; }
  th:first-child, td:first-child, td.text { text-align: left; }
  tr.sum td { font-weight: 600; border-top: 2px solid #adb5bd; }
  td.error { color: var(--failed); text-align: left; max-width: 42rem; overflow-wrap: anywhere; }
  .st { font-weight: 600; }
  .st-ok { color: var(--ok); } .st-failed { color: var(--failed); }
  .st-fatal { color: var(--fatal); } .st-cancelled { color: var(--cancelled); }
  .st-open { color: var(--open); }
  #timeline { width: 100%; height: auto; border: 1px solid #e9ecef; background: #fcfcfd; }
  #timeline .bar { stroke: none; cursor: pointer; }
  #timeline .bar.s-ok { fill: var(--ok); } #timeline .bar.s-failed { fill: var(--failed); }
  #timeline .bar.s-fatal { fill: var(--fatal); }
  #timeline .bar.s-cancelled { fill: var(--cancelled); }
  #timeline .bar.s-open { fill: var(--open); opacity: .6; }
  #timeline .bar.retry { stroke: var(--retry); stroke-width: 2px; }
  #timeline .grid { stroke: #dee2e6; } #timeline .sep { stroke: #adb5bd; }
  #timeline text { font-size: 11px; fill: var(--muted); }
  .legend span { margin-right: 1rem; white-space: nowrap; }
  .legend i { display: inline-block; width: .9rem; height: .6rem; margin-right: .3rem; }
  ul.tree, ul.tree ul { list-style: none; padding-left: 1.2rem; margin: 0; }
  ul.tree { padding-left: 0; overflow-wrap: anywhere; }
  li.node > details > summary, li.node > .leaf { cursor: default; padding: 1px 0; }
  li.node > details > summary { cursor: pointer; }
  li.node > .leaf { padding-left: 1rem; }
  li.node.hit > details > summary, li.node.hit > .leaf { background: #fff3bf; }
  .kind { font-weight: 600; } .cid { font-family: ui-monospace, monospace; }
  .num { color: var(--muted); font-variant-numeric: tabular-nums; }
  .retries { color: var(--retry); font-weight: 600; }
  .err { color: var(--failed); }
  li.note { color: var(--muted); font-family: ui-monospace, monospace; font-size: 12px;
            padding-left: 1rem; overflow-wrap: anywhere; }
  li.note.bad { color: var(--failed); }
  button.more { margin: 2px 0 2px 1rem; font-size: 12px; }
  pre.answer { background: #f8f9fa; border: 1px solid #e9ecef; padding: .8rem;
               white-space: pre-wrap; overflow-wrap: anywhere; max-height: 40rem; overflow: auto; }
  noscript { color: var(--failed); }
</style>
</head>
<body>
<h1>rlm-sub report</h1>
<div class="meta">{{meta}}</div>
<p class="totals">{{totals}}</p>

<h2>Cost and tokens</h2>
{{tables}}

<h2>Timeline</h2>
<p class="legend">One bar per call, from its start to its end, one row per call in flight
at once, grouped by depth.
<span><i style="background:var(--ok)"></i>ok</span>
<span><i style="background:var(--failed)"></i>failed</span>
<span><i style="background:var(--fatal)"></i>fatal</span>
<span><i style="background:var(--cancelled)"></i>cancelled</span>
<span><i style="background:var(--open)"></i>no end (in flight or killed)</span>
<span><i style="border:2px solid var(--retry)"></i>retried (attempts &gt; 1)</span></p>
<svg id="timeline" viewBox="0 0 1000 40" role="img" aria-label="timeline of the calls"></svg>
<noscript>The timeline and the call tree need JavaScript; the tables work without.</noscript>

<h2>Failed calls</h2>
{{failures}}

<h2>Slowest calls</h2>
{{slowest}}

<h2>Call tree</h2>
<ul class="tree" id="tree"></ul>

<h2>Final answer</h2>
{{final}}

<script type="application/json" id="data">{{data}}</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const F = Object.fromEntries(D.fields.map((name, i) => [name, i]));
const calls = D.calls.map((row, i) => {
  const c = Object.fromEntries(D.fields.map(name => [name, row[F[name]]]));
  c.index = i; c.children = []; return c;
});
const roots = new Map(D.runs.map(r => [r.run, []]));
for (const c of calls) {
  (c.parent >= 0 ? calls[c.parent].children : roots.get(D.runs[c.run].run)).push(c);
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}
function secs(s) { return s === null ? "-" : (s < 10 ? s.toFixed(2) : s.toFixed(1)) + "s"; }

function label(c) {
  const line = el("span", "line");
  line.append(el("span", "st st-" + c.status, c.status === "open" ? "no end" : c.status), " ",
              el("span", "kind", c.kind), " ", el("span", "cid", c.id), " ");
  const tokens = c.tokens.toLocaleString("en-US");
  line.append(el("span", "num", secs(c.dur) + " \\u00b7 " + tokens + " tok \\u00b7 $" +
                 (c.cost == null ? "unknown" : "$" + c.cost.toFixed(4)) + " \\u00b7 d" + c.depth + " \\u00b7 " + D.models[c.model]));
  if (c.attempts > 1) line.append(" ", el("span", "retries", c.attempts + " attempts"));
  if (c.link) {
    const a = el("a", "res", "result");
    a.setAttribute("href", c.link);
    line.append(" ", a);
  }
  if (c.error) line.append(" ", el("span", "err", c.error));
  return line;
}

const LIMIT = 100;      // siblings rendered at once; a button renders the next ones
let budget = 3000;      // nodes rendered before anything is clicked
function fill(list, items) {
  const batch = items.slice(0, Math.min(LIMIT, Math.max(budget, 0)));
  budget -= batch.length;
  for (const item of batch) list.append(item.tool !== undefined ? noteNode(item) : node(item));
  const rest = items.slice(batch.length);
  if (rest.length) {
    const counts = {};
    for (const c of rest) { const k = c.status || "tool"; counts[k] = (counts[k] || 0) + 1; }
    const what = Object.entries(counts).map(([k, n]) => n + " " + k).join(", ");
    const more = el("button", "more", "show " + rest.length + " more (" + what + ")");
    more.addEventListener("click", () => { budget = LIMIT; more.remove(); fill(list, rest); });
    list.append(more);
  }
}
function noteNode(n) {
  const li = el("li", "note" + (n.is_error ? " bad" : ""),
                "tool " + n.tool + " " + n.input + " \\u2192 " + n.chars.toLocaleString("en-US") +
                " chars" + (n.is_error ? " (error)" : ""));
  return li;
}
function node(c) {
  const li = el("li", "node st-" + c.status);
  li.dataset.call = c.call;
  const notes = (c.notes || []).map(([tool, input, chars, bad]) =>
    ({tool, input, chars, is_error: bad}));
  if (!c.children.length && !notes.length) {
    const leaf = el("div", "leaf"); leaf.append(label(c)); li.append(leaf); return li;
  }
  const details = el("details");
  details.open = c.depth < 1 || c.children.length + notes.length <= 12;
  const summary = el("summary"); summary.append(label(c));
  const list = el("ul");
  details.append(summary, list); li.append(details);
  fill(list, [...notes, ...c.children]);
  return li;
}

const tree = document.getElementById("tree");
for (const r of D.runs) {
  const li = el("li", "node run");
  const details = el("details"); details.open = true;
  const summary = el("summary");
  summary.append(el("span", "kind", "run "), el("span", "cid", r.run),
                 el("span", "num", " \\u00b7 " + r.calls + " calls"));
  const list = el("ul");
  details.append(summary, list); li.append(details); tree.append(li);
  fill(list, roots.get(r.run));
}

const svg = document.getElementById("timeline");
const NS = svg.namespaceURI;
function shape(tag, attrs, parent) {
  const s = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) s.setAttribute(k, v);
  (parent || svg).append(s);
  return s;
}
function drawTimeline() {
  const W = 1000, L = 70, top = 18, span = Math.max(D.span, 0.001);
  const x = t => L + (t / span) * (W - L - 10);
  const depths = [...new Set(calls.map(c => c.depth))].sort((a, b) => a - b);
  const lanesOf = new Map();
  for (const d of depths) {          // pack each depth's calls into the fewest rows
    const ends = [];
    for (const c of calls.filter(c => c.depth === d)) {
      const end = c.start + (c.dur === null ? span - c.start : c.dur);
      let lane = ends.findIndex(e => e <= c.start);
      if (lane < 0) { lane = ends.length; ends.push(0); }
      ends[lane] = end; c.lane = lane;
    }
    lanesOf.set(d, ends.length);
  }
  const rows = [...lanesOf.values()].reduce((a, b) => a + b, 0);
  const h = Math.max(2, Math.min(12, Math.floor(1600 / Math.max(rows, 1))));
  let y = top;
  const offset = new Map();
  for (const d of depths) { offset.set(d, y); y += lanesOf.get(d) * (h + 1) + 8; }
  svg.setAttribute("viewBox", "0 0 " + W + " " + (y + 4));
  const step = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600]
    .find(s => span / s <= 10) || 7200;
  for (let t = 0; t <= span + 1e-9; t += step) {
    shape("line", {class: "grid", x1: x(t), x2: x(t), y1: top - 4, y2: y});
    if (x(t) < W - 40) shape("text", {x: x(t) + 2, y: 11}).textContent = secs(t);
  }
  for (const d of depths) {
    shape("line", {class: "sep", x1: 0, x2: W, y1: offset.get(d) - 4, y2: offset.get(d) - 4});
    shape("text", {x: 4, y: offset.get(d) + 9}).textContent = "depth " + d;
  }
  for (const c of calls) {
    const dur = c.dur === null ? span - c.start : c.dur;
    const bar = shape("rect", {
      class: "bar s-" + c.status + (c.attempts > 1 ? " retry" : ""),
      x: x(c.start).toFixed(2), y: offset.get(c.depth) + c.lane * (h + 1),
      width: Math.max(1, x(c.start + dur) - x(c.start)).toFixed(2), height: h,
    });
    bar.dataset.call = c.call;
    shape("title", {}, bar).textContent = c.kind + " " + c.id + " \\u00b7 " + c.status +
      " \\u00b7 " + secs(c.dur) + " \\u00b7 " + c.attempts + " attempt(s)" +
      (c.error ? " \\u00b7 " + c.error : "");
  }
}
drawTimeline();

svg.addEventListener("click", event => {   // a bar leads to its node in the tree
  const id = event.target.dataset && event.target.dataset.call;
  const li = id && tree.querySelector('li[data-call="' + CSS.escape(id) + '"]');
  if (!li) return;
  for (let p = li; p; p = p.parentElement) if (p.tagName === "DETAILS") p.open = true;
  for (const old of tree.querySelectorAll(".hit")) old.classList.remove("hit");
  li.classList.add("hit");
  li.scrollIntoView({block: "center"});
});
</script>
</body>
</html>
"""
