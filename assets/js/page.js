// waitless: what the staff pages (the staff console, /admin, /admin/audit) share — `$`, the way
// back to the login page, the link state and offline banner, and the top bar: the language
// links (the server renders them, this keeps the page's address in them) and the logged-in user
// — their name, "Change password" (a dialog over POST /api/v1/me/password) and "Log out".
// Changing the password ends every session of the user, this one too: log in again.

import { t, api, el, errorText } from "./live.js";

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** The login page, coming back here afterwards. */
export function toLogin() {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

/**
 * When the session ended (logged out elsewhere, expired, password changed), goes to the login
 * page and says true; any other error is the caller's to show.
 */
export function loginAgain(error) {
  if (error?.status !== 401 || error?.code !== "login-required") return false;
  toLogin();
  return true;
}

/** The language links keep the page's address: its parameters (room, view, filters) and place. */
export function languageLinks() {
  for (const link of document.querySelectorAll("#languages a[data-lang]")) {
    const params = new URLSearchParams(location.search);
    params.set("lang", link.dataset.lang);
    link.href = `?${params}${location.hash}`;
  }
}

/** The live link in the top bar ("Live" / "Reconnecting…") and, while it is down, the banner. */
export function showLink(connected, offlineText) {
  const banner = $("offline");
  if (banner) {
    banner.textContent = offlineText;
    banner.hidden = connected;
  }
  document.body.classList.toggle("is-offline", !connected);
  const link = $("link-state");
  link.textContent = connected ? t("staff.connected") : t("common.reconnecting");
  link.className = `link-state ${connected ? "is-live" : "is-down"}`;
}

/** The top bar: the language links and the user; resolves to who is logged in (or null). */
export function topBar() {
  languageLinks();
  window.addEventListener("hashchange", languageLinks);
  const link = $("link-state");
  if (link) link.textContent = t("staff.connecting");
  return showUser($("user"));
}

/** Builds the password dialog once; returns it. */
function passwordDialog() {
  const existing = document.getElementById("password-dialog");
  if (existing) return existing;
  const note = el("p", { id: "password-note", class: "note", role: "status" });
  const field = (id, key, autocomplete) => el("label", { class: "field" },
    el("span", { class: "field-label" }, t(key)),
    el("input", { id, type: "password", required: true, autocomplete,
      minlength: autocomplete === "new-password" ? "10" : null }));
  const cancel = el("button", { type: "button", class: "btn btn-quiet", id: "password-cancel" }, t("admin.cancel"));
  const submit = el("button", { type: "submit", class: "btn btn-primary", id: "password-submit" }, t("admin.password_change"));
  const form = el("form", { id: "password-form", class: "stack", novalidate: true },
    el("h2", { class: "dialog-title", id: "password-title" }, t("admin.password_title")),
    field("password-current", "admin.password_current", "current-password"),
    field("password-new", "admin.password_new", "new-password"),
    field("password-repeat", "admin.password_repeat", "new-password"),
    el("p", { class: "hint" }, t("admin.password_hint")),
    note,
    el("div", { class: "form-actions" }, submit, cancel));
  const dialog = el("dialog", { id: "password-dialog", class: "admin-dialog", "aria-labelledby": "password-title" }, form);
  cancel.addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const current = form.querySelector("#password-current").value;
    const fresh = form.querySelector("#password-new").value;
    const repeat = form.querySelector("#password-repeat").value;
    note.className = "note note-error";
    if (!current || !fresh) { note.textContent = t("admin.password_missing"); return; }
    if (fresh !== repeat) { note.textContent = t("admin.password_mismatch"); return; }
    submit.disabled = true;
    note.className = "note";
    note.textContent = t("admin.saving");
    try {
      await api("POST", "/api/v1/me/password", { current, new: fresh });
      note.className = "note note-ok";
      note.textContent = t("admin.password_changed");
      setTimeout(toLogin, 2500);
    } catch (error) {
      submit.disabled = false;
      note.className = "note note-error";
      note.textContent = t("admin.failed", { message: errorText(error) });
    }
  });
  document.body.append(dialog);
  return dialog;
}

/** Fills `box` with the user's name, "Change password" and "Log out"; returns who it is. */
export async function showUser(box) {
  let me;
  try {
    me = await api("GET", "/api/v1/me");
  } catch {
    box.replaceChildren();
    return null;
  }
  const change = el("button", { type: "button", class: "btn btn-quiet user-password", id: "change-password",
    onclick: () => {
      const dialog = passwordDialog();
      dialog.querySelector("form").reset();
      dialog.querySelector("#password-note").textContent = "";
      dialog.querySelector("#password-submit").disabled = false;
      dialog.showModal();
      dialog.querySelector("#password-current").focus();
    }, title: t("admin.password_change"), "aria-label": t("admin.password_change") }, t("admin.password_button"));
  box.replaceChildren(
    el("span", { class: "user-name", id: "user-name" }, me.name),
    me.kind === "user" ? change : null,
    el("button", { type: "button", class: "btn btn-quiet user-logout", id: "logout", onclick: async () => {
      try { await api("POST", "/api/v1/logout"); } catch { /* gone anyway */ }
      location.assign("/login");
    } }, t("login.logout")));
  return me;
}
