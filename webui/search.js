// The search page: a form whose every field lives in the URL (so a search can be shared and reloaded), the
// matching traces as a scatter plot of duration against time and as a list. Reads Jaeger's /api/traces.
import { ago, APIError, duration, getJSON, h, markPainted, notice, replace, serviceColour, timestamp } from "./dom.js";
import { navigate } from "./nav.js";

const LOOKBACKS = [
  ["15m", "Last 15 minutes", 15 * 60],
  ["1h", "Last hour", 3600],
  ["3h", "Last 3 hours", 3 * 3600],
  ["6h", "Last 6 hours", 6 * 3600],
  ["12h", "Last 12 hours", 12 * 3600],
  ["24h", "Last 24 hours", 86400],
  ["2d", "Last 2 days", 2 * 86400],
  ["7d", "Last 7 days", 7 * 86400],
  ["custom", "Custom range…", 0],
];

/** Draws the search page for `params` (service, operation, tags, minDuration, maxDuration, lookback, start, end, limit). */
export function searchPage(app, params) {
  document.title = "Search · otelsink";
  const aborter = new AbortController();
  const form = searchForm(params, aborter.signal);
  const results = h("section", { class: "results", "aria-label": "Search results" });
  replace(app, h("div", { class: "search-page" }, form, results));
  if (params.get("service")) run(params, results, aborter.signal);
  else replace(results, notice("info", "Choose a service and search. Traces are listed newest first."));
  return { leave: () => aborter.abort() };
}

function searchForm(params, signal) {
  const field = (label, control) => h("label", { class: "field" }, h("span", null, label), control);
  const service = h("select", { name: "service", required: true }, h("option", { value: "" }, "loading services…"));
  const operation = h("select", { name: "operation" }, h("option", { value: "" }, "all operations"));
  const tags = h("input", { name: "tags", value: params.get("tags") || "", placeholder: "http.status_code=500 error=true", spellcheck: "false" });
  const minDuration = h("input", { name: "minDuration", value: params.get("minDuration") || "", placeholder: "e.g. 100ms", size: 8 });
  const maxDuration = h("input", { name: "maxDuration", value: params.get("maxDuration") || "", placeholder: "e.g. 2s", size: 8 });
  const lookback = h(
    "select",
    { name: "lookback" },
    LOOKBACKS.map(([value, label]) => h("option", { value, selected: value === (params.get("lookback") || "1h") }, label)),
  );
  const start = h("input", { name: "start", type: "datetime-local", step: 1, value: params.get("start") || "" });
  const end = h("input", { name: "end", type: "datetime-local", step: 1, value: params.get("end") || "" });
  const range = h("span", { class: "custom-range" }, field("From", start), field("To", end));
  const limit = h("input", { name: "limit", type: "number", min: 1, max: 1000, value: params.get("limit") || "20", size: 4 });
  const showRange = () => (range.hidden = lookback.value !== "custom");
  lookback.addEventListener("change", showRange);
  showRange();

  const form = h(
    "form",
    { class: "search-form", autocomplete: "off" },
    field("Service", service),
    field("Operation", operation),
    field("Tags", tags),
    field("Min duration", minDuration),
    field("Max duration", maxDuration),
    field("Time", lookback),
    range,
    field("Limit", limit),
    h("button", { type: "submit", class: "primary" }, "Find traces"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    for (const el of [service, operation, tags, minDuration, maxDuration, lookback, limit]) if (el.value.trim()) q.set(el.name, el.value.trim());
    if (lookback.value === "custom") {
      if (start.value) q.set("start", start.value);
      if (end.value) q.set("end", end.value);
    }
    navigate(`/search?${q}`);
  });

  const loadOperations = async (selected) => {
    replace(operation, h("option", { value: "" }, "all operations"));
    if (!service.value) return;
    try {
      const { body } = await getJSON(`/api/services/${encodeURIComponent(service.value)}/operations`, { signal });
      for (const name of (body.data || []).slice().sort()) operation.append(h("option", { value: name, selected: name === selected }, name));
    } catch (e) {
      if (e.name !== "AbortError") operation.append(h("option", { value: "", disabled: true }, `cannot list operations: ${e.message}`));
    }
  };
  service.addEventListener("change", () => loadOperations(""));
  (async () => {
    try {
      const { body } = await getJSON("/api/services", { signal });
      const names = (body.data || []).slice().sort();
      const wanted = params.get("service") || "";
      replace(service, h("option", { value: "" }, names.length ? "choose a service" : "no services stored yet"));
      for (const name of names) service.append(h("option", { value: name, selected: name === wanted }, name));
      if (wanted && !names.includes(wanted)) service.append(h("option", { value: wanted, selected: true }, wanted));
      await loadOperations(params.get("operation") || "");
      if (params.get("operation") && operation.value !== params.get("operation")) {
        const op = params.get("operation");
        operation.append(h("option", { value: op, selected: true }, op));
      }
    } catch (e) {
      if (e.name !== "AbortError") replace(service, h("option", { value: "" }, `cannot list services: ${e.message}`));
    }
  })();
  return form;
}

/** `key=value key2="two words"` as Jaeger's tags JSON object, or an error message. */
export function parseTags(text) {
  const tags = {};
  const re = /\s*([^\s=]+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))/y;
  let at = 0;
  const t = text.trim();
  while (at < t.length) {
    re.lastIndex = at;
    const m = re.exec(t);
    if (!m) return { error: `tags: expected key=value at character ${at + 1} of "${t}"` };
    tags[m[1]] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3];
    at = re.lastIndex;
    while (t[at] === " ") at++;
  }
  return { tags };
}

function apiQuery(params) {
  const q = new URLSearchParams();
  q.set("service", params.get("service"));
  if (params.get("operation")) q.set("operation", params.get("operation"));
  if (params.get("tags")) {
    const { tags, error } = parseTags(params.get("tags"));
    if (error) throw new APIError(400, error);
    if (Object.keys(tags).length) q.set("tags", JSON.stringify(tags));
  }
  for (const name of ["minDuration", "maxDuration", "limit"]) if (params.get(name)) q.set(name, params.get(name));
  const lookback = LOOKBACKS.find(([v]) => v === (params.get("lookback") || "1h")) || LOOKBACKS[1];
  let endMs = Date.now();
  let startMs = endMs - lookback[2] * 1000;
  if (lookback[0] === "custom") {
    const s = params.get("start") ? Date.parse(params.get("start")) : NaN;
    const e = params.get("end") ? Date.parse(params.get("end")) : NaN;
    if (Number.isNaN(s)) throw new APIError(400, "the custom range needs a valid From time");
    startMs = s;
    endMs = Number.isNaN(e) ? Date.now() : e;
  }
  q.set("start", String(Math.floor(startMs) * 1000));
  q.set("end", String(Math.floor(endMs) * 1000));
  if (!q.has("limit")) q.set("limit", "20");
  return q;
}

async function run(params, results, signal) {
  replace(results, h("p", { class: "muted loading" }, "Searching…"));
  let body;
  try {
    ({ body } = await getJSON(`/api/traces?${apiQuery(params)}`, { signal }));
  } catch (e) {
    if (e.name !== "AbortError") replace(results, notice("error", e.message));
    return;
  }
  performance.mark("otelsink:search-answered");
  const traces = (body.data || []).map(summarise).sort((a, b) => b.startMs - a.startMs);
  const notes = (body.errors || []).map((e) => notice("warning", e.msg));
  if (traces.length === 0) {
    replace(results, notes, notice("info", "No traces match this search."));
    return;
  }
  const selected = new Set();
  const compare = h("button", { type: "button", disabled: true }, "Compare selected (0/2)");
  compare.addEventListener("click", () => {
    const [a, b] = [...selected];
    navigate(`/compare?a=${a}&b=${b}`);
  });
  const toggle = (id, on) => {
    if (on) selected.add(id);
    else selected.delete(id);
    compare.textContent = `Compare selected (${selected.size}/2)`;
    compare.disabled = selected.size !== 2;
  };
  replace(
    results,
    notes,
    scatter(traces),
    h("div", { class: "results-head" }, h("h2", null, `${traces.length} trace${traces.length === 1 ? "" : "s"}`), compare),
    h("ol", { class: "trace-list" }, traces.map((t) => resultItem(t, toggle))),
  );
  markPainted("otelsink:search-painted");
}

/** What the list shows of one Jaeger trace. */
export function summarise(trace) {
  const spans = trace.spans || [];
  const processes = trace.processes || {};
  const ids = new Set(spans.map((s) => s.spanID));
  const isRoot = (s) => !(s.references || []).some((r) => r.refType === "CHILD_OF" && ids.has(r.spanID));
  const roots = spans.filter(isRoot).sort((a, b) => a.startTime - b.startTime);
  const root = roots.find((s) => !(s.references || []).some((r) => r.refType === "CHILD_OF")) || roots[0] || spans[0];
  let start = Infinity;
  let end = -Infinity;
  const services = new Map();
  let errors = 0;
  for (const s of spans) {
    start = Math.min(start, s.startTime);
    end = Math.max(end, s.startTime + s.duration);
    const name = processes[s.processID]?.serviceName ?? "?";
    services.set(name, (services.get(name) || 0) + 1);
    if ((s.tags || []).some((t) => t.key === "error" && t.value === true)) errors++;
  }
  return {
    id: trace.traceID,
    rootService: root ? (processes[root.processID]?.serviceName ?? "?") : "?",
    rootName: root ? root.operationName : "(no spans)",
    missingRoot: !root || (root.references || []).some((r) => r.refType === "CHILD_OF"),
    spans: spans.length,
    errors,
    startMs: start / 1000,
    durationNanos: Math.max(0, end - start) * 1000,
    services: [...services.entries()].sort((a, b) => b[1] - a[1]),
  };
}

function resultItem(t, toggle) {
  const box = h("input", { type: "checkbox", "aria-label": `Select trace ${t.id} to compare` });
  box.addEventListener("change", () => toggle(t.id, box.checked));
  return h(
    "li",
    { class: "trace-item", dataset: { traceId: t.id } },
    h(
      "div",
      { class: "trace-item-head" },
      box,
      h(
        "a",
        { href: `/trace/${t.id}`, class: "trace-title" },
        h("span", { class: "svc-chip", style: { background: serviceColour(t.rootService) } }),
        h("strong", { class: "svc-name" }, t.rootService),
        ": ",
        h("span", { class: "op" }, t.rootName),
        t.missingRoot ? h("span", { class: "badge warn", title: "The root span is not in the store" }, "no root") : null,
      ),
      h("span", { class: "duration" }, duration(t.durationNanos)),
    ),
    h(
      "div",
      { class: "trace-item-meta" },
      h("span", null, `${t.spans} span${t.spans === 1 ? "" : "s"}`),
      t.errors ? h("span", { class: "badge error" }, `${t.errors} error${t.errors === 1 ? "" : "s"}`) : null,
      h("span", { title: timestamp(t.startMs) }, `${timestamp(t.startMs)} (${ago(t.startMs)})`),
      h("code", { class: "trace-id" }, t.id),
    ),
    h(
      "div",
      { class: "trace-item-services" },
      t.services.map(([name, n]) => h("span", { class: "svc" }, h("span", { class: "svc-chip", style: { background: serviceColour(name) } }), h("span", { class: "svc-name" }, name), ` (${n})`)),
    ),
  );
}

/** Duration against start time, one dot per trace (red when it has errors); a click opens the trace. */
function scatter(traces) {
  const W = 1000, H = 180, PAD = 34;
  const t0 = Math.min(...traces.map((t) => t.startMs));
  const t1 = Math.max(...traces.map((t) => t.startMs));
  const dMax = Math.max(...traces.map((t) => t.durationNanos), 1);
  const x = (ms) => PAD + (t1 === t0 ? (W - 2 * PAD) / 2 : ((ms - t0) / (t1 - t0)) * (W - 2 * PAD));
  const y = (d) => H - PAD + 10 - (d / dMax) * (H - PAD - 10);
  const svg = h(
    "svg:svg",
    { class: "scatter", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Trace duration against start time" },
    h("svg:line", { x1: PAD, y1: H - PAD + 10, x2: W - PAD, y2: H - PAD + 10, class: "axis" }),
    h("svg:line", { x1: PAD, y1: 10, x2: PAD, y2: H - PAD + 10, class: "axis" }),
    h("svg:text", { x: PAD - 4, y: 18, class: "axis-label", "text-anchor": "end" }, duration(dMax)),
    h("svg:text", { x: PAD - 4, y: H - PAD + 10, class: "axis-label", "text-anchor": "end" }, "0"),
    h("svg:text", { x: PAD, y: H - 6, class: "axis-label" }, timestamp(t0).slice(11, 19)),
    h("svg:text", { x: W - PAD, y: H - 6, class: "axis-label", "text-anchor": "end" }, timestamp(t1).slice(11, 19)),
  );
  for (const t of traces) {
    const dot = h(
      "svg:circle",
      { cx: x(t.startMs).toFixed(1), cy: y(t.durationNanos).toFixed(1), r: 6, class: t.errors ? "dot error" : "dot", tabindex: 0, dataset: { traceId: t.id } },
      h("svg:title", null, `${t.rootService}: ${t.rootName} — ${duration(t.durationNanos)}, ${t.spans} spans`),
    );
    const open = () => navigate(`/trace/${t.id}`);
    dot.addEventListener("click", open);
    dot.addEventListener("keydown", (e) => e.key === "Enter" && open());
    svg.append(dot);
  }
  return h("figure", { class: "scatter-box" }, svg);
}
