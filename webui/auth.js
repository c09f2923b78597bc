// Signing in to a query API that has an authenticator (`basicauth` or `bearertokenauth`): the page's files are
// open, the data is not. When the API answers 401, a dialog asks for what its challenge names (a user and password,
// or a token); the Authorization value is kept in this tab's sessionStorage (gone when the tab closes) and sent with
// every API request.
import { h } from "./dom.js";

const KEY = "otelsink.authorization";
let pending = null;

/** The Authorization value to send, or null. */
export function authorization() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

/** Asks for credentials for `challenge` (a WWW-Authenticate value); resolves once given, rejects when cancelled. */
export function askCredentials(challenge, rejected) {
  pending ??= new Promise((resolve, reject) => {
    const bearer = /^\s*bearer\b/i.test(challenge);
    const fields = bearer
      ? [h("label", { class: "field" }, h("span", null, "Token"), h("input", { name: "token", type: "password", required: true, autocomplete: "off" }))]
      : [
          h("label", { class: "field" }, h("span", null, "User"), h("input", { name: "user", required: true, autocomplete: "username" })),
          h("label", { class: "field" }, h("span", null, "Password"), h("input", { name: "password", type: "password", required: true, autocomplete: "current-password" })),
        ];
    const cancel = h("button", { type: "button" }, "Cancel");
    const form = h(
      "form",
      { method: "dialog", class: "sign-in" },
      h("h2", null, "Sign in to otelsink"),
      h("p", { class: "muted" }, rejected ? "Those credentials were refused. " : "", bearer ? "This query API asks for a bearer token." : "This query API asks for a user and password."),
      ...fields,
      h("div", { class: "sign-in-actions" }, cancel, h("button", { type: "submit", class: "primary" }, "Sign in")),
    );
    const dialog = h("dialog", { class: "sign-in-dialog" }, form);
    const finish = (ok) => {
      dialog.close();
      dialog.remove();
      pending = null;
      if (ok) resolve();
      else reject(new Error("sign-in cancelled"));
    };
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const value = bearer ? `Bearer ${form.elements.token.value}` : `Basic ${base64(`${form.elements.user.value}:${form.elements.password.value}`)}`;
      try {
        sessionStorage.setItem(KEY, value);
      } catch {
        // storage refused (a private window): the value is lost, the next request asks again
      }
      finish(true);
    });
    cancel.addEventListener("click", () => finish(false));
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      finish(false);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
  return pending;
}

function base64(text) {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
