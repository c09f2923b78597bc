// The service map: services and their calls over a chosen range, from /api/dependencies, drawn as an SVG graph
// (callers left of the services they call) with each edge's call count and error rate, and the same as a table.
import { getJSON, h, notice, replace, serviceColour } from "./dom.js";
import { navigate } from "./nav.js";

const RANGES = [
  ["1h", "Last hour", 3600],
  ["6h", "Last 6 hours", 6 * 3600],
  ["24h", "Last 24 hours", 86400],
  ["2d", "Last 2 days", 2 * 86400],
  ["7d", "Last 7 days", 7 * 86400],
];

/** Draws the map for `params.lookback` (default 24h). */
export function mapPage(app, params) {
  document.title = "Service map · otelsink";
  const aborter = new AbortController();
  const chosen = RANGES.find(([v]) => v === params.get("lookback")) || RANGES[2];
  const select = h("select", { name: "lookback", "aria-label": "Time range" }, RANGES.map(([v, label]) => h("option", { value: v, selected: v === chosen[0] }, label)));
  select.addEventListener("change", () => navigate(`/map?lookback=${select.value}`));
  const out = h("section", { class: "map-result", "aria-label": "Service map" }, h("p", { class: "muted loading" }, "Loading…"));
  replace(app, h("div", { class: "map-page" }, h("div", { class: "map-head" }, h("h1", null, "Service map"), select), out));
  (async () => {
    try {
      const q = new URLSearchParams({ endTs: String(Date.now()), lookback: String(chosen[2] * 1000) });
      const { body } = await getJSON(`/api/dependencies?${q}`, { signal: aborter.signal });
      const links = body.data || [];
      replace(out, (body.errors || []).map((e) => notice("warning", e.msg)), links.length ? [graph(links), table(links)] : notice("info", "No calls between services in this range."));
    } catch (e) {
      if (e.name !== "AbortError") replace(out, notice("error", e.message));
    }
  })();
  return { leave: () => aborter.abort() };
}

/** Columns by longest call chain from a service nobody calls (a cycle is cut where it closes). */
export function layers(links) {
  const names = [...new Set(links.flatMap((l) => [l.parent, l.child]))].sort();
  const out = new Map(names.map((n) => [n, []]));
  const incoming = new Map(names.map((n) => [n, 0]));
  for (const l of links) {
    if (l.parent === l.child) continue;
    out.get(l.parent).push(l.child);
    incoming.set(l.child, incoming.get(l.child) + 1);
  }
  const column = new Map();
  const starts = names.filter((n) => incoming.get(n) === 0);
  // Breadth first from the callers; every service reached gets the deepest column seen, bounded by the count of
  // services (so a cycle cannot push it on forever).
  const queue = (starts.length ? starts : names.slice(0, 1)).map((n) => [n, 0]);
  while (queue.length) {
    const [n, c] = queue.shift();
    if (column.has(n) && column.get(n) >= c) continue;
    column.set(n, c);
    if (c + 1 < names.length) for (const m of out.get(n)) queue.push([m, c + 1]);
  }
  for (const n of names) if (!column.has(n)) column.set(n, 0);
  return column;
}

function graph(links) {
  const column = layers(links);
  const byColumn = new Map();
  for (const [n, c] of [...column.entries()].sort((x, y) => x[0].localeCompare(y[0]))) {
    if (!byColumn.has(c)) byColumn.set(c, []);
    byColumn.get(c).push(n);
  }
  const NODE_W = 170, NODE_H = 40, GAP_X = 110, GAP_Y = 34, PAD = 20;
  const pos = new Map();
  let height = 0;
  for (const [c, list] of byColumn) {
    list.forEach((n, i) => pos.set(n, { x: PAD + c * (NODE_W + GAP_X), y: PAD + i * (NODE_H + GAP_Y) }));
    height = Math.max(height, PAD * 2 + list.length * (NODE_H + GAP_Y));
  }
  const width = PAD * 2 + (Math.max(...byColumn.keys()) + 1) * (NODE_W + GAP_X) - GAP_X;
  const svg = h(
    "svg:svg",
    { class: "service-map", viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "Services and the calls between them" },
    h(
      "svg:defs",
      null,
      h("svg:marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, h("svg:path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" })),
    ),
  );
  for (const l of links) {
    const a = pos.get(l.parent);
    const b = pos.get(l.child);
    const rate = l.callCount ? (l.errorCount || 0) / l.callCount : 0;
    const title = `${l.parent} → ${l.child}: ${l.callCount} call${l.callCount === 1 ? "" : "s"}, ${(rate * 100).toFixed(1)}% errors`;
    let d;
    let lx;
    let ly;
    if (l.parent === l.child) {
      d = `M${a.x + NODE_W - 30},${a.y} C${a.x + NODE_W},${a.y - 40} ${a.x + NODE_W + 40},${a.y} ${a.x + NODE_W},${a.y + 12}`;
      [lx, ly] = [a.x + NODE_W + 10, a.y - 14];
    } else {
      const forward = b.x > a.x;
      const x1 = forward ? a.x + NODE_W : a.x + NODE_W / 2;
      const y1 = forward ? a.y + NODE_H / 2 : a.y + NODE_H;
      const x2 = forward ? b.x : b.x + NODE_W / 2;
      const y2 = forward ? b.y + NODE_H / 2 : b.y + NODE_H;
      const bend = forward ? (x2 - x1) / 2 : 60;
      d = forward ? `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}` : `M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 + bend} ${x2},${y2}`;
      [lx, ly] = [(x1 + x2) / 2, (y1 + y2) / 2 + (forward ? -6 : bend * 0.75)];
    }
    svg.append(
      h(
        "svg:g",
        { class: rate > 0 ? "edge failing" : "edge", dataset: { parent: l.parent, child: l.child } },
        h("svg:title", null, title),
        h("svg:path", { d, "marker-end": "url(#arrow)" }),
        h("svg:text", { x: lx, y: ly, "text-anchor": "middle", class: "edge-label" }, `${l.callCount}${rate > 0 ? ` · ${(rate * 100).toFixed(1)}% err` : ""}`),
      ),
    );
  }
  for (const [name, p] of pos) {
    const label = name.length > 22 ? name.slice(0, 21) + "…" : name;
    const link = h(
      "svg:a",
      { href: `/search?service=${encodeURIComponent(name)}` },
      h("svg:title", null, `${name}: search its traces`),
      h("svg:rect", { x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: 6, class: "node" }),
      h("svg:rect", { x: p.x, y: p.y, width: 6, height: NODE_H, rx: 2, style: { fill: serviceColour(name) } }),
      h("svg:text", { x: p.x + NODE_W / 2 + 3, y: p.y + NODE_H / 2 + 5, "text-anchor": "middle", class: "node-label" }, label),
    );
    svg.append(h("svg:g", { class: "service", dataset: { service: name } }, link));
  }
  return h("figure", { class: "map-box" }, svg);
}

function table(links) {
  return h(
    "table",
    { class: "edges" },
    h("caption", null, "Calls between services"),
    h("thead", null, h("tr", null, h("th", null, "caller"), h("th", null, "called"), h("th", { class: "num" }, "calls"), h("th", { class: "num" }, "errors"), h("th", { class: "num" }, "error rate"))),
    h(
      "tbody",
      null,
      links.map((l) =>
        h(
          "tr",
          null,
          h("td", null, l.parent),
          h("td", null, l.child),
          h("td", { class: "num" }, String(l.callCount)),
          h("td", { class: "num" }, String(l.errorCount || 0)),
          h("td", { class: "num" }, `${((l.callCount ? (l.errorCount || 0) / l.callCount : 0) * 100).toFixed(1)}%`),
        ),
      ),
    ),
  );
}
