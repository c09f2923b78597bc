// Moving between the UI's pages without a reload: app.js listens for the event and draws the new path.

/** Opens a path of the UI: a new history entry, or the current one replaced when `replace` is set. */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new Event("otelsink:navigate"));
}
