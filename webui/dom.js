// Building pages safely, formatting, and talking to the API. Every piece of text from a trace goes into the page
// as a text node or an attribute value set through the DOM: never as HTML.

import { askCredentials, authorization } from "./auth.js";

const SVG_NS = "http://www.w3.org/2000/svg";

/** An element: `h("div", {class: "x", onclick: f}, "text", child)`; `svg:` names make SVG elements. */
export function h(tag, attrs, ...children) {
  const el = tag.startsWith("svg:") ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "style") Object.assign(el.style, v); // CSSOM: allowed by the Content-Security-Policy
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

/** Appends children: nodes as they are, anything else as text. */
export function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces the contents of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A trace or span ID as the API writes it (lower-case hex), or null: only such IDs go into links. */
export function hexID(text, maxDigits = 32) {
  const t = String(text ?? "").trim().toLowerCase();
  return /^[0-9a-f]+$/.test(t) && t.length <= maxDigits && /[1-9a-f]/.test(t) ? t : null;
}

/** A duration in nanoseconds as `otelsink trace` prints it: 850ns, 12.3µs, 4.56ms, 1.2s, 2m3.5s. */
export function duration(nanos) {
  const n = Math.max(0, Number(nanos));
  if (n < 1000) return `${Math.round(n)}ns`;
  for (const [unit, scale] of [["µs", 1e3], ["ms", 1e6], ["s", 1e9]]) {
    const v = n / scale;
    if (unit === "s" ? n < 59.95e9 : v < 999.5) return significant(v) + unit;
  }
  const tenths = Math.round(n / 1e8);
  if (tenths < 36000) {
    const rest = tenths % 600;
    return `${Math.floor(tenths / 600)}m${Math.floor(rest / 10)}${rest % 10 ? "." + (rest % 10) : ""}s`;
  }
  const s = Math.floor(n / 1e9);
  return `${Math.floor(s / 3600)}h${Math.floor(s / 60) % 60}m${s % 60}s`;
}

function significant(v) {
  const t = v < 9.995 ? v.toFixed(2) : v < 99.95 ? v.toFixed(1) : v.toFixed(0);
  return t.includes(".") ? t.replace(/0+$/, "").replace(/\.$/, "") : t;
}

/** Milliseconds since the epoch as local `YYYY-MM-DD HH:MM:SS.mmm`. */
export function timestamp(ms) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return "?";
  const p = (x, n = 2) => String(x).padStart(n, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** How long ago, roughly: "12s ago", "5m ago", "3h ago", "2d ago". */
export function ago(ms) {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** A stable colour for a service name (the same name gets the same hue everywhere). */
export function serviceColour(name) {
  let hash = 2166136261;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return `hsl(${(hash >>> 0) % 360} 62% 52%)`;
}

/** A problem the API answered (status and its message) or a network failure. */
export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GETs `path` from the API and parses the JSON; throws ``APIError`` with the API's own message. When the API
 * asks for credentials (401), asks the person for them and tries again. */
export async function getJSON(path, { signal } = {}) {
  let response;
  for (let attempt = 0; ; attempt++) {
    // X-Requested-With: a refusal then names its scheme in Otelsink-Authenticate, not WWW-Authenticate, so the
    // browser does not open its own login box (the page asks instead).
    const headers = { Accept: "application/json", "X-Requested-With": "XMLHttpRequest" };
    const credentials = authorization();
    if (credentials) headers.Authorization = credentials;
    try {
      response = await fetch(path, { headers, signal, credentials: "same-origin" });
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new APIError(0, `cannot reach otelsink: ${e.message}`);
    }
    if (response.status !== 401 || attempt >= 3) break;
    try {
      await askCredentials(response.headers.get("Otelsink-Authenticate") || response.headers.get("WWW-Authenticate") || "", credentials !== null);
    } catch {
      break;
    }
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new APIError(response.status, `unreadable answer from ${path} (HTTP ${response.status})`);
  }
  if (!response.ok) {
    const message = body?.error?.message ?? body?.errors?.[0]?.msg ?? `HTTP ${response.status}`;
    throw new APIError(response.status, message);
  }
  return { body, headers: response.headers };
}

/** A notice box: `kind` is "error", "warning" or "info". */
export function notice(kind, ...text) {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...text);
}

/** A button that copies `text` to the clipboard and says so. */
export function copyButton(text, label = "copy") {
  const button = h("button", { type: "button", class: "copy", title: "Copy to the clipboard" }, label);
  button.addEventListener("click", async (event) => {
    event.stopPropagation();
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "copied";
    } catch {
      button.textContent = "copy failed";
    }
    setTimeout(() => (button.textContent = label), 1200);
  });
  return button;
}

/** An OTLP AnyValue as `{type, text}`: the type name a person reads and the value as text. */
export function anyValue(v) {
  if (v == null) return { type: "empty", text: "" };
  if ("stringValue" in v) return { type: "string", text: v.stringValue };
  if ("intValue" in v) return { type: "int", text: String(v.intValue) };
  if ("doubleValue" in v) return { type: "double", text: String(v.doubleValue) };
  if ("boolValue" in v) return { type: "bool", text: String(v.boolValue) };
  if ("bytesValue" in v) return { type: "bytes", text: v.bytesValue };
  if ("arrayValue" in v) return { type: "array", text: JSON.stringify((v.arrayValue.values || []).map(plain)) };
  if ("kvlistValue" in v) return { type: "map", text: JSON.stringify(plainMap(v.kvlistValue.values)) };
  return { type: "empty", text: "" };
}

function plain(v) {
  if (v == null) return null;
  if ("stringValue" in v) return v.stringValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("boolValue" in v) return v.boolValue;
  if ("bytesValue" in v) return v.bytesValue;
  if ("arrayValue" in v) return (v.arrayValue.values || []).map(plain);
  if ("kvlistValue" in v) return plainMap(v.kvlistValue.values);
  return null;
}

function plainMap(list) {
  const out = {};
  for (const kv of list || []) out[kv.key] = plain(kv.value);
  return out;
}

/** The string value of attribute `key` in an OTLP attribute list, or undefined. */
export function attribute(list, key) {
  const kv = (list || []).find((a) => a.key === key);
  return kv ? anyValue(kv.value).text : undefined;
}

/** A table of OTLP attributes, each value with its type. */
export function attributeTable(list, emptyText = "none") {
  if (!list || list.length === 0) return h("p", { class: "muted" }, emptyText);
  return h(
    "table",
    { class: "attrs" },
    h(
      "tbody",
      null,
      list.map((kv) => {
        const v = anyValue(kv.value);
        return h("tr", null, h("th", { scope: "row" }, kv.key), h("td", null, h("span", { class: `type t-${v.type}` }, v.type), " ", h("span", { class: "value" }, v.text)));
      }),
    ),
  );
}

/** Marks `name` in the performance timeline once the browser has painted what was just drawn (bench/webui_latency.py
 * reads the marks). */
export function markPainted(name) {
  requestAnimationFrame(() => requestAnimationFrame(() => performance.mark(name)));
}
