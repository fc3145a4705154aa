// waitless: the start page — big links to the kiosk, the display, the staff console of each
// room, /admin for a logged-in admin, the reports for an admin or a manager, and the API's
// description. The server renders only the links its visitor may open (a manager: the reports
// and their account — name, "Change password", "Log out").

import { boot, t, el, localName } from "./live.js";
import { showUser } from "./page.js";

function withLang(path) {
  // Keep a chosen language when following a link (?lang=hi).
  const lang = new URLSearchParams(location.search).get("lang");
  if (!lang) return path;
  return path + (path.includes("?") ? "&" : "?") + "lang=" + encodeURIComponent(lang);
}

function start() {
  for (const id of ["link-kiosk", "link-display", "link-staff", "link-printer", "link-reports", "link-admin"]) {
    const link = document.getElementById(id);
    if (link) link.href = withLang(link.getAttribute("href"));
  }
  const user = document.getElementById("user");
  if (user) showUser(user);

  const rooms = boot.settings?.rooms ?? [];
  const list = document.getElementById("rooms");
  if (!list) {
    // Not one to work the queue: no room consoles.
  } else if (!rooms.length) {
    list.replaceChildren(el("li", { class: "muted" }, t("index.no_rooms")));
  } else {
    list.replaceChildren(...rooms.map((room) =>
      el("li", { class: "room-tile", dataset: { room: room.id } },
        el("a", { class: "room-main", href: withLang(`/staff?room=${encodeURIComponent(room.id)}`) },
          el("span", { class: "room-name" }, localName(room)),
          el("span", { class: "room-hint" }, t("index.room_hint"))),
        el("a", { class: "room-display", href: withLang(`/display?rooms=${encodeURIComponent(room.id)}`) },
          t("index.room_display")))));
  }

  const langs = document.getElementById("languages");
  if ((boot.languages ?? []).length > 1) {
    langs.setAttribute("aria-label", t("index.language"));
    for (const lang of boot.languages) {
      const current = lang.code === boot.lang;
      langs.append(el("a", { href: `?lang=${encodeURIComponent(lang.code)}`, lang: lang.code,
        class: current ? "is-current" : null, "aria-current": current ? "true" : null }, lang.name));
    }
  }
}

start();
