// waitless notifications page (/admin/notifications): how each transport is doing (health,
// detail, readings), a test message through the running transport, the outbox newest first with
// a filter by state and a Resend button per sent or failed row, and each message text per
// language with its length in text messages. Recipients are shown masked (the API's
// `to_masked`). Times are the clinic's (its time zone). The list refreshes every 10 seconds.

import { boot, t, api, el, errorText, has } from "./live.js";
import { $, loginAgain, topBar } from "./page.js";
import { formatTime } from "./zone.js";

const ZONE = boot.settings?.time_zone ?? null;
const REFRESH_MS = 10_000;

const state = { page: null, filter: "" };

function label(prefix, word) {
  return has(`notifications.${prefix}_${word}`) ? t(`notifications.${prefix}_${word}`) : word;
}

function time(iso) {
  return iso ? el("time", { datetime: iso }, formatTime(iso, ZONE, boot.lang, false)) : "—";
}

// ---------- transports ----------

function transport(view) {
  const h = view.health;
  const word = h ? (h.ok ? "ok" : "bad") : "unknown";
  const readings = (h?.readings ?? []).map(([name, value]) =>
    [el("dt", {}, name), el("dd", {}, value)]).flat();
  return el("li", { class: `transport health-${word}`, dataset: { channel: view.channel } },
    el("div", { class: "transport-head" },
      el("strong", {}, label("channel", view.channel)),
      el("span", { class: `health-badge is-${word}` }, t(`notifications.health_${word}`))),
    el("p", { class: "transport-name" }, view.transport),
    h?.detail ? el("p", { class: "transport-detail" }, h.detail) : null,
    readings.length
      ? el("dl", { class: "readings", "aria-label": t("notifications.readings") }, ...readings)
      : null);
}

/** The webhook as one more entry: where it posts, how far the receiver has acknowledged. */
function webhook(w) {
  const word = w.last_error ? "bad" : "ok";
  return el("li", { class: `transport health-${word}`, dataset: { channel: "webhook" } },
    el("div", { class: "transport-head" },
      el("strong", {}, t("notifications.webhook")),
      el("span", { class: `health-badge is-${word}` }, t(`notifications.health_${word}`))),
    el("p", { class: "transport-name" }, w.target + (w.signed ? ` · ${t("notifications.webhook_signed")}` : "")),
    el("p", { class: "transport-detail" }, w.last_error ?? t("notifications.webhook_acked", { seq: w.acked_seq })));
}

function showTransports(transports, hook) {
  $("transports").replaceChildren(...transports.map(transport), ...(hook ? [webhook(hook)] : []));
  $("transports-none").hidden = transports.length > 0 || Boolean(hook);
  const channels = new Set(transports.map((tr) => tr.channel));
  const select = $("test-channel");
  if (channels.size && !channels.has(select.value)) select.value = [...channels][0];
}

// ---------- the outbox ----------

function row(n) {
  const canResend = n.state === "sent" || n.state === "failed";
  const kind = label("kind", n.kind);
  const when = formatTime(n.created_at, ZONE, boot.lang, false);
  return el("tr", { dataset: { key: n.key, state: n.state } },
    el("td", { class: "cell-time" }, time(n.created_at)),
    el("td", {}, kind),
    el("td", {}, label("channel", n.channel)),
    el("td", { class: "cell-to" }, n.to_masked),
    el("td", {}, el("span", { class: `state-tag is-${n.state}` }, label("state", n.state))),
    el("td", { class: "cell-num" }, String(n.attempts)),
    el("td", { class: "cell-time" }, n.state === "queued" ? time(n.next_try) : "—"),
    el("td", { class: "cell-error" }, n.last_error ?? "—"),
    el("td", {}, n.delivery ? label("delivery", n.delivery) : "—"),
    el("td", { class: "cell-actions" }, canResend
      ? el("button", {
        type: "button", class: "btn btn-small btn-quiet resend",
        "aria-label": t("notifications.resend_label", { kind, time: when }),
        onclick: (e) => resend(n.key, e.currentTarget),
      }, t("notifications.resend"))
      : null));
}

function showOutbox() {
  const rows = (state.page?.notifications ?? []).filter((n) => !state.filter || n.state === state.filter);
  $("outbox-body").replaceChildren(...(rows.length
    ? rows.map(row)
    : [el("tr", {}, el("td", { colspan: "10", class: "muted" }, t("notifications.none")))]));
}

async function resend(key, button) {
  button.disabled = true;
  const note = $("outbox-note");
  try {
    await api("POST", `/api/v1/notifications/${encodeURIComponent(key)}/resend`);
    note.className = "note note-ok";
    note.textContent = t("notifications.resent");
    await load();
  } catch (error) {
    if (loginAgain(error)) return;
    note.className = "note note-error";
    note.textContent = errorText(error);
    button.disabled = false;
  }
}

// ---------- message texts ----------

function showTemplates(templates) {
  const names = new Map((boot.languages ?? []).map((l) => [l.code, l.name]));
  $("templates-body").replaceChildren(...templates.map((tp) => el("tr", { lang: tp.language },
    el("td", {}, names.get(tp.language) ?? tp.language),
    el("td", {}, label("kind", tp.kind)),
    el("td", { class: "cell-text" }, tp.text),
    el("td", { class: "cell-num" }, String(tp.segments)))));
}

// ---------- the test message ----------

async function sendTest(event) {
  event.preventDefault();
  const result = $("test-result");
  const button = $("test-send");
  const to = $("test-to");
  if (!to.value.trim()) {
    result.className = "note note-error";
    result.textContent = t("errors.invalid-recipient");
    to.setAttribute("aria-invalid", "true");
    to.focus();
    return;
  }
  to.removeAttribute("aria-invalid");
  button.disabled = true;
  result.className = "note note-busy";
  result.textContent = t("notifications.test_sending");
  try {
    const sent = await api("POST", "/api/v1/notifications/test", {
      channel: $("test-channel").value, to: to.value.trim(), language: $("test-language").value,
    });
    result.className = "note note-ok";
    result.textContent = sent.reference
      ? t("notifications.test_sent_reference", { reference: sent.reference })
      : t("notifications.test_sent");
  } catch (error) {
    if (loginAgain(error)) return;
    result.className = "note note-error";
    const why = error.code === "send-failed" && error.message ? error.message : errorText(error);
    result.textContent = t("notifications.test_failed", { message: why });
    if (error.code === "invalid-recipient") to.setAttribute("aria-invalid", "true");
  } finally {
    button.disabled = false;
  }
}

// ---------- loading ----------

async function load() {
  try {
    state.page = await api("GET", "/api/v1/notifications");
    $("load-error").hidden = true;
    showTransports(state.page.transports, state.page.webhook);
    showTemplates(state.page.templates);
    showOutbox();
  } catch (error) {
    if (loginAgain(error)) return;
    $("load-error").textContent = errorText(error);
    $("load-error").hidden = false;
  }
}

async function start() {
  topBar();
  $("zone-hint").textContent = ZONE ? t("audit.zone", { zone: ZONE }) : t("audit.zone_browser");
  const language = boot.settings?.language;
  if (language && [...$("test-language").options].some((o) => o.value === language)) {
    $("test-language").value = language;
  }
  $("test-form").addEventListener("submit", sendTest);
  $("filter-state").addEventListener("change", (e) => { state.filter = e.target.value; showOutbox(); });
  await load();
  setInterval(load, REFRESH_MS);
}

start();
