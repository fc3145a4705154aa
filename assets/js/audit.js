// waitless audit page: the event log — who did what, when, from which input and address — with
// filters, a page at a time ("load more" follows the API's `next`), each event as a short
// sentence with its JSON on demand, and the same filters as a CSV download. Times are the
// clinic's (its time zone), whatever the browser's.

import { boot, t, api, el, errorText, has } from "./live.js";
import { $, languageLinks, loginAgain, topBar } from "./page.js";
import { formatTime, localToUtc, utcToLocal } from "./zone.js";

const ZONE = boot.settings?.time_zone ?? null;
const PAGE_SIZE = 100;
const SOURCES = ["kiosk", "reception", "staff", "api", "button", "serial", "keypad", "system"];
const KINDS = ["ticket_issued", "room_next", "ticket_recalled", "ticket_done", "ticket_no_show",
  "ticket_cancelled", "ticket_requeued", "ticket_transferred", "next_undone", "room_opened",
  "room_closed", "room_paused", "room_resumed", "service_opened", "service_closed", "clinic_message_set", "service_added",
  "service_updated", "room_added", "room_updated", "clinic_settings_set", "staff_changed",
  "day_closed", "clinic_seeded"];
/** Filter fields: the API's query parameter → its input. */
const FIELDS = { actor: "filter-actor", source: "filter-source", kind: "filter-kind", room: "filter-room", ticket: "filter-ticket" };

const state = {
  services: new Map(),
  rooms: new Map(),
  next: null,
  shown: 0,
  loading: 0,
  params: null,            // the filters of the list shown ("load more" keeps them)
};

function sourceName(source) {
  return has(`audit.source_${source}`) ? t(`audit.source_${source}`) : source;
}

function kindName(kind) {
  return has(`audit.kind_${kind}`) ? t(`audit.kind_${kind}`) : kind;
}

function serviceName(id) {
  return state.services.get(id) ?? id ?? "?";
}

function roomName(id) {
  return state.rooms.get(id) ?? id ?? "?";
}

/** What an event did, as a short sentence. */
function describe(e) {
  const n = (ticket) => ticket?.number ?? "?";
  switch (e.kind) {
    case "clinic_seeded":
      return t("audit.what_clinic_seeded", { services: e.services?.length ?? 0, rooms: e.rooms?.length ?? 0 });
    case "ticket_issued":
      return t("audit.what_ticket_issued", { number: n(e.ticket), service: serviceName(e.ticket?.service) });
    case "room_next":
      if (e.called && e.reason?.rule === "chosen") {
        return t("audit.what_room_called", { room: roomName(e.room), number: n(e.called), note: e.reason.note ?? "" });
      }
      if (e.called && e.finished?.state === "no_show") {
        return t("audit.what_room_no_show_next", { room: roomName(e.room), finished: n(e.finished), number: n(e.called) });
      }
      return e.called
        ? t("audit.what_room_next", { room: roomName(e.room), number: n(e.called) })
        : t("audit.what_room_next_none", { room: roomName(e.room) });
    case "room_paused":
      return t("audit.what_room_paused", { room: roomName(e.room) });
    case "room_resumed":
      return t("audit.what_room_resumed", { room: roomName(e.room) });
    case "ticket_recalled":
      return t("audit.what_ticket_recalled", { room: roomName(e.room), number: n(e.ticket) });
    case "ticket_done":
      return t("audit.what_ticket_done", { room: roomName(e.room), number: n(e.ticket) });
    case "ticket_no_show":
      return t("audit.what_ticket_no_show", { room: roomName(e.room), number: n(e.ticket) });
    case "ticket_cancelled":
      return t("audit.what_ticket_cancelled", { number: n(e.ticket) });
    case "ticket_requeued":
      return t("audit.what_ticket_requeued", { number: n(e.ticket) });
    case "ticket_transferred":
      return t("audit.what_ticket_transferred", { number: n(e.from), service: serviceName(e.to?.service) });
    case "next_undone":
      return t("audit.what_next_undone", { room: roomName(e.room) });
    case "room_opened":
      return t("audit.what_room_opened", { room: roomName(e.room) });
    case "room_closed":
      return t("audit.what_room_closed", { room: roomName(e.room) });
    case "service_opened":
      return t("audit.what_service_opened", { service: serviceName(e.service) });
    case "service_closed":
      return e.reopens_at
        ? t("audit.what_service_closed_until", { service: serviceName(e.service), time: formatTime(e.reopens_at, ZONE, boot.lang, false) })
        : t("audit.what_service_closed", { service: serviceName(e.service) });
    case "clinic_message_set":
      return e.message ? t("audit.what_message_set", { message: e.message }) : t("audit.what_message_cleared");
    case "service_added":
      return t("audit.what_service_added", { service: e.service?.name ?? "?", prefix: e.service?.prefix ?? "?" });
    case "service_updated":
      return t("audit.what_service_updated", { service: e.service?.name ?? "?" });
    case "room_added":
      return t("audit.what_room_added", { room: e.room?.name ?? "?" });
    case "room_updated":
      return t("audit.what_room_updated", { room: e.name ?? roomName(e.room) });
    case "clinic_settings_set":
      return t("audit.what_clinic_settings_set", { name: e.clinic?.name ?? "" });
    case "staff_changed":
      return describeStaff(e.change ?? {});
    case "day_closed":
      return t("audit.what_day_closed", { day: e.day ?? "?", n: e.closed?.length ?? 0 });
    default:
      return kindName(e.kind);
  }
}

function describeStaff(c) {
  const roles = (c.roles ?? []).map((r) => (has(`admin.role_${r}`) ? t(`admin.role_${r}`) : r)).join(", ") || "—";
  const rooms = (c.rooms ?? []).map(roomName).join(", ") || "—";
  switch (c.what) {
    case "user_added": return t("audit.what_user_added", { user: c.user, roles });
    case "password_set": return t("audit.what_password_set", { user: c.user });
    case "user_disabled":
      return c.disabled ? t("audit.what_user_disabled", { user: c.user }) : t("audit.what_user_enabled", { user: c.user });
    case "roles_set": return t("audit.what_roles_set", { user: c.user, roles });
    case "rooms_set": return t("audit.what_rooms_set", { user: c.user, rooms });
    case "token_created": return t("audit.what_token_created", { token: c.token, role: has(`admin.role_${c.role}`) ? t(`admin.role_${c.role}`) : c.role });
    case "token_revoked": return t("audit.what_token_revoked", { token: c.token });
    case "screen_paired": return t("audit.what_screen_paired", { screen: c.screen, kind: c.screen_kind });
    case "screen_revoked": return t("audit.what_screen_revoked", { screen: c.screen });
    default: return kindName("staff_changed");
  }
}

// ---------- filters ----------

/** The filters as API query parameters (times in UTC). */
function filterParams() {
  const params = new URLSearchParams();
  const from = localToUtc($("filter-from").value, ZONE);
  const to = localToUtc($("filter-to").value, ZONE);
  if (from) params.set("from", from);
  if (to) params.set("to", to);
  for (const [name, id] of Object.entries(FIELDS)) {
    const value = $(id).value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

/** Fills the filters from the page's address (a shared link), else from the start of today. */
function filtersFromAddress() {
  const query = new URLSearchParams(location.search);
  const anything = [...query.keys()].some((k) => k === "from" || k === "to" || k in FIELDS);
  for (const [name, id] of [["from", "filter-from"], ["to", "filter-to"]]) {
    const ms = Date.parse(query.get(name) ?? "");
    $(id).value = Number.isFinite(ms) ? utcToLocal(ms, ZONE) : "";
  }
  if (!anything) $("filter-from").value = `${utcToLocal(Date.now(), ZONE).slice(0, 10)}T00:00`;
  for (const [name, id] of Object.entries(FIELDS)) {
    const value = query.get(name) ?? "";
    const input = $(id);
    if (input.tagName === "SELECT" && value && ![...input.options].some((o) => o.value === value)) {
      input.append(el("option", { value }, value));
    }
    input.value = value;
  }
}

function setAddress(params) {
  const keep = new URLSearchParams(params);
  const lang = new URLSearchParams(location.search).get("lang");
  if (lang) keep.set("lang", lang);
  const query = keep.toString();
  history.replaceState(null, "", location.pathname + (query ? `?${query}` : ""));
  languageLinks();
}

function fillSelects() {
  $("filter-source").replaceChildren(el("option", { value: "" }, t("audit.any")),
    ...SOURCES.map((s) => el("option", { value: s }, sourceName(s))));
  $("filter-kind").replaceChildren(el("option", { value: "" }, t("audit.any")),
    ...KINDS.map((k) => el("option", { value: k }, kindName(k))));
  $("filter-room").replaceChildren(el("option", { value: "" }, t("audit.any")),
    ...[...state.rooms].map(([id, name]) => el("option", { value: id }, name)));
}

// ---------- the list ----------

function row(e) {
  const who = e.actor ?? "";
  return el("tr", { dataset: { seq: e.seq, kind: e.kind } },
    el("td", { class: "cell-seq" }, String(e.seq)),
    el("td", { class: "cell-time" }, el("time", { datetime: e.at }, formatTime(e.at, ZONE, boot.lang))),
    el("td", { class: "cell-who" }, who),
    el("td", {}, el("span", { class: "source-tag" }, sourceName(e.source))),
    el("td", { class: "cell-where" }, e.address ?? "—"),
    el("td", { class: "cell-what" }, describe(e)),
    el("td", {}, el("details", {},
      el("summary", {}, t("audit.json")),
      el("pre", { class: "audit-json" }, JSON.stringify(e, null, 2)))));
}

async function fetchPage(params, since) {
  const query = new URLSearchParams(params);
  query.set("limit", String(PAGE_SIZE));
  if (since !== null) query.set("since", String(since));
  return api("GET", `/api/v1/audit?${query}`);
}

/** Shows the first page for the filters (fresh = true) or the next one. */
async function show(fresh) {
  if (fresh || !state.params) state.params = filterParams();
  const params = state.params;
  const mine = ++state.loading;
  const note = $("audit-note");
  note.className = "note note-busy";
  note.textContent = t("audit.loading");
  $("load-more").disabled = true;
  if (fresh) {
    setAddress(params);
    const csv = new URLSearchParams(params);
    csv.set("format", "csv");
    csv.set("limit", "5000");
    $("export-csv").href = `/api/v1/audit?${csv}`;
  }
  try {
    const page = await fetchPage(params, fresh ? null : state.next);
    if (mine !== state.loading) return;
    const body = $("audit-body");
    if (fresh) { body.replaceChildren(); state.shown = 0; }
    body.append(...page.events.map(row));
    state.shown += page.events.length;
    state.next = page.next ?? null;
    if (fresh && !page.events.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: "7", class: "muted" }, t("audit.none"))));
    }
    $("audit-count").textContent = t("audit.shown", { n: state.shown });
    $("load-more").hidden = state.next === null;
    $("load-more").disabled = false;
    $("audit-end").hidden = state.next !== null || state.shown === 0;
    note.textContent = "";
    note.className = "note";
  } catch (error) {
    if (mine !== state.loading) return;
    if (loginAgain(error)) return;
    note.className = "note note-error";
    note.textContent = t("admin.failed", { message: errorText(error) });
    $("load-more").disabled = false;
  }
}

async function loadNames() {
  try {
    const [services, rooms] = await Promise.all([api("GET", "/api/v1/services"), api("GET", "/api/v1/rooms")]);
    for (const s of services) state.services.set(s.id, s.names?.[boot.lang] ?? s.name);
    for (const r of rooms) state.rooms.set(r.id, r.names?.[boot.lang] ?? r.name);
  } catch { /* the list still shows ids */ }
  try {
    const [users, tokens] = await Promise.all([api("GET", "/api/v1/admin/users"), api("GET", "/api/v1/admin/tokens")]);
    $("actors").replaceChildren(
      ...users.map((u) => el("option", { value: `user:${u.name}` })),
      ...tokens.map((tk) => el("option", { value: `token:${tk.name}` })),
      el("option", { value: "anonymous" }));
  } catch { /* no suggestions */ }
}

async function start() {
  topBar();
  $("zone-hint").textContent = ZONE ? t("audit.zone", { zone: ZONE }) : t("audit.zone_browser");
  await loadNames();
  fillSelects();
  filtersFromAddress();
  $("audit-filters").addEventListener("submit", (e) => { e.preventDefault(); show(true); });
  $("filter-reset").addEventListener("click", () => {
    for (const id of ["filter-to", ...Object.values(FIELDS)]) $(id).value = "";
    $("filter-from").value = `${utcToLocal(Date.now(), ZONE).slice(0, 10)}T00:00`;
    show(true);
  });
  $("load-more").addEventListener("click", () => show(false));
  for (const id of ["filter-source", "filter-kind", "filter-room"]) $(id).addEventListener("change", () => show(true));
  await show(true);
}

start();
