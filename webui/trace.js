// The trace page: the trace as OTLP JSON (/api/v3/traces/{id}), its critical path, its anomalies and its logs,
// drawn as a waterfall (a collapsible span tree against a time ruler, with a minimap that zooms) and the selected
// span's detail. Rows are drawn only where the view is, so a trace of tens of thousands of spans stays quick.
import {
  anyValue,
  attribute,
  attributeTable,
  copyButton,
  duration,
  getJSON,
  h,
  hexID,
  notice,
  replace,
  markPainted,
  serviceColour,
  timestamp,
} from "./dom.js";
import { navigate } from "./nav.js";

const ROW_HEIGHT = 26;
const KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];
const KIND_NAMES = { SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5 };
const STATUS = ["unset", "ok", "error"];
const STATUS_NAMES = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

/** Draws the trace `idText`; `params` may name a span to select (`span`). */
export function tracePage(app, idText, params) {
  const id = hexID(idText);
  if (!id) {
    document.title = "Bad trace ID · otelsink";
    replace(app, notice("error", "Not a trace ID: ", idText, ". A trace ID is up to 32 hex digits."));
    return null;
  }
  document.title = `Trace ${id.slice(0, 8)} · otelsink`;
  const aborter = new AbortController();
  const signal = aborter.signal;
  const leaving = [];
  replace(app, h("p", { class: "muted loading" }, "Loading trace ", h("code", null, id), "…"));
  (async () => {
    const optional = (p) => p.then((r) => r.body).catch((e) => (e.name === "AbortError" ? null : { failed: e.message }));
    const traceP = getJSON(`/api/v3/traces/${id}`, { signal });
    const pathP = optional(getJSON(`/api/v3/traces/${id}/critical_path`, { signal }));
    const anomaliesP = optional(getJSON(`/api/v3/traces/${id}/anomalies`, { signal }));
    const logsP = optional(getJSON(`/api/v3/logs?trace_id=${id}&limit=1000&direction=forward`, { signal }));
    let traceBody;
    try {
      ({ body: traceBody } = await traceP);
    } catch (e) {
      if (e.name === "AbortError") return;
      replace(app, notice("error", e.status === 404 ? `Trace ${id} is not in the store.` : `Cannot load trace ${id}: ${e.message}`));
      return;
    }
    const [path, anomalies, logs] = await Promise.all([pathP, anomaliesP, logsP]);
    if (signal.aborted) return;
    const trace = buildTrace(id, traceBody.result || {}, path, anomalies, logs);
    const warnings = [...(traceBody.warnings || [])];
    if (path?.failed) warnings.push(`critical path: ${path.failed}`);
    if (logs?.failed) warnings.push(`logs: ${logs.failed}`);
    leaving.push(draw(app, trace, traceBody.result || {}, warnings, params.get("span")));
  })();
  return {
    leave() {
      aborter.abort();
      for (const f of leaving) f?.();
    },
  };
}

/** The trace's spans in tree order (depth first, children by start time), with everything the page draws. */
export function buildTrace(id, result, path, anomalies, logs) {
  const spans = [];
  for (const rs of result.resourceSpans || []) {
    const resource = rs.resource?.attributes || [];
    const service = attribute(resource, "service.name") ?? "unknown_service";
    for (const ss of rs.scopeSpans || []) {
      for (const s of ss.spans || []) {
        const kind = typeof s.kind === "string" ? (KIND_NAMES[s.kind] ?? 0) : (s.kind ?? 0);
        const code = typeof s.status?.code === "string" ? (STATUS_NAMES[s.status.code] ?? 0) : (s.status?.code ?? 0);
        spans.push({
          id: s.spanId || "",
          parent: s.parentSpanId || "",
          name: s.name || "",
          kind,
          statusCode: code,
          statusMessage: s.status?.message || "",
          startN: big(s.startTimeUnixNano),
          endN: big(s.endTimeUnixNano),
          attributes: s.attributes || [],
          events: s.events || [],
          links: s.links || [],
          traceState: s.traceState || "",
          service,
          resource: rs.resource || {},
          scope: ss.scope || {},
        });
      }
    }
  }
  let t0 = null;
  let t1 = null;
  for (const s of spans) {
    if (s.endN < s.startN) s.endN = s.startN;
    if (t0 === null || s.startN < t0) t0 = s.startN;
    if (t1 === null || s.endN > t1) t1 = s.endN;
  }
  t0 ??= 0n;
  t1 ??= 0n;
  for (const s of spans) {
    s.start = Number(s.startN - t0);
    s.duration = Number(s.endN - s.startN);
  }

  // The tree, depth first without recursion (a hostile trace may be a chain of any depth or hold a cycle).
  const byID = new Map();
  for (const s of spans) if (!byID.has(s.id)) byID.set(s.id, s);
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    const p = s.parent && s.parent !== s.id && byID.get(s.parent) !== s ? byID.get(s.parent) : undefined;
    if (p) {
      if (!children.has(p)) children.set(p, []);
      children.get(p).push(s);
    } else {
      roots.push(s);
    }
  }
  const byStart = (a, b) => (a.startN < b.startN ? -1 : a.startN > b.startN ? 1 : 0);
  roots.sort(byStart);
  for (const list of children.values()) list.sort(byStart);
  const order = [];
  const visit = (root) => {
    const stack = [[root, 0, -1]];
    while (stack.length) {
      const [s, depth, parentIndex] = stack.pop();
      if (s.index !== undefined) continue;
      s.index = order.length;
      s.depth = depth;
      s.parentIndex = parentIndex;
      order.push(s);
      const kids = children.get(s) || [];
      for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1, s.index]);
    }
  };
  for (const r of roots) visit(r);
  for (const s of spans) if (s.index === undefined) visit(s); // spans in a cycle
  // Subtree sizes: in depth-first order a span's descendants follow it.
  for (const s of order) s.size = 1;
  for (let i = order.length - 1; i >= 0; i--) if (order[i].parentIndex >= 0) order[order[i].parentIndex].size += order[i].size;
  for (const s of order) s.childCount = (children.get(s) || []).length;

  const critical = new Map();
  for (const section of (path && !path.failed ? path.result?.sections : null) || []) {
    if (!critical.has(section.spanId)) critical.set(section.spanId, []);
    critical.get(section.spanId).push([Number(big(section.startTimeUnixNano) - t0), Number(big(section.endTimeUnixNano) - t0)]);
  }
  const slow = new Map();
  for (const a of (anomalies && !anomalies.failed ? anomalies.result?.anomalies : null) || []) slow.set(a.spanId, a);
  const logsBySpan = new Map();
  const traceLogs = [];
  for (const rl of (logs && !logs.failed ? logs.result?.resourceLogs : null) || []) {
    for (const sl of rl.scopeLogs || []) {
      for (const r of sl.logRecords || []) {
        const entry = { record: r, service: attribute(rl.resource?.attributes, "service.name") ?? "", at: big(r.timeUnixNano || r.observedTimeUnixNano) };
        if (r.spanId && byID.has(r.spanId)) {
          if (!logsBySpan.has(r.spanId)) logsBySpan.set(r.spanId, []);
          logsBySpan.get(r.spanId).push(entry);
        } else {
          traceLogs.push(entry);
        }
      }
    }
  }
  const root = roots.find((s) => !s.parent) || order[0];
  const services = new Set(spans.map((s) => s.service));
  return {
    id,
    spans: order,
    byID,
    t0,
    total: Number(t1 - t0),
    root,
    services,
    depth: order.reduce((m, s) => Math.max(m, s.depth + 1), 0),
    errors: order.filter((s) => s.statusCode === 2).length,
    critical,
    criticalPath: path && !path.failed ? path.result : null,
    slow,
    logsBySpan,
    traceLogs,
  };
}

function big(text) {
  try {
    return BigInt(text ?? 0);
  } catch {
    return 0n;
  }
}

/** Draws a loaded trace; returns what to undo when the page is left. */
function draw(app, trace, result, warnings, spanParam) {
  const root = trace.root;
  const title = root
    ? [h("span", { class: "svc-chip", style: { background: serviceColour(root.service) } }), h("strong", { class: "svc-name" }, root.service), ": ", h("span", { class: "op" }, root.name)]
    : ["(empty trace)"];
  document.title = root ? `${root.service}: ${root.name} · otelsink` : "Trace · otelsink";

  const download = h("button", { type: "button" }, "Download OTLP JSON");
  download.addEventListener("click", () => {
    const url = URL.createObjectURL(new Blob([JSON.stringify(result)], { type: "application/json" }));
    const a = h("a", { href: url, download: `trace-${trace.id}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  const other = h("input", { name: "other", placeholder: "another trace ID", "aria-label": "Trace ID to compare with", spellcheck: "false", size: 20 });
  const compareForm = h("form", { class: "inline-form" }, other, h("button", { type: "submit" }, "Compare"));
  compareForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const b = hexID(other.value);
    if (!b) {
      other.setCustomValidity("A trace ID is up to 32 hex digits");
      other.reportValidity();
      return;
    }
    navigate(`/compare?a=${trace.id}&b=${b}`);
  });
  other.addEventListener("input", () => other.setCustomValidity(""));

  const head = h(
    "header",
    { class: "trace-head" },
    h("h1", null, ...title),
    h(
      "dl",
      { class: "facts" },
      fact("Trace ID", h("code", { class: "trace-id" }, trace.id), copyButton(trace.id)),
      fact("Started", trace.spans.length ? timestamp(Number(trace.t0 / 1000000n)) : "?"),
      fact("Duration", duration(trace.total)),
      fact("Spans", String(trace.spans.length)),
      fact("Services", String(trace.services.size)),
      fact("Depth", String(trace.depth)),
      trace.errors ? fact("Errors", h("span", { class: "badge error" }, String(trace.errors))) : null,
      trace.slow.size ? fact("Anomalies", h("span", { class: "badge warn" }, String(trace.slow.size))) : null,
    ),
    h("div", { class: "trace-actions" }, download, compareForm),
    warnings.map((w) => notice("warning", w)),
  );
  const detail = h("aside", { class: "detail", "aria-label": "Span detail" }, h("p", { class: "muted" }, "Select a span to see its detail."));
  const waterfall = new Waterfall(trace, (span) => showDetail(detail, trace, span, waterfall));
  replace(
    app,
    h(
      "div",
      { class: "trace-page" },
      head,
      criticalSummary(trace),
      h("div", { class: "trace-body" }, waterfall.element, detail),
      trace.traceLogs.length ? logSection(`Logs of this trace not tied to a stored span (${trace.traceLogs.length})`, trace.traceLogs, trace) : null,
    ),
  );
  waterfall.render();
  markPainted("otelsink:waterfall-painted");
  const wanted = hexID(spanParam, 16);
  const start = (wanted && trace.byID.get(wanted)) || null;
  if (start) waterfall.select(start.index, { reveal: true });
  const onKey = (e) => waterfall.key(e);
  document.addEventListener("keydown", onKey);
  const onResize = () => waterfall.render();
  window.addEventListener("resize", onResize);
  return () => {
    document.removeEventListener("keydown", onKey);
    window.removeEventListener("resize", onResize);
  };
}

function fact(label, ...value) {
  return h("div", { class: "fact" }, h("dt", null, label), h("dd", null, ...value));
}

function criticalSummary(trace) {
  const p = trace.criticalPath;
  if (!p) return null;
  const top = (p.services || []).slice(0, 5);
  return h(
    "section",
    { class: "critical-summary", "aria-label": "Critical path" },
    h("strong", null, "Critical path: "),
    `${duration(p.durationNanos)} in ${(p.sections || []).length} section${(p.sections || []).length === 1 ? "" : "s"}`,
    top.length ? " — " : null,
    top.map((s, i) => [
      i ? ", " : null,
      h("span", { class: "svc" }, h("span", { class: "svc-chip", style: { background: serviceColour(s.service) } }), s.service, ` ${(s.share * 100).toFixed(1)}%`),
    ]),
  );
}

/** The span tree against time. */
class Waterfall {
  constructor(trace, onSelect) {
    this.trace = trace;
    this.onSelect = onSelect;
    this.collapsed = new Set();
    this.selected = -1;
    this.matches = [];
    this.matchSet = new Set();
    this.showCritical = true;
    this.view = [0, Math.max(1, trace.total)];
    this.visible = [];

    this.find = h("input", { type: "search", class: "find", placeholder: "Find in trace ( / )", "aria-label": "Find spans in this trace", spellcheck: "false" });
    this.findCount = h("span", { class: "muted find-count" });
    this.find.addEventListener("input", () => this.search(this.find.value));
    this.find.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        this.nextMatch(e.shiftKey ? -1 : 1);
      } else if (e.key === "Escape") {
        this.find.value = "";
        this.search("");
        this.body.focus();
      }
    });
    const button = (label, f, title) => {
      const b = h("button", { type: "button", title }, label);
      b.addEventListener("click", f);
      return b;
    };
    const critical = h("input", { type: "checkbox", checked: true });
    critical.addEventListener("change", () => {
      this.showCritical = critical.checked;
      this.render();
    });
    this.zoomReset = button("Reset zoom", () => this.zoom(0, this.trace.total), "Show the whole trace");
    this.zoomReset.hidden = true;
    const tools = h(
      "div",
      { class: "wf-tools" },
      this.find,
      this.findCount,
      button("Expand all", () => this.setCollapsed([]), "Expand every span"),
      button("Collapse all", () => this.setCollapsed(this.trace.spans.filter((s) => s.childCount && s.depth >= 1)), "Collapse below the roots' children"),
      h("label", { class: "check" }, critical, " Critical path"),
      this.zoomReset,
    );

    this.minimap = h("canvas", { class: "minimap", height: 48, "aria-label": "Minimap: drag to zoom into a time range" });
    this.window = h("div", { class: "mm-window" });
    this.selection = h("div", { class: "mm-selection", hidden: true });
    const mm = h("div", { class: "minimap-box", title: "Drag to zoom; double-click to see the whole trace" }, this.minimap, this.window, this.selection);
    this.dragZoom(mm);

    this.ticks = h("div", { class: "wf-ticks" });
    const ruler = h("div", { class: "wf-ruler" }, h("div", { class: "wf-ruler-name" }, "Service and operation"), this.ticks);
    this.spacer = h("div", { class: "wf-spacer" });
    this.body = h("div", { class: "wf-body", tabindex: 0, role: "tree", "aria-label": "Spans" }, this.spacer);
    this.body.addEventListener("scroll", () => this.schedule());
    this.element = h("section", { class: "waterfall" }, tools, mm, ruler, this.body);
    this.layout();
  }

  /** The rows not hidden under a collapsed span, in tree order. */
  layout() {
    const spans = this.trace.spans;
    this.visible = [];
    for (let i = 0; i < spans.length; ) {
      this.visible.push(i);
      i += this.collapsed.has(i) ? spans[i].size : 1;
    }
    this.position = new Map(this.visible.map((index, row) => [index, row]));
    this.spacer.style.height = `${this.visible.length * ROW_HEIGHT}px`;
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = 0;
      this.drawRows();
    });
  }

  render() {
    this.drawRuler();
    this.drawMinimap();
    this.drawRows();
  }

  drawRuler() {
    const [a, b] = this.view;
    replace(
      this.ticks,
      [0, 0.25, 0.5, 0.75, 1].map((f) => h("span", { class: "tick", style: { left: `${f * 100}%` } }, duration(a + f * (b - a)))),
    );
    this.zoomReset.hidden = a <= 0 && b >= this.trace.total;
    const total = Math.max(1, this.trace.total);
    Object.assign(this.window.style, { left: `${(a / total) * 100}%`, width: `${Math.max(0.3, ((b - a) / total) * 100)}%` });
  }

  drawMinimap() {
    const canvas = this.minimap;
    const width = Math.max(1, canvas.clientWidth || 600);
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(48 * ratio);
    const g = canvas.getContext("2d");
    if (!g) return;
    g.clearRect(0, 0, canvas.width, canvas.height);
    const spans = this.trace.spans;
    const total = Math.max(1, this.trace.total);
    const rowH = canvas.height / Math.max(1, spans.length);
    for (const s of spans) {
      g.fillStyle = s.statusCode === 2 ? "#d93025" : serviceColour(s.service);
      g.fillRect((s.start / total) * canvas.width, s.index * rowH, Math.max(1, (s.duration / total) * canvas.width), Math.max(1, rowH));
    }
  }

  dragZoom(box) {
    let from = null;
    const at = (e) => {
      const r = box.getBoundingClientRect();
      return Math.min(1, Math.max(0, (e.clientX - r.left) / Math.max(1, r.width)));
    };
    box.addEventListener("mousedown", (e) => {
      from = at(e);
      e.preventDefault();
    });
    window.addEventListener("mousemove", (e) => {
      if (from === null) return;
      const to = at(e);
      Object.assign(this.selection.style, { left: `${Math.min(from, to) * 100}%`, width: `${Math.abs(to - from) * 100}%` });
      this.selection.hidden = false;
    });
    window.addEventListener("mouseup", (e) => {
      if (from === null) return;
      const to = at(e);
      this.selection.hidden = true;
      const [a, b] = [Math.min(from, to), Math.max(from, to)];
      from = null;
      if (b - a > 0.005) this.zoom(a * this.trace.total, b * this.trace.total);
    });
    box.addEventListener("dblclick", () => this.zoom(0, this.trace.total));
  }

  zoom(a, b) {
    this.view = [a, Math.max(a + 1, b)];
    this.render();
  }

  drawRows() {
    const began = performance.now();
    const body = this.body;
    const first = Math.max(0, Math.floor(body.scrollTop / ROW_HEIGHT) - 8);
    const last = Math.min(this.visible.length, Math.ceil((body.scrollTop + (body.clientHeight || 600)) / ROW_HEIGHT) + 8);
    const rows = [];
    for (let row = first; row < last; row++) rows.push(this.row(this.visible[row], row));
    replace(this.spacer, rows);
    // The last draw's cost, for bench/webui_latency.py (one entry kept, however long the page is used).
    performance.clearMeasures("otelsink:rows");
    performance.measure("otelsink:rows", { start: began });
  }

  row(index, row) {
    const s = this.trace.spans[index];
    const [a, b] = this.view;
    const scale = 100 / Math.max(1, b - a);
    const left = (s.start - a) * scale;
    const width = s.duration * scale;
    const classes = ["row"];
    if (index === this.selected) classes.push("selected");
    if (this.matchSet.has(index)) classes.push("match");
    if (s.statusCode === 2) classes.push("error");
    const sections = this.showCritical ? this.trace.critical.get(s.id) : null;
    if (sections) classes.push("critical");
    let toggle = h("span", { class: "toggle-space" });
    if (s.childCount) {
      const open = !this.collapsed.has(index);
      toggle = h("button", { type: "button", class: "toggle", "aria-label": open ? "Collapse" : "Expand", tabindex: -1 }, open ? "▾" : "▸");
      toggle.addEventListener("click", (e) => {
        e.stopPropagation();
        this.toggle(index);
      });
    }
    const anomaly = this.trace.slow.get(s.id);
    const logs = this.trace.logsBySpan.get(s.id);
    const bar = h("div", { class: "bar", style: { left: `${left}%`, width: `${width}%`, background: serviceColour(s.service) } });
    // The duration after the bar; near the right edge, inside the bar's end (or before a short bar).
    const place = left + width <= 80 ? { left: `${Math.max(0, left + width)}%` } : width >= 12 ? { right: `${Math.max(0, 100 - left - width)}%` } : { right: `${100 - left}%` };
    const label = h("span", { class: left + width > 80 && width >= 12 ? "bar-label inside" : "bar-label", style: place }, duration(s.duration));
    const segments = (sections || []).map(([x, y]) => h("div", { class: "cp-seg", style: { left: `${(x - a) * scale}%`, width: `${(y - x) * scale}%` } }));
    const element = h(
      "div",
      {
        class: classes.join(" "),
        role: "treeitem",
        "aria-level": s.depth + 1,
        "aria-selected": index === this.selected ? "true" : "false",
        "aria-expanded": s.childCount ? String(!this.collapsed.has(index)) : null,
        style: { top: `${row * ROW_HEIGHT}px` },
        dataset: { spanId: s.id },
      },
      h(
        "div",
        { class: "row-name", style: { paddingLeft: `${6 + Math.min(s.depth, 40) * 14}px` } },
        toggle,
        h("span", { class: "svc-chip", style: { background: serviceColour(s.service) } }),
        h("span", { class: "svc-name" }, s.service),
        " ",
        h("span", { class: "op" }, s.name),
        s.statusCode === 2 ? h("span", { class: "badge error", title: s.statusMessage || "status ERROR" }, "error") : null,
        anomaly ? h("span", { class: "badge warn", title: `${anomaly.ratio}× its operation's p99 baseline` }, `slow ×${anomaly.ratio}`) : null,
        logs ? h("span", { class: "badge info", title: `${logs.length} log record${logs.length === 1 ? "" : "s"}` }, `logs ${logs.length}`) : null,
      ),
      h("div", { class: "row-bar" }, bar, segments, label),
    );
    element.addEventListener("click", () => this.select(index));
    return element;
  }

  toggle(index) {
    if (this.collapsed.has(index)) this.collapsed.delete(index);
    else this.collapsed.add(index);
    this.layout();
    this.drawRows();
  }

  setCollapsed(spans) {
    this.collapsed = new Set(spans.map((s) => s.index));
    this.layout();
    if (this.selected >= 0 && !this.position.has(this.selected)) this.reveal(this.selected);
    this.drawRows();
  }

  /** Expands the span's ancestors, so its row is shown. */
  reveal(index) {
    let changed = false;
    for (let p = this.trace.spans[index].parentIndex; p >= 0; p = this.trace.spans[p].parentIndex) {
      if (this.collapsed.delete(p)) changed = true;
    }
    if (changed) this.layout();
  }

  select(index, { reveal = false } = {}) {
    if (index < 0 || index >= this.trace.spans.length) return;
    if (reveal || !this.position.has(index)) this.reveal(index);
    this.selected = index;
    const row = this.position.get(index);
    const top = row * ROW_HEIGHT;
    if (top < this.body.scrollTop) this.body.scrollTop = top;
    else if (top + ROW_HEIGHT > this.body.scrollTop + this.body.clientHeight) this.body.scrollTop = top + ROW_HEIGHT - this.body.clientHeight;
    this.drawRows();
    this.onSelect(this.trace.spans[index]);
  }

  search(text) {
    const q = text.trim().toLowerCase();
    this.matches = [];
    if (q) {
      for (const s of this.trace.spans) {
        if (
          s.name.toLowerCase().includes(q) ||
          s.service.toLowerCase().includes(q) ||
          s.id.includes(q) ||
          s.attributes.some((kv) => kv.key.toLowerCase().includes(q) || anyValue(kv.value).text.toLowerCase().includes(q))
        ) {
          this.matches.push(s.index);
        }
      }
    }
    this.matchSet = new Set(this.matches);
    this.findCount.textContent = q ? `${this.matches.length} match${this.matches.length === 1 ? "" : "es"}` : "";
    this.drawRows();
  }

  nextMatch(step) {
    if (!this.matches.length) return;
    const at = this.matches.findIndex((i) => (step > 0 ? i > this.selected : i >= this.selected));
    let k = step > 0 ? (at < 0 ? 0 : at) : (at <= 0 ? this.matches.length : at) - 1;
    this.select(this.matches[k], { reveal: true });
    this.findCount.textContent = `${k + 1} of ${this.matches.length}`;
  }

  /** Up and down move the selection, left and right collapse and expand, `/` finds. */
  key(e) {
    const target = e.target;
    const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
    if (e.key === "/" && !typing) {
      e.preventDefault();
      this.find.focus();
      this.find.select();
      return;
    }
    if (typing || e.metaKey || e.ctrlKey || e.altKey) return;
    const row = this.selected >= 0 ? this.position.get(this.selected) : -1;
    const s = this.selected >= 0 ? this.trace.spans[this.selected] : null;
    switch (e.key) {
      case "ArrowDown":
      case "j":
        e.preventDefault();
        this.select(this.visible[Math.min(this.visible.length - 1, row + 1)]);
        break;
      case "ArrowUp":
      case "k":
        e.preventDefault();
        this.select(this.visible[Math.max(0, row - 1)]);
        break;
      case "ArrowLeft":
        if (!s) return;
        e.preventDefault();
        if (s.childCount && !this.collapsed.has(s.index)) this.toggle(s.index);
        else if (s.parentIndex >= 0) this.select(s.parentIndex);
        break;
      case "ArrowRight":
        if (!s) return;
        e.preventDefault();
        if (s.childCount && this.collapsed.has(s.index)) this.toggle(s.index);
        else if (s.childCount) this.select(s.index + 1);
        break;
      case "Enter":
        if (s?.childCount) {
          e.preventDefault();
          this.toggle(s.index);
        }
        break;
    }
  }
}

function showDetail(panel, trace, s, waterfall) {
  const t0 = trace.t0;
  const abs = (n) => timestamp(Number(n / 1000000n));
  const offset = (n) => `+${duration(Number(n - t0))}`;
  const parent = s.parent ? trace.byID.get(s.parent) : null;
  const anomaly = trace.slow.get(s.id);
  const spanLink = (spanID, label) => {
    const target = trace.byID.get(spanID);
    if (!target) return h("code", null, label);
    const a = h("a", { href: `/trace/${trace.id}?span=${spanID}`, class: "span-link" }, h("code", null, label));
    a.addEventListener("click", (e) => {
      e.preventDefault();
      waterfall.select(target.index, { reveal: true });
    });
    return a;
  };
  const rows = [
    ["Service", h("span", { class: "svc" }, h("span", { class: "svc-chip", style: { background: serviceColour(s.service) } }), s.service)],
    ["Operation", s.name],
    ["Kind", KINDS[s.kind] ?? String(s.kind)],
    ["Status", h("span", { class: s.statusCode === 2 ? "badge error" : "" }, STATUS[s.statusCode] ?? String(s.statusCode)), s.statusMessage ? [" — ", h("span", { class: "status-message" }, s.statusMessage)] : null],
    ["Start", `${offset(s.startN)} (${abs(s.startN)})`],
    ["Duration", duration(s.duration)],
    ["Span ID", h("code", null, s.id), copyButton(s.id)],
    ["Parent span ID", s.parent ? [parent ? spanLink(s.parent, s.parent) : h("code", null, s.parent), parent ? null : " (not in this trace)", copyButton(s.parent)] : h("span", { class: "muted" }, "none: a root span")],
    s.traceState ? ["Trace state", h("code", null, s.traceState)] : null,
  ].filter(Boolean);
  const section = (title, ...body) => h("section", { class: "detail-section" }, h("h3", null, title), ...body);
  const events = s.events.map((ev) =>
    h("li", null, h("span", { class: "muted" }, offset(big(ev.timeUnixNano))), " ", h("strong", null, ev.name || "(unnamed event)"), attributeTable(ev.attributes, "")),
  );
  const links = s.links.map((l) => {
    const traceID = hexID(l.traceId);
    const spanID = hexID(l.spanId, 16);
    const label = `${l.traceId || "?"} / ${l.spanId || "?"}`;
    let target;
    if (traceID === trace.id && spanID) target = spanLink(spanID, label);
    else if (traceID) target = h("a", { href: `/trace/${traceID}${spanID ? `?span=${spanID}` : ""}`, class: "trace-link" }, h("code", null, label));
    else target = h("code", null, label);
    return h("li", null, target, attributeTable(l.attributes, ""));
  });
  const logs = trace.logsBySpan.get(s.id) || [];
  const scope = s.scope;
  replace(
    panel,
    h("h2", null, h("span", { class: "svc-chip", style: { background: serviceColour(s.service) } }), h("span", { class: "op" }, s.name || "(unnamed span)")),
    anomaly ? notice("warning", `Slow: ${anomaly.ratio}× the p99 baseline of its operation (${duration(Number(anomaly.baselineP99Nanos))}).`) : null,
    h("table", { class: "span-facts" }, h("tbody", null, rows.map(([k, ...v]) => h("tr", null, h("th", { scope: "row" }, k), h("td", null, ...v))))),
    section(`Attributes (${s.attributes.length})`, attributeTable(s.attributes)),
    section(`Events (${s.events.length})`, events.length ? h("ul", { class: "events" }, events) : h("p", { class: "muted" }, "none")),
    section(`Links (${s.links.length})`, links.length ? h("ul", { class: "links" }, links) : h("p", { class: "muted" }, "none")),
    section(`Logs (${logs.length})`, logs.length ? logList(logs, trace) : h("p", { class: "muted" }, "none")),
    section("Resource", attributeTable(s.resource.attributes)),
    section(
      "Scope",
      h("p", null, h("code", null, scope.name || "(no name)"), scope.version ? ` ${scope.version}` : ""),
      scope.attributes?.length ? attributeTable(scope.attributes) : null,
    ),
  );
}

function logList(entries, trace) {
  return h(
    "ol",
    { class: "log-list" },
    entries.map(({ record, service, at }) => {
      const body = anyValue(record.body);
      const severity = record.severityText || (record.severityNumber ? `SEV${record.severityNumber}` : "");
      return h(
        "li",
        { class: `log sev-${Math.ceil((Number(record.severityNumber) || 0) / 4)}` },
        h("span", { class: "muted" }, at > 0n ? `+${duration(Number(at - trace.t0))}` : ""),
        " ",
        severity ? h("span", { class: "severity" }, severity) : null,
        " ",
        service ? h("span", { class: "svc-name" }, service) : null,
        " ",
        h("span", { class: "log-body" }, body.text),
      );
    }),
  );
}

function logSection(title, entries, trace) {
  return h("section", { class: "trace-logs" }, h("h2", null, title), logList(entries, trace));
}
