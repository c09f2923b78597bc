// The compare page: two traces through the same diff as `otelsink diff` (/api/v3/traces/{a}/diff/{b}): the spans
// whose time, status or attributes changed, merged in one list with A's and B's bars side by side, then the spans
// found in only one of the two.
import { duration, getJSON, h, hexID, notice, replace, serviceColour } from "./dom.js";
import { navigate } from "./nav.js";

/** Draws the comparison of `a` and `b` (trace IDs from the URL), or the form to choose them. */
export function comparePage(app, params) {
  document.title = "Compare · otelsink";
  const aborter = new AbortController();
  const aText = params.get("a") || "";
  const bText = params.get("b") || "";
  const input = (name, value, label) => h("label", { class: "field" }, h("span", null, label), h("input", { name, value, placeholder: "trace ID", spellcheck: "false", size: 34 }));
  const form = h("form", { class: "compare-form", autocomplete: "off" }, input("a", aText, "Trace A"), input("b", bText, "Trace B"), h("button", { type: "submit", class: "primary" }, "Compare"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    navigate(`/compare?${new URLSearchParams({ a: form.elements.a.value.trim(), b: form.elements.b.value.trim() })}`);
  });
  const out = h("section", { class: "compare-result", "aria-label": "Differences" });
  replace(app, h("div", { class: "compare-page" }, h("h1", null, "Compare two traces"), form, out));
  if (!aText && !bText) {
    replace(out, notice("info", "Enter two trace IDs, or tick two traces in a search's results."));
    return { leave: () => aborter.abort() };
  }
  const a = hexID(aText);
  const b = hexID(bText);
  if (!a || !b) {
    replace(out, notice("error", `Not a trace ID: ${!a ? aText || "(empty)" : bText || "(empty)"}. A trace ID is up to 32 hex digits.`));
    return { leave: () => aborter.abort() };
  }
  replace(out, h("p", { class: "muted loading" }, "Comparing…"));
  (async () => {
    try {
      const { body } = await getJSON(`/api/v3/traces/${a}/diff/${b}`, { signal: aborter.signal });
      drawDiff(out, body.result);
    } catch (e) {
      if (e.name !== "AbortError") replace(out, notice("error", e.message));
    }
  })();
  return { leave: () => aborter.abort() };
}

/** `STATUS_CODE_ERROR` as `error`. */
function statusName(code) {
  return String(code ?? "").replace(/^STATUS_CODE_/, "").toLowerCase();
}

function drawDiff(out, d) {
  const delta = d.b.durationNanos - d.a.durationNanos;
  const max = Math.max(1, d.a.durationNanos, d.b.durationNanos, ...d.changed.flatMap((c) => [c.a.durationNanos, c.b.durationNanos]));
  const pathText = (path) =>
    path.map((step, i) => [
      i ? h("span", { class: "muted" }, " › ") : null,
      h("span", { class: "svc-chip", style: { background: serviceColour(step.service) } }),
      h("span", { class: "svc-name" }, step.service),
      ": ",
      step.operation,
      step.index ? h("span", { class: "muted" }, ` #${step.index + 1}`) : null,
    ]);
  const bars = (side, label) =>
    h(
      "div",
      { class: "cmp-bar-row" },
      h("span", { class: "cmp-side" }, label),
      h("span", { class: "cmp-track" }, h("span", { class: `cmp-bar side-${label.toLowerCase()}`, style: { width: `${(side.durationNanos / max) * 100}%` } })),
      h("span", { class: "cmp-dur" }, duration(side.durationNanos)),
      statusName(side.statusCode) === "error" ? h("span", { class: "badge error" }, "error") : null,
    );
  const signed = (n) => `${n >= 0 ? "+" : "−"}${duration(Math.abs(n))}`;
  const changed = d.changed.map((c) =>
    h(
      "li",
      { class: "cmp-item" },
      h("div", { class: "cmp-path" }, pathText(c.path)),
      bars(c.a, "A"),
      bars(c.b, "B"),
      h("div", { class: c.deltaNanos > 0 ? "delta slower" : "delta faster" }, signed(c.deltaNanos)),
      c.a.statusCode !== c.b.statusCode ? h("div", { class: "cmp-status" }, "status ", statusName(c.a.statusCode), " → ", statusName(c.b.statusCode)) : null,
      c.attributes.length
        ? h(
            "table",
            { class: "attrs" },
            h("thead", null, h("tr", null, h("th", null, "attribute"), h("th", null, "A"), h("th", null, "B"))),
            h(
              "tbody",
              null,
              c.attributes.map((x) => h("tr", null, h("th", { scope: "row" }, x.key), h("td", null, x.a ?? h("span", { class: "muted" }, "absent")), h("td", null, x.b ?? h("span", { class: "muted" }, "absent")))),
            ),
          )
        : null,
    ),
  );
  const only = (list, which, id) =>
    h(
      "section",
      { class: "cmp-only" },
      h("h2", null, `Only in ${which} (${list.length})`),
      list.length
        ? h(
            "ul",
            null,
            list.map((o) => h("li", null, h("div", { class: "cmp-path" }, pathText(o.path)), h("a", { href: `/trace/${id}?span=${hexID(o.span.spanId, 16) || ""}` }, duration(o.span.durationNanos)))),
          )
        : h("p", { class: "muted" }, "none"),
    );
  replace(
    out,
    h(
      "div",
      { class: "cmp-head" },
      h("div", null, "A ", h("a", { href: `/trace/${hexID(d.a.traceId)}` }, h("code", null, d.a.traceId)), " ", duration(d.a.durationNanos)),
      h("div", null, "B ", h("a", { href: `/trace/${hexID(d.b.traceId)}` }, h("code", null, d.b.traceId)), " ", duration(d.b.durationNanos), " ", h("span", { class: delta > 0 ? "delta slower" : "delta faster" }, `(${signed(delta)})`)),
    ),
    h("h2", null, `Changed (${d.changed.length})`),
    changed.length ? h("ol", { class: "cmp-list" }, changed) : h("p", { class: "muted" }, "No span changed in time, status or attributes."),
    h("div", { class: "cmp-columns" }, only(d.onlyInA, "A", hexID(d.a.traceId)), only(d.onlyInB, "B", hexID(d.b.traceId))),
  );
}
