// waitless admin page: the clinic's set-up, edited live through the admin API — clinic name and
// kiosk settings, the displays' message, services, rooms (with their doctors), staff users and
// API tokens. Every change is one API call whose answer (or error message) shows next to the
// control; then the page reads everything again. Changes made elsewhere (another admin, the
// staff console) arrive as events on the live stream and refresh the page too. Access control
// is the server's: the page only shows what the API answers.

import { boot, t, api, el, errorText, Live } from "./live.js";
import { $, loginAgain, showLink, topBar } from "./page.js";
import { formatTime, localToUtc } from "./zone.js";

const ZONE = boot.settings?.time_zone ?? null;
const ROLES = boot.settings?.roles ?? ["admin", "reception", "doctor"];
/** Events that cannot change what this page shows (tickets moving through the queue). */
const QUEUE_ONLY = new Set(["ticket_issued", "room_next", "ticket_recalled", "ticket_done",
  "ticket_no_show", "ticket_cancelled", "ticket_requeued", "ticket_transferred", "next_undone"]);

const state = {
  data: null,              // GET /api/v1/admin/clinic
  users: [],               // GET /api/v1/admin/users
  tokens: [],              // GET /api/v1/admin/tokens
  screens: null,           // GET /api/v1/admin/screens
  plans: [],               // GET /api/v1/plans
  me: null,
  editing: { service: null, room: null },
  notes: new Map(),        // note key → {kind, text}
  dirty: new Set(),        // forms changed by hand and not saved yet: "clinic", "message"
  loads: 0,
  loadTimer: null,
  online: null,
};

// ---------- small helpers ----------

function languageName(code) {
  return (boot.languages ?? []).find((l) => l.code === code)?.name ?? code;
}

/** Languages that get a translated name: every configured one but the first (the plain name's). */
function extraLanguages() {
  const codes = state.data?.languages ?? [];
  return codes.slice(1);
}

function yesNo(value) {
  return value ? t("admin.yes") : t("admin.no");
}

function perMinute(n) {
  return n === 0 ? t("admin.no_limit") : t("admin.per_minute", { n });
}

function roleName(role) {
  return t(`admin.role_${role}`);
}

/** "General OPD" → "general-opd": an id from a name, for the add forms. */
function slug(name) {
  return name.normalize("NFKD").toLowerCase().replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "").slice(0, 32).replace(/-+$/, "");
}

function doctors() {
  return state.users.filter((u) => u.roles.includes("doctor") && !u.disabled).map((u) => u.name);
}

function serviceLabel(id) {
  const s = state.data?.services.find((x) => x.id === id);
  return s ? `${s.prefix} · ${s.name}` : id;
}

function roomLabel(id) {
  return state.data?.rooms.find((r) => r.id === id)?.name ?? id;
}

// ---------- notes: the answer next to each control ----------

function note(key, kind, text) {
  const entry = { kind, text };
  state.notes.set(key, entry);
  paintNotes();
  if (kind === "ok") {
    setTimeout(() => {
      if (state.notes.get(key) === entry) { state.notes.delete(key); paintNotes(); }
    }, 8000);
  }
}

function paintNotes() {
  for (const node of document.querySelectorAll("[data-note]")) {
    const entry = state.notes.get(node.dataset.note);
    node.textContent = entry?.text ?? "";
    node.className = entry ? `note note-${entry.kind}` : "note";
  }
}

function noteSpan(key) {
  return el("span", { class: "note", role: "status", "data-note": key });
}

/**
 * Runs one change: "saving…" next to the control, then the API's answer there — done, or its
 * error message — and a fresh read of everything. Resolves to {ok, answer}.
 */
async function act(key, call, { ok = t("admin.saved"), onOk = null } = {}) {
  note(key, "busy", t("admin.saving"));
  try {
    const answer = await call();
    onOk?.(answer);
    note(key, "ok", typeof ok === "function" ? ok(answer) : ok);
    await load();
    return { ok: true, answer };
  } catch (error) {
    if (loginAgain(error)) return { ok: false };
    note(key, "error", t("admin.failed", { message: errorText(error) }));
    await load();
    return { ok: false, error };
  }
}

// ---------- loading ----------

async function load() {
  const mine = ++state.loads;
  try {
    const [data, users, tokens, screens, plans] = await Promise.all([
      api("GET", "/api/v1/admin/clinic"),
      api("GET", "/api/v1/admin/users"),
      api("GET", "/api/v1/admin/tokens"),
      api("GET", "/api/v1/admin/screens"),
      api("GET", "/api/v1/plans"),
    ]);
    if (mine !== state.loads) return;   // a later read is on its way
    state.data = data;
    state.users = users;
    state.tokens = tokens;
    state.screens = screens;
    state.plans = plans;
    $("load-error").hidden = true;
    render();
  } catch (error) {
    if (mine !== state.loads) return;
    if (loginAgain(error)) return;
    $("load-error").textContent = t("admin.load_failed", { message: errorText(error) });
    $("load-error").hidden = false;
  }
}

function loadSoon(delayMs = 200) {
  clearTimeout(state.loadTimer);
  state.loadTimer = setTimeout(load, delayMs);
}

/** Draws everything; a control that had the focus gets it back if a redraw took it away. */
function render() {
  if (!state.data) return;
  const focused = document.activeElement?.dataset?.key ?? null;
  renderClinic();
  renderMessage();
  renderServices();
  renderRooms();
  renderUsers();
  renderTokens();
  renderPlans();
  renderScreens();
  renderAddForms();
  paintNotes();
  document.body.classList.add("is-loaded");
  const active = document.activeElement;
  if (focused && (!active || active === document.body || !active.isConnected)) {
    document.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
  }
}

// ---------- clinic and kiosk ----------

function setDefaulted(inputId, checkId, value, fallback) {
  const isDefault = value === null || value === undefined;
  $(checkId).checked = isDefault;
  $(inputId).disabled = isDefault;
  $(inputId).value = String(isDefault ? fallback : value);
}

/** What the check of the audit trail after start found, in one line. */
function renderAudit(audit) {
  const line = $("audit-state");
  const key = { checking: "audit_checking", intact: "audit_intact", broken: "audit_broken", unreadable: "audit_unreadable" }[audit?.state];
  line.hidden = !key;
  if (!key) return;
  line.classList.toggle("note-error", audit.state === "broken" || audit.state === "unreadable");
  line.textContent = t(`admin.${key}`, audit);
}

/** The last nightly backup ([backup] in the configuration), in one line. */
function renderBackup(backup) {
  const line = $("backup-state");
  line.hidden = !backup;
  if (!backup) return;
  const failed = backup.result !== "ok";
  line.classList.toggle("note-error", failed);
  const mb = (backup.bytes / 1e6).toFixed(1);
  line.textContent = t(failed ? "admin.backup_failed" : "admin.backup_ok", { ...backup, mb });
}

/** Shipping to the central database ([central] in the configuration), in one line. */
function onDevice(device) {
  if (device?.id !== "central" || !device.central) return;
  const c = device.central;
  const line = $("central-state");
  line.hidden = false;
  line.classList.toggle("note-error", device.health === "error");
  const key = device.condition === "connecting" ? "central_connecting"
    : !c.connected ? "central_offline"
      : c.lag_events > 0 ? "central_behind" : "central_ok";
  line.textContent = t(`admin.${key}`, {
    site: c.site, target: c.target, events: c.lag_events, secs: c.lag_secs,
    error: c.last_error ?? device.detail ?? "",
  });
}

function renderClinic() {
  const { clinic, kiosk, kiosk_defaults: defaults, audit, backup } = state.data;
  renderAudit(audit);
  renderBackup(backup);
  $("brand-clinic").textContent = clinic.name;
  document.title = `${t("admin.title")} · ${clinic.name}`;
  const select = $("kiosk-priority");
  const kept = select.value;
  select.replaceChildren(
    el("option", { value: "" }, t("admin.default_is", { value: yesNo(defaults.priority) })),
    el("option", { value: "true" }, t("admin.kiosk_priority_ask")),
    el("option", { value: "false" }, t("admin.kiosk_priority_skip")));
  $("kiosk-reset-default-label").textContent =
    t("admin.default_is", { value: t("admin.seconds", { n: defaults.reset_secs }) });
  $("kiosk-tpm-default-label").textContent =
    t("admin.default_is", { value: perMinute(defaults.tickets_per_minute) });
  $("kiosk-effective").textContent = t("admin.kiosk_in_force", {
    priority: yesNo(kiosk.priority),
    reset: t("admin.seconds", { n: kiosk.reset_secs }),
    limit: perMinute(kiosk.tickets_per_minute),
  });
  if (state.dirty.has("clinic")) {
    select.value = kept;
  } else {
    $("clinic-name").value = clinic.name;
    const p = clinic.kiosk?.priority;
    select.value = p === null || p === undefined ? "" : String(p);
    setDefaulted("kiosk-reset-secs", "kiosk-reset-default", clinic.kiosk?.reset_secs, defaults.reset_secs);
    setDefaulted("kiosk-tickets-per-minute", "kiosk-tpm-default", clinic.kiosk?.tickets_per_minute,
      defaults.tickets_per_minute);
  }
  $("pairing-required").checked = !!clinic.pairing_required;
}

/** A whole number within [low, high] from an input, or null. */
function wholeNumber(input, low, high) {
  const n = Number(input.value);
  return input.value.trim() !== "" && Number.isInteger(n) && n >= low && n <= high ? n : null;
}

function saveClinic(event) {
  event.preventDefault();
  const name = $("clinic-name").value.trim();
  if (!name) { note("clinic", "error", t("admin.name_missing")); $("clinic-name").focus(); return; }
  const priority = $("kiosk-priority").value;
  const kiosk = { priority: priority === "" ? null : priority === "true", reset_secs: null, tickets_per_minute: null };
  if (!$("kiosk-reset-default").checked) {
    kiosk.reset_secs = wholeNumber($("kiosk-reset-secs"), 3, 600);
    if (kiosk.reset_secs === null) {
      note("clinic", "error", t("admin.number_between", { low: 5, high: 600 }));
      $("kiosk-reset-secs").focus();
      return;
    }
  }
  if (!$("kiosk-tpm-default").checked) {
    kiosk.tickets_per_minute = wholeNumber($("kiosk-tickets-per-minute"), 0, 600);
    if (kiosk.tickets_per_minute === null) {
      note("clinic", "error", t("admin.number_between", { low: 0, high: 600 }));
      $("kiosk-tickets-per-minute").focus();
      return;
    }
  }
  act("clinic", () => api("PATCH", "/api/v1/admin/clinic", { name, kiosk }), {
    onOk: () => state.dirty.delete("clinic"),
  });
}

function setUpClinicForm() {
  const form = $("clinic-form");
  form.addEventListener("input", () => state.dirty.add("clinic"));
  form.addEventListener("change", () => state.dirty.add("clinic"));
  for (const [check, input, key] of [["kiosk-reset-default", "kiosk-reset-secs", "reset_secs"],
    ["kiosk-tpm-default", "kiosk-tickets-per-minute", "tickets_per_minute"]]) {
    $(check).addEventListener("change", () => {
      $(input).disabled = $(check).checked;
      if ($(check).checked && state.data) $(input).value = String(state.data.kiosk_defaults[key]);
      else $(input).focus();
    });
  }
  form.addEventListener("submit", saveClinic);
  $("pairing-required").addEventListener("change", (e) => {
    const on = e.target.checked;
    act("pairing", () => api("PATCH", "/api/v1/admin/clinic", { pairing_required: on }), {
      ok: on ? t("admin.pairing_on") : t("admin.pairing_off"),
    });
  });
}

// ---------- display message ----------

function renderMessage() {
  if (!state.dirty.has("message")) $("message-text").value = state.data.clinic.message ?? "";
}

function setUpMessageForm() {
  $("message-form").addEventListener("input", () => state.dirty.add("message"));
  $("message-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const message = $("message-text").value.trim();
    act("message", () => api("PUT", "/api/v1/clinic/message", { message }), {
      ok: message ? t("admin.message_saved") : t("admin.message_cleared"),
      onOk: () => state.dirty.delete("message"),
    });
  });
  $("message-clear").addEventListener("click", () => {
    act("message", () => api("PUT", "/api/v1/clinic/message", { message: "" }), {
      ok: t("admin.message_cleared"),
      onOk: () => { state.dirty.delete("message"); $("message-text").value = ""; },
    });
  });
}

// ---------- services ----------

function namesCells(thing) {
  return extraLanguages().map((code) => el("td", { lang: code },
    thing.names?.[code] ? thing.names[code] : el("span", { class: "muted" }, "—")));
}

function nameHeads() {
  return extraLanguages().map((code) =>
    el("th", { scope: "col" }, t("admin.name_in", { language: languageName(code) })));
}

/** Inputs for the translated names: one per extra language. */
function namesInputs(prefix, names = {}) {
  return extraLanguages().map((code) => el("label", { class: "field" },
    el("span", { class: "field-label" }, t("admin.name_in", { language: languageName(code) })),
    el("input", { id: `${prefix}-${code}`, lang: code, maxlength: "60", autocomplete: "off",
      "data-lang": code, "data-key": `${prefix}-${code}`, value: names[code] ?? "" })));
}

/** The translated names from inputs made by namesInputs, over `base` (languages not shown stay). */
function namesFrom(root, base = {}) {
  const names = { ...base };
  for (const input of root.querySelectorAll("input[data-lang]")) names[input.dataset.lang] = input.value.trim();
  return names;
}

/** The pictures a service may have (the kiosk draws them), as the server knows them. */
const SERVICE_ICONS = ["stethoscope", "lab", "pill", "tooth", "eye", "child", "syringe", "scan", "heart", "card", "desk"];
const TONES = 6;

/** Up and down buttons: move `list[index]` one place; every place after is saved as `order`. */
function orderCell(kind, list, index) {
  const item = list[index];
  const button = (delta, label, glyph) => el("button", {
    type: "button", class: "btn btn-small btn-quiet btn-move", "data-action": delta < 0 ? "up" : "down",
    "data-key": `${kind}-${delta < 0 ? "up" : "down"}:${item.id}`,
    "aria-label": t(label, { name: item.name }), title: t(label, { name: item.name }),
    disabled: index + delta < 0 || index + delta >= list.length,
    onclick: () => move(kind, list, index, delta),
  }, glyph);
  return el("td", { class: "cell-order" },
    el("div", { class: "row-actions" }, button(-1, "admin.move_up", "▲"), button(1, "admin.move_down", "▼")));
}

async function move(kind, list, index, delta) {
  const ids = list.map((x) => x.id);
  [ids[index], ids[index + delta]] = [ids[index + delta], ids[index]];
  const path = kind === "service" ? "services" : "rooms";
  const moved = list[index];
  await act(`${kind}:${moved.id}`, async () => {
    for (const [place, id] of ids.entries()) {
      if (list.find((x) => x.id === id)?.order !== place) {
        await api("PATCH", `/api/v1/admin/${path}/${encodeURIComponent(id)}`, { order: place });
      }
    }
  }, { ok: t("admin.order_saved") });
  const again = document.querySelector(`[data-key="${kind}-${delta < 0 ? "up" : "down"}:${CSS.escape(moved.id)}"]`);
  (again && !again.disabled ? again : document.querySelector(`[data-key="${kind}-edit:${CSS.escape(moved.id)}"]`))?.focus();
}

function toneOf(s, index) {
  return Number.isInteger(s.tone) ? s.tone % TONES : index % TONES;
}

function lookCell(s, index) {
  const tone = toneOf(s, index);
  return el("td", { class: "cell-look" },
    el("span", { class: `tone-dot tone-${tone}`, "aria-hidden": "true" }),
    el("span", {}, t(`admin.tone_${tone}`)),
    el("span", { class: "cell-sub" }, s.icon ? t(`admin.icon_${s.icon}`) : t("admin.icon_auto")));
}

function renderServices() {
  $("services-head").replaceChildren(
    el("th", { scope: "col" }, t("admin.order")),
    el("th", { scope: "col" }, t("admin.prefix")),
    el("th", { scope: "col" }, t("admin.name")),
    ...nameHeads(),
    el("th", { scope: "col" }, t("admin.look")),
    el("th", { scope: "col" }, t("admin.ask_priority")),
    el("th", { scope: "col" }, t("admin.carry_over")),
    el("th", { scope: "col" }, t("admin.state")),
    el("th", { scope: "col" }, el("span", { class: "sr-only" }, t("admin.actions"))));
  const body = $("services-body");
  const editing = body.querySelector("tr.is-editing");
  const list = state.data.services;
  body.replaceChildren(...list.map((s, index) => {
    if (state.editing.service === s.id) {
      return editing?.dataset.service === s.id ? editing : serviceEditRow(s, index);
    }
    return serviceRow(s, index);
  }));
  if (state.editing.service && !state.data.services.some((s) => s.id === state.editing.service)) {
    state.editing.service = null;
  }
}

function serviceRow(s, index) {
  const reopens = !s.active && s.reopens_at
    ? el("span", { class: "cell-sub" }, t("admin.reopens", { time: formatTime(s.reopens_at, ZONE, boot.lang, false) }))
    : null;
  return el("tr", { dataset: { service: s.id }, class: s.active ? null : "is-closed" },
    orderCell("service", state.data.services, index),
    el("td", {}, el("span", { class: "prefix-chip" }, s.prefix)),
    el("td", {}, el("span", { class: "cell-name" }, s.name), el("span", { class: "cell-sub" }, s.id)),
    ...namesCells(s),
    lookCell(s, index),
    el("td", {}, yesNo(s.ask_priority !== false)),
    el("td", {}, yesNo(s.carry_over)),
    el("td", {}, el("span", { class: `pill ${s.active ? "pill-open" : "pill-closed"}` },
      s.active ? t("admin.open") : t("admin.closed")), reopens),
    el("td", { class: "cell-actions" },
      el("div", { class: "row-actions" },
        s.active
          ? el("button", { type: "button", class: "btn btn-small btn-quiet", "data-action": "close",
            "data-key": `service-close:${s.id}`, onclick: () => closeService(s) }, t("admin.service_close"))
          : el("button", { type: "button", class: "btn btn-small btn-quiet", "data-action": "open",
            "data-key": `service-open:${s.id}`,
            onclick: () => act(`service:${s.id}`, () => api("POST", `/api/v1/services/${encodeURIComponent(s.id)}/open`),
              { ok: t("admin.service_opened", { name: s.name }) }) }, t("admin.service_open")),
        el("button", { type: "button", class: "btn btn-small btn-quiet", "data-action": "edit",
          "data-key": `service-edit:${s.id}`, "aria-label": t("admin.edit_named", { name: s.name }),
          onclick: () => { state.editing.service = s.id; render(); $("service-edit-name")?.focus(); } },
        t("admin.edit"))),
      noteSpan(`service:${s.id}`)));
}

function serviceEditRow(s, index) {
  const row = el("tr", { dataset: { service: s.id }, class: "is-editing" });
  const save = () => {
    const change = {
      name: row.querySelector("#service-edit-name").value.trim(),
      prefix: row.querySelector("#service-edit-prefix").value.trim().toUpperCase(),
      carry_over: row.querySelector("#service-edit-carry").checked,
      names: namesFrom(row, s.names),
      tone: Number(row.querySelector("#service-edit-tone").value),
      icon: row.querySelector("#service-edit-icon").value,
      ask_priority: row.querySelector("#service-edit-ask").checked,
    };
    act(`service:${s.id}`, () => api("PATCH", `/api/v1/admin/services/${encodeURIComponent(s.id)}`, change), {
      onOk: () => { state.editing.service = null; },
    });
  };
  const cancel = () => { state.editing.service = null; render(); document.querySelector(`[data-key="service-edit:${CSS.escape(s.id)}"]`)?.focus(); };
  row.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); cancel(); }
    if (e.key === "Enter" && e.target.tagName === "INPUT" && e.target.type !== "checkbox") { e.preventDefault(); save(); }
  });
  const tone = toneOf(s, index);
  row.append(
    orderCell("service", state.data.services, index),
    el("td", {}, el("input", { id: "service-edit-prefix", class: "input-prefix", maxlength: "3", value: s.prefix,
      autocomplete: "off", "aria-label": t("admin.prefix") })),
    el("td", {}, el("input", { id: "service-edit-name", maxlength: "60", value: s.name, autocomplete: "off",
      "aria-label": t("admin.name") }), el("span", { class: "cell-sub" }, s.id)),
    ...extraLanguages().map((code) => el("td", {}, el("input", { lang: code, "data-lang": code, maxlength: "60",
      value: s.names?.[code] ?? "", autocomplete: "off",
      "aria-label": t("admin.name_in", { language: languageName(code) }) }))),
    el("td", { class: "cell-look" },
      el("select", { id: "service-edit-tone", "aria-label": t("admin.tone") },
        Array.from({ length: TONES }, (_, i) => el("option", { value: String(i), selected: i === tone }, t(`admin.tone_${i}`)))),
      el("select", { id: "service-edit-icon", "aria-label": t("admin.icon") },
        el("option", { value: "", selected: !s.icon }, t("admin.icon_auto")),
        SERVICE_ICONS.map((name) => el("option", { value: name, selected: s.icon === name }, t(`admin.icon_${name}`))))),
    el("td", {}, el("label", { class: "check", title: t("admin.ask_priority_hint") },
      el("input", { id: "service-edit-ask", type: "checkbox", checked: s.ask_priority !== false }),
      el("span", { class: "sr-only" }, t("admin.ask_priority")))),
    el("td", {}, el("label", { class: "check" }, el("input", { id: "service-edit-carry", type: "checkbox",
      checked: s.carry_over }), el("span", { class: "sr-only" }, t("admin.carry_over")))),
    el("td", {}, el("span", { class: `pill ${s.active ? "pill-open" : "pill-closed"}` },
      s.active ? t("admin.open") : t("admin.closed"))),
    el("td", { class: "cell-actions" },
      el("div", { class: "row-actions" },
        el("button", { type: "button", class: "btn btn-small btn-primary", "data-action": "save", onclick: save }, t("admin.save")),
        el("button", { type: "button", class: "btn btn-small btn-quiet", onclick: cancel }, t("admin.cancel"))),
      noteSpan(`service:${s.id}`)));
  return row;
}

async function closeService(s) {
  const dialog = $("close-dialog");
  $("close-title").textContent = t("admin.service_close_title", { name: s.name });
  $("close-reopens").value = "";
  dialog.returnValue = "";
  dialog.showModal();
  const answer = await new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true }));
  if (answer !== "close") return;
  const reopens = localToUtc($("close-reopens").value, ZONE);
  const path = `/api/v1/services/${encodeURIComponent(s.id)}/close`;
  await act(`service:${s.id}`, () => api("POST", path, reopens ? { reopens_at: reopens } : undefined), {
    ok: t("admin.service_closed", { name: s.name }),
  });
  document.querySelector(`[data-key="service-open:${CSS.escape(s.id)}"]`)?.focus();
}

function setUpServiceForm() {
  const form = $("service-add");
  const id = $("service-add-id");
  $("service-add-name").addEventListener("input", (e) => {
    if (!id.dataset.touched) id.value = slug(e.target.value);
  });
  id.addEventListener("input", () => { id.dataset.touched = id.value ? "yes" : ""; });
  $("service-add-prefix").addEventListener("input", (e) => {
    e.target.value = e.target.value.toUpperCase().replace(/[^A-Z]/g, "");
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {
      id: id.value.trim() || slug($("service-add-name").value),
      name: $("service-add-name").value.trim(),
      prefix: $("service-add-prefix").value.trim().toUpperCase(),
      carry_over: $("service-add-carry").checked,
      ask_priority: $("service-add-ask").checked,
      names: namesFrom($("service-add-names")),
    };
    for (const [lang, name] of Object.entries(body.names)) if (!name) delete body.names[lang];
    if (!body.name || !body.prefix) { note("service-add", "error", t("admin.fill_required")); return; }
    act("service-add", () => api("POST", "/api/v1/admin/services", body), {
      ok: (s) => t("admin.service_added", { name: s?.name ?? body.name }),
      onOk: () => { form.reset(); id.dataset.touched = ""; },
    });
  });
}

// ---------- rooms ----------

function checkList(name, items, checked, keyPrefix) {
  return items.map(([value, label]) => el("label", { class: "check" },
    el("input", { type: "checkbox", name, value, checked: checked.includes(value), "data-key": `${keyPrefix}:${value}` }),
    el("span", {}, label)));
}

function checkedValues(root, name) {
  return [...root.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
}

function renderRooms() {
  $("rooms-head").replaceChildren(
    el("th", { scope: "col" }, t("admin.order")),
    el("th", { scope: "col" }, t("admin.name")),
    ...nameHeads(),
    el("th", { scope: "col" }, t("admin.room_services")),
    el("th", { scope: "col" }, t("admin.room_doctors")),
    el("th", { scope: "col" }, t("admin.state")),
    el("th", { scope: "col" }, el("span", { class: "sr-only" }, t("admin.actions"))));
  const body = $("rooms-body");
  const editing = body.querySelector("tr.is-editing");
  body.replaceChildren(...state.data.rooms.map((r, index) => {
    if (state.editing.room === r.id) return editing?.dataset.room === r.id ? editing : roomEditRow(r, index);
    return roomRow(r, index);
  }));
  if (state.editing.room && !state.data.rooms.some((r) => r.id === state.editing.room)) state.editing.room = null;
}

function chips(items, empty) {
  if (!items.length) return el("span", { class: "muted" }, empty);
  return el("ul", { class: "chips" }, items.map((item) => el("li", { class: "chip" }, item)));
}

function roomRow(r, index) {
  return el("tr", { dataset: { room: r.id }, class: r.open ? null : "is-closed" },
    orderCell("room", state.data.rooms, index),
    el("td", {}, el("span", { class: "cell-name" }, r.name), el("span", { class: "cell-sub" }, r.id)),
    ...namesCells(r),
    el("td", { class: "cell-services" }, chips(r.services.map(serviceLabel), t("admin.none"))),
    el("td", { class: "cell-doctors" }, chips(r.doctors, t("admin.none"))),
    el("td", {}, el("span", { class: `pill ${r.open ? "pill-open" : "pill-closed"}` },
      r.open ? t("admin.open") : t("admin.closed"))),
    el("td", { class: "cell-actions" },
      el("div", { class: "row-actions" },
        el("button", { type: "button", class: "btn btn-small btn-quiet", "data-action": "edit",
          "data-key": `room-edit:${r.id}`, "aria-label": t("admin.edit_named", { name: r.name }),
          onclick: () => { state.editing.room = r.id; render(); $("room-edit-name")?.focus(); } }, t("admin.edit"))),
      noteSpan(`room:${r.id}`)));
}

function roomEditRow(r, index) {
  const row = el("tr", { dataset: { room: r.id }, class: "is-editing" });
  const doctorNames = [...new Set([...doctors(), ...r.doctors])];
  const save = () => {
    const change = {
      name: row.querySelector("#room-edit-name").value.trim(),
      names: namesFrom(row, r.names),
      services: checkedValues(row, "room-edit-services"),
      doctors: checkedValues(row, "room-edit-doctors"),
    };
    act(`room:${r.id}`, () => api("PATCH", `/api/v1/admin/rooms/${encodeURIComponent(r.id)}`, change), {
      onOk: () => { state.editing.room = null; },
    });
  };
  const cancel = () => { state.editing.room = null; render(); document.querySelector(`[data-key="room-edit:${CSS.escape(r.id)}"]`)?.focus(); };
  row.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); cancel(); }
    if (e.key === "Enter" && e.target.tagName === "INPUT" && e.target.type !== "checkbox") { e.preventDefault(); save(); }
  });
  row.append(
    orderCell("room", state.data.rooms, index),
    el("td", {}, el("input", { id: "room-edit-name", maxlength: "60", value: r.name, autocomplete: "off",
      "aria-label": t("admin.name") }), el("span", { class: "cell-sub" }, r.id)),
    ...extraLanguages().map((code) => el("td", {}, el("input", { lang: code, "data-lang": code, maxlength: "60",
      value: r.names?.[code] ?? "", autocomplete: "off",
      "aria-label": t("admin.name_in", { language: languageName(code) }) }))),
    el("td", {}, el("fieldset", { class: "checks checks-inline" },
      el("legend", { class: "sr-only" }, t("admin.room_services")),
      checkList("room-edit-services", state.data.services.map((s) => [s.id, `${s.prefix} · ${s.name}`]), r.services, "room-edit-services"))),
    el("td", {}, el("fieldset", { class: "checks checks-inline" },
      el("legend", { class: "sr-only" }, t("admin.room_doctors")),
      doctorNames.length
        ? checkList("room-edit-doctors", doctorNames.map((n) => [n, n]), r.doctors, "room-edit-doctors")
        : el("span", { class: "muted" }, t("admin.no_doctors")))),
    el("td", {}, el("span", { class: `pill ${r.open ? "pill-open" : "pill-closed"}` },
      r.open ? t("admin.open") : t("admin.closed"))),
    el("td", { class: "cell-actions" },
      el("div", { class: "row-actions" },
        el("button", { type: "button", class: "btn btn-small btn-primary", "data-action": "save", onclick: save }, t("admin.save")),
        el("button", { type: "button", class: "btn btn-small btn-quiet", onclick: cancel }, t("admin.cancel"))),
      noteSpan(`room:${r.id}`)));
  return row;
}

function setUpRoomForm() {
  const form = $("room-add");
  const id = $("room-add-id");
  $("room-add-name").addEventListener("input", (e) => {
    if (!id.dataset.touched) id.value = slug(e.target.value);
  });
  id.addEventListener("input", () => { id.dataset.touched = id.value ? "yes" : ""; });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const names = namesFrom($("room-add-names"));
    for (const [lang, name] of Object.entries(names)) if (!name) delete names[lang];
    const body = {
      id: id.value.trim() || slug($("room-add-name").value),
      name: $("room-add-name").value.trim(),
      names,
      services: checkedValues(form, "room-add-services"),
    };
    const chosen = checkedValues(form, "room-add-doctors");
    if (!body.name) { note("room-add", "error", t("admin.fill_required")); return; }
    act("room-add", async () => {
      const room = await api("POST", "/api/v1/admin/rooms", body);
      if (chosen.length) {
        return api("PATCH", `/api/v1/admin/rooms/${encodeURIComponent(room.id)}`, { doctors: chosen });
      }
      return room;
    }, {
      ok: (r) => t("admin.room_added", { name: r?.name ?? body.name }),
      onOk: () => { form.reset(); id.dataset.touched = ""; },
    });
  });
}

// ---------- staff users ----------

function renderUsers() {
  const rooms = state.data.rooms.map((r) => [r.id, r.name]);
  $("users-body").replaceChildren(...state.users.map((u) => {
    const isDoctor = u.roles.includes("doctor");
    const you = state.me?.kind === "user" && state.me.name === u.name;
    const roleChecks = el("fieldset", { class: "checks checks-inline" },
      el("legend", { class: "sr-only" }, t("admin.roles_of", { user: u.name })),
      ROLES.map((role) => el("label", { class: "check" },
        el("input", { type: "checkbox", name: `roles-${u.name}`, value: role, checked: u.roles.includes(role),
          "data-key": `user-role:${u.name}:${role}`,
          onchange: (e) => {
            const roles = new Set(u.roles);
            if (e.target.checked) roles.add(role); else roles.delete(role);
            act(`user:${u.name}`, () => api("PATCH", `/api/v1/admin/users/${encodeURIComponent(u.name)}`, { roles: [...roles] }), {
              ok: t("admin.user_saved", { user: u.name }),
            });
          } }),
        el("span", {}, roleName(role)))));
    const roomChecks = isDoctor
      ? (rooms.length
        ? el("fieldset", { class: "checks checks-inline" },
          el("legend", { class: "sr-only" }, t("admin.rooms_of", { user: u.name })),
          rooms.map(([id, name]) => el("label", { class: "check" },
            el("input", { type: "checkbox", name: `rooms-${u.name}`, value: id, checked: u.rooms.includes(id),
              "data-key": `user-room:${u.name}:${id}`,
              onchange: (e) => {
                const set = new Set(u.rooms);
                if (e.target.checked) set.add(id); else set.delete(id);
                act(`user:${u.name}`, () => api("PATCH", `/api/v1/admin/users/${encodeURIComponent(u.name)}`, { rooms: [...set] }), {
                  ok: t("admin.user_saved", { user: u.name }),
                });
              } }),
            el("span", {}, name))))
        : el("span", { class: "muted" }, t("admin.none")))
      : el("span", { class: "muted" }, "—");
    return el("tr", { dataset: { user: u.name }, class: u.disabled ? "is-disabled" : null },
      el("td", {}, el("span", { class: "cell-name" }, u.name),
        you ? el("span", { class: "badge badge-you" }, t("admin.you")) : null),
      el("td", {}, roleChecks),
      el("td", {}, roomChecks),
      el("td", {}, el("span", { class: `pill ${u.disabled ? "pill-closed" : "pill-open"}` },
        u.disabled ? t("admin.user_disabled") : t("admin.user_active"))),
      el("td", { class: "cell-actions" },
        el("div", { class: "row-actions" },
          el("button", { type: "button", class: "btn btn-small btn-quiet", "data-action": u.disabled ? "enable" : "disable",
            "data-key": `user-disable:${u.name}`, onclick: () => toggleUser(u) },
          u.disabled ? t("admin.enable") : t("admin.disable")),
          el("button", { type: "button", class: "btn btn-small btn-quiet", "data-action": "reset",
            "data-key": `user-reset:${u.name}`, onclick: () => resetPassword(u) }, t("admin.reset_password"))),
        noteSpan(`user:${u.name}`)));
  }));
}

async function toggleUser(u) {
  const path = `/api/v1/admin/users/${encodeURIComponent(u.name)}`;
  if (u.disabled) {
    act(`user:${u.name}`, () => api("PATCH", path, { disabled: false }), { ok: t("admin.user_enabled", { user: u.name }) });
    return;
  }
  const yes = await confirmAction(t("admin.disable_title", { user: u.name }), t("admin.disable_text"), t("admin.disable"));
  if (!yes) return;
  await act(`user:${u.name}`, () => api("PATCH", path, { disabled: true }), { ok: t("admin.user_was_disabled", { user: u.name }) });
  document.querySelector(`[data-key="user-disable:${CSS.escape(u.name)}"]`)?.focus();
}

function resetPassword(u) {
  const dialog = $("reset-dialog");
  $("reset-title").textContent = t("admin.reset_title", { user: u.name });
  $("reset-password").value = "";
  state.notes.delete("reset");
  paintNotes();
  dialog.dataset.user = u.name;
  dialog.showModal();
  $("reset-password").focus();
}

function setUpResetDialog() {
  const dialog = $("reset-dialog");
  $("reset-cancel").addEventListener("click", () => dialog.close());
  $("reset-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const user = dialog.dataset.user;
    const password = $("reset-password").value;
    if (!password) { note("reset", "error", t("admin.password_missing")); return; }
    note("reset", "busy", t("admin.saving"));
    try {
      await api("PATCH", `/api/v1/admin/users/${encodeURIComponent(user)}`, { password });
      dialog.close();
      note(`user:${user}`, "ok", t("admin.password_was_reset", { user }));
      await load();
      document.querySelector(`[data-key="user-reset:${CSS.escape(user)}"]`)?.focus();
    } catch (error) {
      note("reset", "error", t("admin.failed", { message: errorText(error) }));
    }
  });
}

function setUpUserForm() {
  const form = $("user-add");
  form.addEventListener("change", () => {
    $("user-add-rooms-box").hidden = !checkedValues(form, "user-add-roles").includes("doctor");
  });
  $("user-add-name").addEventListener("input", (e) => {
    const lower = e.target.value.toLowerCase();
    if (lower !== e.target.value) e.target.value = lower;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const roles = checkedValues(form, "user-add-roles");
    const body = {
      name: $("user-add-name").value.trim(),
      password: $("user-add-password").value,
      roles,
      rooms: roles.includes("doctor") ? checkedValues(form, "user-add-rooms") : [],
    };
    if (!body.name || !body.password) { note("user-add", "error", t("admin.fill_required")); return; }
    if (!roles.length) { note("user-add", "error", t("admin.role_missing")); return; }
    act("user-add", () => api("POST", "/api/v1/admin/users", body), {
      ok: (u) => t("admin.user_added", { user: u?.name ?? body.name }),
      onOk: () => { form.reset(); $("user-add-rooms-box").hidden = true; },
    });
  });
}

// ---------- API tokens ----------

function renderTokens() {
  const body = $("tokens-body");
  if (!state.tokens.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "5", class: "muted" }, t("admin.no_tokens"))));
    return;
  }
  body.replaceChildren(...state.tokens.map((tk) => el("tr", { dataset: { token: tk.id, name: tk.name } },
    el("td", {}, el("span", { class: "cell-name" }, tk.name)),
    el("td", {}, roleName(tk.role)),
    el("td", {}, formatTime(tk.created_at, ZONE, boot.lang, false)),
    el("td", {}, tk.last_used ? formatTime(tk.last_used, ZONE, boot.lang, false) : el("span", { class: "muted" }, t("admin.never"))),
    el("td", { class: "cell-actions" },
      el("div", { class: "row-actions" },
        el("button", { type: "button", class: "btn btn-small btn-danger", "data-action": "revoke",
          "data-key": `token-revoke:${tk.id}`, "aria-label": t("admin.revoke_named", { name: tk.name }),
          onclick: () => revokeToken(tk) }, t("admin.revoke"))),
      noteSpan(`token:${tk.id}`)))));
}

async function revokeToken(tk) {
  const yes = await confirmAction(t("admin.revoke_title", { name: tk.name }), t("admin.revoke_text"), t("admin.revoke"));
  if (!yes) return;
  const result = await act(`token:${tk.id}`, () => api("DELETE", `/api/v1/admin/tokens/${encodeURIComponent(tk.id)}`), {
    ok: t("admin.token_revoked", { name: tk.name }),
  });
  if (result.ok) note("token-add", "ok", t("admin.token_revoked", { name: tk.name }));
  $("token-add-name").focus();
}

function setUpTokenForm() {
  const form = $("token-add");
  $("token-add-role").replaceChildren(...ROLES.map((r) =>
    el("option", { value: r, selected: r === "reception" }, roleName(r))));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { name: $("token-add-name").value.trim(), role: $("token-add-role").value };
    if (!body.name) { note("token-add", "error", t("admin.fill_required")); return; }
    act("token-add", () => api("POST", "/api/v1/admin/tokens", body), {
      ok: (answer) => t("admin.token_created", { name: answer?.token?.name ?? body.name }),
      onOk: (answer) => {
        form.reset();
        $("token-add-role").value = "reception";
        showSecret(answer);
      },
    });
  });
  $("token-copy").addEventListener("click", copySecret);
  $("token-secret-done").addEventListener("click", () => {
    $("token-secret-value").value = "";
    $("token-secret").hidden = true;
    $("token-add-name").focus();
  });
}

function showSecret(answer) {
  $("token-secret-name").textContent = answer.token.name;
  $("token-secret-value").value = answer.secret;
  state.notes.delete("token-copy");
  $("token-secret").hidden = false;
  $("token-secret-value").focus();
  $("token-secret-value").select();
}

async function copySecret() {
  const input = $("token-secret-value");
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard");
    await navigator.clipboard.writeText(input.value);
    note("token-copy", "ok", t("admin.copied"));
  } catch {
    // Plain http on the LAN has no clipboard API: select it and use the old copy command.
    input.focus();
    input.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch { copied = false; }
    note("token-copy", copied ? "ok" : "error", copied ? t("admin.copied") : t("admin.copy_by_hand"));
  }
}

// ---------- paired screens ----------

/** "K7M4QX" → "K7M 4QX", as the screen shows it. */
const spacedCode = (code) => `${code.slice(0, 3)} ${code.slice(3)}`;

function renderScreens() {
  const screens = state.screens;
  if (!screens) return;
  $("screens-state").textContent = t(screens.required ? "admin.screens_required" : "admin.screens_optional");
  const pending = $("screens-pending");
  const typing = pending.contains(document.activeElement);
  if (!typing) {
    pending.replaceChildren(...(screens.pending.length ? screens.pending.map((p) => {
      const input = el("input", { name: "screen-name", maxlength: "64", autocomplete: "off",
        autocapitalize: "none", spellcheck: "false", "data-key": `screen-name:${p.code}`,
        "aria-label": t("admin.screen_name_for", { code: spacedCode(p.code) }),
        value: `${p.kind}-${(p.address ?? "").split(/[.:]/).pop() || "1"}` });
      return el("tr", { dataset: { code: p.code } },
        el("td", {}, el("strong", { class: "screen-code" }, spacedCode(p.code))),
        el("td", {}, t(`admin.screen_kind_${p.kind}`)),
        el("td", {}, p.address ?? "—"),
        el("td", {}, formatTime(p.requested_at, ZONE, boot.lang, false)),
        el("td", { class: "cell-actions" },
          el("form", { class: "row-actions", onsubmit: (event) => {
            event.preventDefault();
            approveScreen(p.code, input.value.trim());
          } }, input,
            el("button", { type: "submit", class: "btn btn-small btn-primary", "data-action": "approve",
              "data-key": `screen-approve:${p.code}` }, t("admin.screen_approve"))),
          noteSpan(`screen:${p.code}`)));
    }) : [el("tr", {}, el("td", { colspan: "5", class: "muted" }, t("admin.screens_none_waiting")))]));
  }
  $("screens-paired").replaceChildren(...(screens.paired.length ? screens.paired.map((sc) =>
    el("tr", { dataset: { screen: sc.id, name: sc.name } },
      el("td", {}, el("span", { class: "cell-name" }, sc.name)),
      el("td", {}, t(`admin.screen_kind_${sc.kind}`)),
      el("td", {}, sc.address ?? "—"),
      el("td", {}, formatTime(sc.paired_at, ZONE, boot.lang, false)),
      el("td", {}, sc.last_seen ? formatTime(sc.last_seen, ZONE, boot.lang, false) : el("span", { class: "muted" }, t("admin.never"))),
      el("td", { class: "cell-actions" },
        el("div", { class: "row-actions" },
          el("button", { type: "button", class: "btn btn-small btn-danger", "data-action": "unpair",
            "data-key": `screen-unpair:${sc.id}`, "aria-label": t("admin.screen_unpair_named", { name: sc.name }),
            onclick: () => unpairScreen(sc) }, t("admin.screen_unpair"))),
        noteSpan(`screen-paired:${sc.id}`))))
    : [el("tr", {}, el("td", { colspan: "6", class: "muted" }, t("admin.screens_none_paired")))]));
}

async function approveScreen(code, name) {
  if (!name) { note(`screen:${code}`, "error", t("admin.fill_required")); return; }
  document.activeElement?.blur();
  await act(`screen:${code}`, () => api("POST", "/api/v1/admin/screens", { code, name }), {
    ok: t("admin.screen_approved", { name }),
  });
}

async function unpairScreen(sc) {
  const yes = await confirmAction(t("admin.screen_unpair_title", { name: sc.name }),
    t("admin.screen_unpair_text"), t("admin.screen_unpair"));
  if (!yes) return;
  await act(`screen-paired:${sc.id}`, () => api("DELETE", `/api/v1/admin/screens/${encodeURIComponent(sc.id)}`), {
    ok: t("admin.screen_unpaired", { name: sc.name }),
  });
}

/** Screens asking to pair make no event: look every few seconds while the page is seen. */
function watchScreens() {
  setInterval(async () => {
    if (document.hidden) return;
    try {
      state.screens = await api("GET", "/api/v1/admin/screens");
      renderScreens();
    } catch { /* the next full read reports it */ }
  }, 4000);
}

// ---------- the add forms' lists (services, doctors, rooms, languages) ----------

/** Refills a box of checkboxes, keeping what was ticked. */
function refillChecks(box, name, items) {
  const ticked = checkedValues(box, name);
  box.replaceChildren(...(items.length
    ? checkList(name, items, ticked, name)
    : [el("span", { class: "muted" }, t("admin.none"))]));
}

function refillNames(box, prefix) {
  const key = extraLanguages().join(",");
  if (box.dataset.languages === key) return;
  box.dataset.languages = key;
  box.replaceChildren(...namesInputs(prefix));
}

function renderAddForms() {
  const services = state.data.services.map((s) => [s.id, `${s.prefix} · ${s.name}`]);
  const rooms = state.data.rooms.map((r) => [r.id, r.name]);
  refillChecks($("room-add-services"), "room-add-services", services);
  refillChecks($("room-add-doctors"), "room-add-doctors", doctors().map((n) => [n, n]));
  refillChecks($("user-add-rooms"), "user-add-rooms", rooms);
  if (!$("user-add-roles").children.length) {
    $("user-add-roles").replaceChildren(...checkList("user-add-roles", ROLES.map((r) => [r, roleName(r)]), [], "user-add-roles"));
  }
  refillNames($("service-add-names"), "service-add-name");
  refillNames($("room-add-names"), "room-add-name");
}

// ---------- appointments: doctors' plans ----------

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** "09:00" from "09:00:00". */
const hhmm = (time) => String(time).slice(0, 5);

/** "09:00–13:00, 14:00–17:00" from periods. */
function periodsText(periods) {
  return (periods ?? []).map((p) => `${hhmm(p.start)}–${hhmm(p.end)}`).join(", ");
}

/** Periods from "09:00-13:00, 14:00-17:00" (either dash); throws the part not understood. */
function parsePeriods(text) {
  const parts = text.split(",").map((x) => x.trim()).filter(Boolean);
  return parts.map((part) => {
    const m = /^(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})$/.exec(part);
    if (!m) throw new Error(part);
    const pad = (h, mm) => `${h.padStart(2, "0")}:${mm}`;
    return { start: pad(m[1], m[2]), end: pad(m[3], m[4]) };
  });
}

/** Exceptions from lines "2026-12-25 off Christmas" or "2026-12-24 10:00-12:00". */
function parseExceptions(text) {
  const out = {};
  for (const line of text.split("\n").map((x) => x.trim()).filter(Boolean)) {
    const m = /^(\d{4}-\d{2}-\d{2})\s+(.*)$/.exec(line);
    if (!m) throw new Error(line);
    const rest = m[2].trim();
    if (/^off\b/i.test(rest)) out[m[1]] = { kind: "off", reason: rest.slice(3).trim() };
    else out[m[1]] = { kind: "hours", periods: parsePeriods(rest) };
  }
  return out;
}

function exceptionsText(exceptions) {
  return Object.entries(exceptions ?? {}).map(([date, e]) =>
    e.kind === "off" ? `${date} off ${e.reason ?? ""}`.trim() : `${date} ${periodsText(e.periods)}`).join("\n");
}

function renderPlans() {
  $("plans-none").hidden = state.plans.length > 0;
  $("plans-table").hidden = state.plans.length === 0;
  $("plans-body").replaceChildren(...state.plans.map((p) => {
    const key = `${p.doctor}/${p.service}`;
    return el("tr", { dataset: { plan: key } },
      el("td", {}, el("span", { class: "cell-name" }, p.doctor)),
      el("td", {}, serviceLabel(p.service)),
      ...p.weekly.map((periods, i) => el("td", { class: "plan-day" },
        periods.length ? periods.map((x) => el("div", {}, `${hhmm(x.start)}–${hhmm(x.end)}`)) : el("span", { class: "muted" }, "—"),
        (p.breaks?.[i] ?? []).map((x) => el("div", { class: "plan-break" }, `☕ ${hhmm(x.start)}–${hhmm(x.end)}`)))),
      el("td", {}, t("admin.plan_slot_cell", { minutes: p.slot_minutes, seats: p.seats })),
      el("td", { class: "cell-actions" },
        el("div", { class: "row-actions" },
          el("button", { type: "button", class: "btn btn-small btn-quiet", "data-action": "edit-plan",
            "data-key": `plan-edit:${key}`, onclick: () => editPlan(p) }, t("admin.plan_edit")),
          el("button", { type: "button", class: "btn btn-small btn-quiet", "data-action": "remove-plan",
            "data-key": `plan-remove:${key}`, onclick: () => removePlan(p) }, t("admin.plan_remove"))),
        noteSpan(`plan:${key}`)));
  }));
  // The form's choices: enabled doctors, every service.
  const doctorSelect = $("plan-doctor");
  const doctor = doctorSelect.value;
  doctorSelect.replaceChildren(...doctors().map((n) => el("option", { value: n }, n)));
  if (doctors().includes(doctor)) doctorSelect.value = doctor;
  const serviceSelect = $("plan-service");
  const service = serviceSelect.value;
  serviceSelect.replaceChildren(...state.data.services.map((x) => el("option", { value: x.id }, serviceLabel(x.id))));
  if (state.data.services.some((x) => x.id === service)) serviceSelect.value = service;
}

function editPlan(p) {
  $("plan-doctor").value = p.doctor;
  $("plan-service").value = p.service;
  DAYS.forEach((_, i) => {
    $(`plan-hours-${i}`).value = periodsText(p.weekly[i]);
    $(`plan-breaks-${i}`).value = periodsText(p.breaks?.[i]);
  });
  $("plan-slot").value = p.slot_minutes;
  $("plan-seats").value = p.seats;
  $("plan-before").value = p.buffer_before_minutes ?? 0;
  $("plan-after").value = p.buffer_after_minutes ?? 0;
  $("plan-notice").value = p.min_notice_minutes ?? 0;
  $("plan-horizon").value = p.horizon_days;
  $("plan-cap").value = p.per_patient_per_day ?? 0;
  $("plan-exceptions").value = exceptionsText(p.exceptions);
  $("plan-form").scrollIntoView({ block: "start" });
  $("plan-doctor").focus();
}

async function removePlan(p) {
  const key = `${p.doctor}/${p.service}`;
  const yes = await confirmAction(t("admin.plan_remove_title", { doctor: p.doctor }),
    t("admin.plan_remove_text"), t("admin.plan_remove"));
  if (!yes) return;
  act(`plan:${key}`, () => api("DELETE", `/api/v1/admin/plans/${encodeURIComponent(p.doctor)}/${encodeURIComponent(p.service)}`),
    { ok: t("admin.plan_removed") });
}

function setUpPlanForm() {
  $("plan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    let weekly, breaks, exceptions;
    try {
      weekly = DAYS.map((_, i) => parsePeriods($(`plan-hours-${i}`).value));
      breaks = DAYS.map((_, i) => parsePeriods($(`plan-breaks-${i}`).value));
      exceptions = parseExceptions($("plan-exceptions").value);
    } catch (error) {
      note("plan", "error", t("admin.plan_bad_times", { text: error.message }));
      return;
    }
    const number = (id) => Number($(id).value);
    const body = {
      doctor: $("plan-doctor").value,
      service: $("plan-service").value,
      weekly, breaks, exceptions,
      slot_minutes: number("plan-slot"),
      seats: number("plan-seats"),
      buffer_before_minutes: number("plan-before"),
      buffer_after_minutes: number("plan-after"),
      min_notice_minutes: number("plan-notice"),
      horizon_days: number("plan-horizon"),
      per_patient_per_day: number("plan-cap"),
    };
    if (!body.doctor) { note("plan", "error", t("admin.plan_no_doctor")); return; }
    act("plan", () => api("PUT", "/api/v1/admin/plans", body), { ok: t("admin.plan_saved", { doctor: body.doctor }) });
  });
}

// ---------- confirm ----------

function confirmAction(title, text, yesLabel) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yesLabel;
  dialog.returnValue = "";
  dialog.showModal();
  $("confirm-no").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
  });
}

// ---------- live link ----------

function onStatus(connected) {
  const was = state.online;
  state.online = connected;
  showLink(connected, t("admin.offline_banner"));
  // Back after a break: what changed meanwhile.
  if (connected && was === false) loadSoon(0);
}

function onEvent(event) {
  if (!QUEUE_ONLY.has(event.kind)) loadSoon();
}

async function start() {
  const me = topBar();
  setUpClinicForm();
  setUpMessageForm();
  setUpServiceForm();
  setUpRoomForm();
  setUpUserForm();
  setUpTokenForm();
  setUpPlanForm();
  setUpResetDialog();
  state.me = await me;
  await load();
  new Live({ onEvent, onStatus, onDevice, refreshOnEvent: false }).start();
  watchScreens();
}

start();
