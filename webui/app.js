// The web UI's entry: reads the path, draws that page into <main id="app">, and keeps links inside the page
// (history.pushState) so moving between pages does not reload the scripts.
import { hexID, notice, replace } from "./dom.js";
import { navigate } from "./nav.js";
import { searchPage } from "./search.js";
import { tracePage } from "./trace.js";
import { comparePage } from "./compare.js";
import { mapPage } from "./map.js";

const app = document.getElementById("app");
let current = null; // the page drawn now: {leave()} when it has something to stop

function route() {
  current?.leave?.();
  current = null;
  const url = new URL(location.href);
  const parts = url.pathname.split("/").filter(Boolean);
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.nav === (parts[0] || "search"));
  }
  window.scrollTo(0, 0);
  if (parts.length === 0 || parts[0] === "search") {
    current = searchPage(app, url.searchParams);
  } else if (parts[0] === "trace" && parts.length === 2) {
    current = tracePage(app, decodeURIComponent(parts[1]), url.searchParams);
  } else if (parts[0] === "compare") {
    current = comparePage(app, url.searchParams);
  } else if (parts[0] === "map") {
    current = mapPage(app, url.searchParams);
  } else {
    document.title = "otelsink";
    replace(app, notice("error", "No such page: ", url.pathname));
  }
}

// Links inside the UI (same origin, marked or under a page path) open without a reload.
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest?.("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.getAttribute("href"), location.href); // (an SVG link's href is not a string)
  if (url.origin !== location.origin || !/^\/(search|trace\/|compare|map|$)/.test(url.pathname)) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

document.getElementById("goto").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = event.target.elements.id;
  const id = hexID(input.value);
  if (!id) {
    input.setCustomValidity("A trace ID is up to 32 hex digits");
    input.reportValidity();
    return;
  }
  input.setCustomValidity("");
  input.value = "";
  navigate(`/trace/${id}`);
});
document.getElementById("goto").elements.id.addEventListener("input", (e) => e.target.setCustomValidity(""));

window.addEventListener("popstate", route);
window.addEventListener("otelsink:navigate", route);
route();
