// waitless: the check-in kiosk. A patient picks a language, then what they came for, then
// (if the clinic asks) whether they need priority, and gets a number in large type with a QR
// code of their status page. One screen at a time, big touch targets, no scrolling, no way out.
//
// Screens: language → service → priority → ticket → back to the start after reset_secs.
// With appointments: service → "I have an appointment" → code (typed on the screen's keys, or by
// a USB scanner that types the booking's code and Enter) → ticket.
// Also: loading (before the first snapshot) and closed (no active service).
// Issuing is disabled while the server is unreachable (#offline banner).

import { boot, t, api, el, errorText, Live, lockDown, refitOnFonts, svgIcon } from "./live.js";

const settings = boot.settings ?? {};
const languages = boot.languages ?? [];
const hasLanguageScreen = languages.length > 1;
/** A kiosk setting: the admin's live change (in the queue's clinic), else the page's. */
function setting(name) {
  return state.queue?.clinic?.kiosk?.[name] ?? settings[name];
}
const resetMs = () => Math.max(3, Number(setting("reset_secs")) || 20) * 1000;
/** Screens other than the start go back to it when nobody touches them for this long. */
const idleMs = () => Math.max(resetMs(), 60000);


// ---------------------------------------------------------------------------------------------
// Icons: simple line drawings (24×24, stroke = currentColor), our own.

const ICONS = {
  globe: '<circle cx="12" cy="12" r="9.5"/><path d="M2.5 12h19M12 2.5c2.8 2.7 4 6 4 9.5s-1.2 6.8-4 9.5c-2.8-2.7-4-6-4-9.5s1.2-6.8 4-9.5z"/>',
  stethoscope: '<path d="M5 3H4v6a5 5 0 0 0 10 0V3h-1"/><path d="M9 14v1.5a5.5 5.5 0 0 0 11 0V13"/><circle cx="20" cy="11" r="2"/>',
  lab: '<path d="M8 3h8M9.5 3v6L4.6 18.2A2 2 0 0 0 6.4 21h11.2a2 2 0 0 0 1.8-2.8L14.5 9V3"/><path d="M7 14h10"/>',
  pill: '<rect x="2.5" y="8.5" width="19" height="7" rx="3.5" transform="rotate(-45 12 12)"/><path d="M8.5 8.5l7 7"/>',
  tooth: '<path d="M7.5 3C5 3 3.5 5 3.5 7.5c0 3 1.5 4.5 2 7.5.4 2.5 1 6 2.5 6s1.7-2.5 2.2-4.5c.3-1.3.9-2 1.8-2s1.5.7 1.8 2c.5 2 .7 4.5 2.2 4.5s2.1-3.5 2.5-6c.5-3 2-4.5 2-7.5C20.5 5 19 3 16.5 3c-2 0-2.8 1-4.5 1S9.5 3 7.5 3z"/>',
  eye: '<path d="M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12z"/><circle cx="12" cy="12" r="3"/>',
  child: '<circle cx="12" cy="5" r="2.5"/><path d="M7 10l5-1.5 5 1.5M12 8.5V15M12 15l-3 6M12 15l3 6"/>',
  syringe: '<path d="M18 2l4 4M20 4l-3.5 3.5M14 4l6 6M16.5 8.5 8 17l-3-3 8.5-8.5M10 10l2 2M7.5 12.5l2 2M5 14l-3 3 3 3 3-3"/>',
  scan: '<path d="M3 8V5a2 2 0 0 1 2-2h3M16 3h3a2 2 0 0 1 2 2v3M21 16v3a2 2 0 0 1-2 2h-3M8 21H5a2 2 0 0 1-2-2v-3"/><path d="M12 7v10M9 9.5h6M9.5 12.5h5M10 15.5h4"/>',
  heart: '<path d="M12 20s-7.5-4.6-9-9.5C1.8 6.6 4.4 4 7.2 4c2 0 3.6 1.1 4.8 2.8C13.2 5.1 14.8 4 16.8 4c2.8 0 5.4 2.6 4.2 6.5-1.5 4.9-9 9.5-9 9.5z"/><path d="M3.5 12h4l1.5-3 3 6 1.5-3h7"/>',
  card: '<rect x="2.5" y="5" width="19" height="14" rx="2"/><path d="M2.5 10h19M6 15h4"/>',
  desk: '<circle cx="12" cy="6" r="3"/><path d="M6 15a6 6 0 0 1 12 0"/><path d="M2.5 15h19v6h-19z"/>',
  elderly: '<circle cx="10" cy="4" r="2.2"/><path d="M9.5 8 8 14l-2 7M9.5 8l2.8 4.5 2.7 1M8 14l3 3 .5 4"/><path d="M17.5 21v-8.5a1.5 1.5 0 0 0-3 0"/>',
  disabled: '<circle cx="11" cy="4" r="2.2"/><path d="M11 7.5V13h6l2.5 6.5M7.5 10H14"/><path d="M8.5 11.8A5.2 5.2 0 1 0 15 19"/>',
  pregnant: '<circle cx="10.5" cy="4" r="2.2"/><path d="M10 7.5c-1.4.6-2 2-2 3.7V15l1 6M11 8c1.8 1 2 2.4 1.7 3.4 2.4.5 3.8 2 3.8 3.6 0 1.9-1.9 3.2-4.5 3.2L11 21"/>',
  person: '<circle cx="12" cy="4.2" r="2.2"/><path d="M12 7.5V15M12 15l-3 6M12 15l3 6M7 12l5-4 5 4"/>',
  back: '<path d="M19 12H5M11 6l-6 6 6 6"/>',
  closed: '<path d="M20 14.5A8.5 8.5 0 1 1 9.5 4a7 7 0 0 0 10.5 10.5z"/>',
  check: '<path d="M4.5 12.5l5 5 10-11"/>',
  clock: '<circle cx="12" cy="12" r="9.5"/><path d="M12 6.5V12l3.5 2.5"/>',
  people: '<circle cx="8" cy="7" r="2.5"/><circle cx="16.5" cy="7" r="2.5"/><path d="M3.5 19v-3.5a4.5 4.5 0 0 1 9 0V19M12.5 13a4.5 4.5 0 0 1 8.5 2.5V19"/>',
  phone: '<rect x="6" y="2.5" width="12" height="19" rx="2.5"/><path d="M10.5 18.5h3"/>',
  printer: '<path d="M7 9V3.5h10V9"/><rect x="3.5" y="9" width="17" height="7.5" rx="1.5"/><path d="M7 14h10v6.5H7z"/>',
  calendar: '<rect x="3" y="4.5" width="18" height="16" rx="2"/><path d="M3 9.5h18M8 2.5v4M16 2.5v4M7.5 14h3v3h-3z"/>',
  erase: '<path d="M9 5h11v14H9l-6-7z"/><path d="M12.5 9.5l5 5M17.5 9.5l-5 5"/>',
  pencil: '<path d="M15 4.5l4.5 4.5L9 19.5H4.5V15z"/><path d="M12.5 7l4.5 4.5"/>',
};

/** "Closed now", or "Opens again at 09:00" when staff said when (with the day if not today). */
function closedText(service) {
  const at = service.reopens_at ? new Date(service.reopens_at) : null;
  if (!at || Number.isNaN(at.getTime()) || at.getTime() < Date.now()) return t("kiosk.service_closed");
  const sameDay = at.toDateString() === new Date().toDateString();
  const options = sameDay
    ? { hour: "2-digit", minute: "2-digit" }
    : { weekday: "long", hour: "2-digit", minute: "2-digit" };
  return t("kiosk.opens_at", { time: at.toLocaleString(boot.lang, options) });
}

/** An inline SVG icon from ICONS. */
function icon(name, cls = "") {
  return svgIcon(ICONS, name, cls);
}

/** Which drawing suits a service, guessed from its id and name; null: show its letter. */
function serviceIcon(service) {
  const words = `${service.id} ${service.name} ${Object.values(service.names ?? {}).join(" ")}`.toLowerCase();
  const rules = [
    [/lab|blood|sample|patholog|test|जाँच|जांच|रक्त/, "lab"],
    [/pharm|medic|drug|dispens|chemist|दवा/, "pill"],
    [/dent|tooth|teeth|दांत|दाँत/, "tooth"],
    [/eye|ophthal|optic|vision|नेत्र|आँख/, "eye"],
    [/child|paed|pediat|baby|infant|बच्च|शिशु/, "child"],
    [/vacc|immun|inject|टीका/, "syringe"],
    [/x-?ray|radiol|scan|imaging|ultra|sono|mri|\bct\b/, "scan"],
    [/cardi|heart|ecg|hriday|हृदय/, "heart"],
    [/bill|pay|cash|fee|account|भुगतान/, "card"],
    [/recep|regist|enquir|inquir|help|desk|पंजीकरण/, "desk"],
    [/general|opd|doctor|dr\.?\s|physician|consult|clinic|medicine|चिकित्सक|डॉक्टर/, "stethoscope"],
  ];
  for (const [pattern, name] of rules) if (pattern.test(words)) return name;
  return null;
}

// ---------------------------------------------------------------------------------------------
// State

const state = {
  screen: "loading",
  queue: null,
  connected: true,
  fetchFailed: false,
  service: null,
  key: null,
  ticket: null,
  issuing: false,
  notice: null,
  code: "", // the booking code typed so far (the "code" screen)
  phone: "", // the phone number typed so far (the "phone" screen: check-in without the code)
  printer: null, // the printer's device status, when there is a printer
};

/** True when the printer is known not to work (offline, out of paper, cover open, takes no data...). */
function printerDown() {
  return state.printer?.health === "error";
}

/** True while nobody can tell whether the printer prints (it gives no status, or is still connecting). */
function printerUnsure() {
  return state.printer?.health === "unknown";
}

/** A fresh key for one patient's flow: a double tap or a retry issues one ticket. */
function newKey() {
  if (globalThis.crypto?.randomUUID) {
    try { return `kiosk-${crypto.randomUUID()}`; } catch { /* insecure context */ }
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return `kiosk-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function offline() {
  return !state.connected || state.fetchFailed;
}

function services() {
  return state.queue?.services ?? [];
}

/** A service's name in the kiosk's language (the clinic may give names per language). */
function nameOf(service) {
  return service?.names?.[boot.lang] || service?.name || "";
}

function serviceById(id) {
  return services().find((s) => s.id === id);
}

function clinicOpen() {
  return services().some((s) => s.active);
}

function startScreen() {
  return hasLanguageScreen ? "language" : "service";
}

// ---------------------------------------------------------------------------------------------
// Page frame: banner, header (clinic + clock), the screen.

const app = document.getElementById("app");
const banner = el("div", { id: "offline", class: "banner k-offline", role: "alert", hidden: true },
  t("common.offline"));
const clinicName = el("span", { class: "k-clinic" }, document.title.split(" · ").slice(1).join(" · "));
const clock = el("span", { class: "k-clock", "aria-hidden": "true" });
const header = el("header", { class: "k-top" }, clinicName, clock);
const screen = el("section", { class: "k-screen" });
const busy = el("div", { class: "k-busy", role: "status" },
  el("div", { class: "k-busy-box" }, el("div", { class: "k-spinner" }), el("p", {}, t("kiosk.issuing"))));
app.append(header, screen, busy);
document.body.prepend(banner);

const timeFormat = (() => {
  try { return new Intl.DateTimeFormat(boot.lang, { hour: "numeric", minute: "2-digit" }); } catch {
    return new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
  }
})();

function tick() {
  clock.textContent = timeFormat.format(new Date());
}

// ---------------------------------------------------------------------------------------------
// Timers: back to the start after the ticket, or when a patient walks away mid-way.

let resetTimer = null;

function armReset() {
  clearTimeout(resetTimer);
  resetTimer = null;
  const start = startScreen();
  if (state.screen === "ticket") {
    resetTimer = setTimeout(goStart, resetMs());
    const bar = screen.querySelector(".k-countdown-bar");
    if (bar) {
      // Restart the bar's animation so it tells the same time as the timer.
      const fresh = bar.cloneNode(true);
      fresh.style.animationDuration = `${resetMs()}ms`;
      bar.replaceWith(fresh);
    }
  } else if (!state.issuing && state.screen !== start && state.screen !== "loading" && state.screen !== "closed") {
    resetTimer = setTimeout(goStart, idleMs());
  }
}

function goStart() {
  state.service = null;
  state.ticket = null;
  state.notice = null;
  state.code = "";
  state.key = newKey();
  show(clinicOpen() || !state.queue ? startScreen() : "closed");
}

// ---------------------------------------------------------------------------------------------
// Screens

// A double tap must not choose on the next screen too: the second tap of a pair, landing on the
// same spot just after the first one changed the screen, is swallowed.
const DOUBLE_TAP_MS = 500;
const DOUBLE_TAP_PX = 48;
let lastTap = null;   // {x, y, at} of the latest press
let changedBy = null; // the press that led to the screen now shown, with the time it was shown

document.addEventListener("pointerdown", (e) => {
  lastTap = { x: e.clientX, y: e.clientY, at: performance.now() };
}, { capture: true, passive: true });

document.addEventListener("click", (e) => {
  if (!changedBy || performance.now() - changedBy.shownAt > DOUBLE_TAP_MS) return;
  if (Math.hypot(e.clientX - changedBy.x, e.clientY - changedBy.y) <= DOUBLE_TAP_PX
      && e.timeStamp > changedBy.pressAt) {
    e.preventDefault();
    e.stopPropagation();
  }
}, { capture: true });

/** Draws screen `name`; `quiet`: a redraw of the same screen, without the entrance motion. */
function show(name, quiet = false) {
  if (state.queue && !clinicOpen() && name !== "ticket") name = "closed";
  if (!state.queue && name === "service") name = "loading";
  const now = performance.now();
  changedBy = !quiet && lastTap && now - lastTap.at < 1500
    ? { x: lastTap.x, y: lastTap.y, pressAt: lastTap.at, shownAt: now }
    : null;
  screen.classList.toggle("k-quiet", quiet && name === state.screen);
  state.screen = name;
  screen.replaceChildren();
  screen.dataset.screen = name;
  app.dataset.screen = name;
  const build = { language, service, priority, code, phone, initial, ticket, closed, loading }[name];
  build();
  refreshControls();
  armReset();
  layout();
}

/** Puts the screen's parts in place (skipping the absent ones). */
function put(...nodes) {
  screen.append(...nodes.filter(Boolean));
}

function title(text, sub) {
  return el("div", { class: "k-head" },
    el("h1", { class: "k-title" }, text),
    sub ? el("p", { class: "k-sub" }, sub) : null);
}

function noticeBox() {
  return state.notice
    ? el("p", { class: "k-notice", role: "alert" }, state.notice)
    : null;
}

/** Before a patient takes a ticket: says so when the printer does not work. */
function printerBox() {
  return printerDown()
    ? el("p", { class: "k-printer-down", id: "printer-warning", role: "status" },
      icon("printer"), el("span", {}, t("kiosk.printer_down")))
    : null;
}

function backButton(onclick) {
  return el("button", { type: "button", class: "k-back", "data-action": "back", onclick },
    icon("back"), el("span", {}, t("kiosk.back")));
}

function footer(...children) {
  return el("footer", { class: "k-foot" }, ...children);
}

function language() {
  const grid = el("div", { class: "k-grid k-lang-grid", "data-count": languages.length });
  for (const lang of languages) {
    grid.append(el("button", {
      type: "button", class: "k-choice k-lang", "data-lang": lang.code, lang: lang.code,
      onclick: () => chooseLanguage(lang.code),
    }, el("span", { class: "k-lang-name" }, lang.name)));
  }
  put(
    el("div", { class: "k-head k-head-lang" },
      icon("globe", "k-head-icon"),
      el("h1", { class: "k-title" }, t("kiosk.welcome")),
      el("p", { class: "k-sub" }, t("kiosk.choose_language"))),
    grid);
}

function chooseLanguage(code) {
  if (code === boot.lang) {
    // Already this page's language: go on without a reload (works offline too).
    history.replaceState(null, "", `/kiosk?lang=${encodeURIComponent(code)}`);
    state.key = state.key ?? newKey();
    show("service");
  } else if (!offline()) {
    location.assign(`/kiosk?lang=${encodeURIComponent(code)}`);
  }
}

const PALETTE = 6;

function service() {
  const list = services();
  const grid = el("div", { class: "k-grid k-services", "data-count": list.length });
  list.forEach((s, index) => {
    // The admin's picture and colour (kept when services are added); else from the name.
    const drawing = ICONS[s.icon] ? s.icon : serviceIcon(s);
    const tone = Number.isInteger(s.tone) ? s.tone % PALETTE : index % PALETTE;
    const badge = el("span", { class: `k-badge k-tone-${tone}`, "data-tone": tone },
      drawing ? icon(drawing) : el("span", { class: "k-badge-letter" }, s.prefix));
    grid.append(el("button", {
      type: "button",
      class: "k-choice k-service",
      "data-service": s.id,
      "data-issue": "",
      "data-active": s.active ? "true" : "false",
      disabled: !s.active,
      onclick: () => chooseService(s.id),
    }, el("span", { class: "k-inner" }, badge,
      el("span", { class: "k-text" },
        el("span", { class: "k-service-name" }, nameOf(s)),
        s.active ? null : el("span", { class: "k-closed-tag" }, closedText(s))))));
  });
  const booked = setting("appointments")
    ? el("button", {
      type: "button", class: "k-appointment", "data-action": "appointment",
      onclick: () => { state.notice = null; state.code = ""; show("code"); },
    }, icon("calendar"), el("span", {}, t("kiosk.have_appointment")))
    : null;
  put(title(t("kiosk.choose_service")), noticeBox(), printerBox(), grid,
    hasLanguageScreen || booked
      ? footer(hasLanguageScreen ? backButton(() => goStart()) : el("span"), booked)
      : null);
}

// The booking code's letters: no 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B (as the server draws them).
const CODE_KEYS = "ACDEFHJKMNPQRTUVWXY3479";
const CODE_LENGTH = 6;

/** "I have an appointment": the booking code, typed on big keys (or by a scanner). */
function code() {
  const shown = el("div", { class: "k-code-field", id: "booking-code", "aria-live": "polite" });
  const cells = () => {
    shown.replaceChildren(...Array.from({ length: CODE_LENGTH }, (_, i) =>
      el("span", { class: "k-code-cell" }, state.code[i] ?? "")));
    const go = screen.querySelector("[data-action=check-in]");
    if (go) go.disabled = state.code.length !== CODE_LENGTH || offline() || state.issuing;
  };
  const keys = el("div", { class: "k-code-keys" });
  for (const ch of CODE_KEYS) {
    keys.append(el("button", {
      type: "button", class: "k-key", "data-key": ch,
      onclick: () => { if (state.code.length < CODE_LENGTH) { state.code += ch; cells(); } },
    }, ch));
  }
  keys.append(el("button", {
    type: "button", class: "k-key k-key-erase", "data-key": "erase", "aria-label": t("kiosk.erase"),
    onclick: () => { state.code = state.code.slice(0, -1); cells(); },
  }, icon("erase")));
  const byPhone = el("button", {
    type: "button", class: "k-link", "data-action": "by-phone",
    onclick: () => { state.notice = null; state.phone = ""; show("phone"); },
  }, t("kiosk.no_code"));
  put(title(t("kiosk.code_title"), t("kiosk.code_hint")), noticeBox(), shown, keys,
    footer(backButton(() => { state.notice = null; show("service"); }), byPhone,
      el("button", {
        type: "button", class: "k-done", "data-action": "check-in", disabled: true,
        onclick: () => checkIn(),
      }, icon("check"), el("span", {}, t("kiosk.check_in")))));
  cells();
  codeRedraw = cells;
}

let codeRedraw = null;

const PHONE_MAX = 15;

/** No code: the phone number the booking was made with, on big number keys. */
function phone() {
  const shown = el("div", { class: "k-code-field k-phone-field", id: "booking-phone", "aria-live": "polite" });
  const redraw = () => {
    shown.textContent = state.phone || "\u00a0";
    const next = screen.querySelector("[data-action=phone-next]");
    if (next) next.disabled = state.phone.length < 6 || offline() || state.issuing;
  };
  const keys = el("div", { class: "k-code-keys k-phone-keys" });
  for (const digit of "1234567890") {
    keys.append(el("button", {
      type: "button", class: "k-key", "data-key": digit,
      onclick: () => { if (state.phone.length < PHONE_MAX) { state.phone += digit; redraw(); } },
    }, digit));
  }
  keys.append(el("button", {
    type: "button", class: "k-key k-key-erase", "data-key": "erase", "aria-label": t("kiosk.erase"),
    onclick: () => { state.phone = state.phone.slice(0, -1); redraw(); },
  }, icon("erase")));
  put(title(t("kiosk.phone_title"), t("kiosk.phone_hint")), noticeBox(), shown, keys,
    footer(backButton(() => { state.notice = null; show("code"); }),
      el("button", {
        type: "button", class: "k-done", "data-action": "phone-next", disabled: true,
        onclick: () => { state.notice = null; show("initial"); },
      }, icon("check"), el("span", {}, t("kiosk.next")))));
  redraw();
  codeRedraw = redraw;
}

/** Then the first letter of the name on the booking: a letter checks in. */
function initial() {
  const keys = el("div", { class: "k-code-keys k-letter-keys" });
  for (const letter of "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
    keys.append(el("button", {
      type: "button", class: "k-key", "data-key": letter,
      onclick: () => checkIn({ phone: state.phone, initial: letter }),
    }, letter));
  }
  put(title(t("kiosk.initial_title"), t("kiosk.initial_hint")), noticeBox(), keys,
    footer(backButton(() => { state.notice = null; show("phone"); }), null));
}
// A USB barcode scanner (or a keyboard) types the code and Enter.
document.addEventListener("keydown", (e) => {
  if (state.screen === "phone" && !state.issuing) {
    if (/^[0-9]$/.test(e.key) && state.phone.length < PHONE_MAX) state.phone += e.key;
    else if (e.key === "Backspace") state.phone = state.phone.slice(0, -1);
    else if (e.key === "Enter" && state.phone.length >= 6) { show("initial"); return; }
    else return;
    e.preventDefault();
    codeRedraw?.();
    return;
  }
  if (state.screen !== "code" || state.issuing) return;
  if (e.key === "Enter") {
    if (state.code.length === CODE_LENGTH) checkIn();
  } else if (e.key === "Backspace") {
    state.code = state.code.slice(0, -1);
  } else if (e.key.length === 1 && CODE_KEYS.includes(e.key.toUpperCase())
             && state.code.length < CODE_LENGTH) {
    state.code += e.key.toUpperCase();
  } else {
    return;
  }
  e.preventDefault();
  codeRedraw?.();
});

/** Checks in by the code typed, or by `byPhone` ({ phone, initial }). */
async function checkIn(byPhone = null) {
  if (state.issuing || offline() || (!byPhone && state.code.length !== CODE_LENGTH)) return;
  state.issuing = true;
  state.notice = null;
  refreshControls();
  clearTimeout(resetTimer);
  try {
    const who = byPhone ?? { code: state.code };
    const answer = await api("POST", "/api/v1/check-in", { ...who, lang: boot.lang });
    state.issuing = false;
    state.ticket = answer;
    state.code = "";
    state.phone = "";
    show("ticket");
  } catch (error) {
    state.issuing = false;
    if (error.status === 0) {
      state.fetchFailed = true;
      live.reconnect();
      state.notice = t("kiosk.error");
    } else {
      state.notice = error.status >= 500 ? t("kiosk.error") : errorText(error);
      state.code = "";
    }
    // By phone, a refusal goes back to the number (to check it); by code, to the code.
    show(byPhone ? "phone" : "code", !byPhone);
  }
}

function chooseService(id) {
  if (state.issuing || offline()) return;
  const s = serviceById(id);
  if (!s || !s.active) return;
  state.service = id;
  state.notice = null;
  state.key = state.key ?? newKey();
  // The question is the kiosk's setting, and each service may skip it (billing, pharmacy).
  if (setting("priority") && s.ask_priority !== false) {
    show("priority");
  } else {
    issue("normal");
  }
}

function priority() {
  const choice = (kind, priorityValue, iconName, label, tone) => el("button", {
    type: "button",
    class: `k-choice k-priority k-priority-${kind}`,
    "data-priority": priorityValue,
    "data-kind": kind,
    "data-issue": "",
    onclick: () => issue(priorityValue),
  }, el("span", { class: "k-inner" },
    el("span", { class: `k-badge ${tone}` }, icon(iconName)),
    el("span", { class: "k-text" }, el("span", { class: "k-choice-label" }, label))));
  const grid = el("div", { class: "k-grid k-priorities", "data-count": 4 },
    choice("elderly", "priority", "elderly", t("kiosk.priority_elderly"), "k-tone-prio"),
    choice("disabled", "priority", "disabled", t("kiosk.priority_disabled"), "k-tone-prio"),
    choice("pregnant", "priority", "pregnant", t("kiosk.priority_pregnant"), "k-tone-prio"),
    choice("no", "normal", "person", t("kiosk.priority_no"), "k-tone-0"));
  const chosen = serviceById(state.service);
  put(
    title(t("kiosk.priority_question"), t("kiosk.priority_hint")),
    noticeBox(),
    grid,
    footer(backButton(() => { state.notice = null; show("service"); }),
      chosen ? el("span", { class: "k-chosen" }, nameOf(chosen)) : null));
}

function waitText(ticket) {
  const range = ticket?.eta_range_minutes;
  if (!Array.isArray(range)) return t("common.waiting_unknown");
  const [low, high] = range;
  if (high <= 0) return t("kiosk.wait_soon");
  if (low === high) return t("common.minutes", { n: high });
  return t("common.minutes_range", { low, high });
}

function aheadText(position) {
  if (position === null || position === undefined) return "";
  if (position <= 0) return t("kiosk.ahead_none");
  if (position === 1) return t("kiosk.ahead_one");
  return t("kiosk.ahead_many", { n: position });
}

function ticket() {
  const tk = state.ticket;
  const s = serviceById(tk.service);
  const qr = tk.status_path
    ? el("figure", { class: "k-qr" },
      el("img", {
        id: "ticket-qr", src: `${tk.status_path}/qr.svg`, alt: "", width: 200, height: 200,
        onerror: (e) => e.target.closest("figure")?.setAttribute("hidden", ""),
      }),
      el("figcaption", {}, icon("phone"), el("span", {}, t("kiosk.scan_to_follow"))))
    : null;
  const card = el("div", { class: "k-ticket-card" },
    el("p", { class: "k-ticket-label" }, t("kiosk.your_number")),
    el("div", { id: "ticket-number", class: "k-ticket-number" }, tk.number),
    el("p", { id: "ticket-service", class: "k-ticket-service" }, s ? nameOf(s) : tk.service,
      tk.priority && tk.priority !== "normal"
        ? el("span", { class: "k-prio-tag" }, t(`common.priority_${tk.priority}`))
        : null),
    el("div", { class: "k-facts" },
      el("p", { class: "k-fact", hidden: tk.position === null || tk.position === undefined },
        icon("people"), el("span", { id: "ticket-ahead" }, aheadText(tk.position))),
      el("p", { class: "k-fact" }, icon("clock"),
        el("span", {}, el("span", { class: "k-fact-label" }, `${t("kiosk.estimated_wait")}: `),
          el("strong", { id: "ticket-wait" }, waitText(tk))))));
  put(
    el("div", { class: "k-ticket" }, card, qr),
    footer(
      printNote(tk),
      el("button", { type: "button", class: "k-done", "data-action": "done", onclick: () => goStart() },
        icon("check"), el("span", {}, t("kiosk.done")))),
    el("div", { class: "k-countdown", "aria-hidden": "true" }, el("div", { class: "k-countdown-bar" })));
}

/**
 * Under the ticket: "printing" when a ready printer took it; "if none comes out, note your
 * number" when nobody can tell (the answer says `unconfirmed`, or the printer's health is unknown); else "please note your number" (with why, when the printer is down).
 */
function printNote(tk) {
  const printing = (tk.print === "queued" || tk.print === "unconfirmed") && !printerDown();
  const unsure = tk.print === "unconfirmed" || printerUnsure();
  const text = !printing
    ? (tk.print === "delayed" || printerDown() ? t("kiosk.printer_down") : t("kiosk.note_number"))
    : unsure ? t("kiosk.printing_unsure") : t("kiosk.printing");
  return el("p", { class: "k-note", id: "print-note", dataset: { print: tk.print ?? "none" } },
    icon(printing ? "printer" : "pencil"), el("span", {}, text));
}

function onDevice(device) {
  if (device.id !== "printer") return;
  const wasDown = printerDown();
  const wasUnsure = printerUnsure();
  state.printer = device;
  if (state.screen === "ticket" && wasUnsure !== printerUnsure()) {
    document.getElementById("print-note")?.replaceWith(printNote(state.ticket));
  }
  if (wasDown === printerDown()) return;
  if (state.screen === "service") show("service", true);
  else if (state.screen === "ticket") document.getElementById("print-note")?.replaceWith(printNote(state.ticket));
}

function closed() {
  put(el("div", { class: "k-message" },
    icon("closed", "k-message-icon"),
    el("h1", { class: "k-title" }, t("common.clinic_closed")),
    el("p", { class: "k-sub" }, t("kiosk.closed_detail"))));
}

function loading() {
  put(el("div", { class: "k-message" },
    el("div", { class: "k-spinner" }),
    el("p", { class: "k-sub" }, t("kiosk.issuing"))));
}

/** Enables or disables what would issue a ticket; shows the banner. */
function refreshControls() {
  const down = offline();
  banner.hidden = !down;
  app.classList.toggle("is-offline", down);
  app.classList.toggle("is-busy", state.issuing);
  for (const button of screen.querySelectorAll("[data-issue]")) {
    const inactive = button.dataset.active === "false";
    button.disabled = down || state.issuing || inactive;
  }
  for (const button of screen.querySelectorAll("[data-lang]")) {
    button.disabled = down && button.dataset.lang !== boot.lang;
  }
  for (const button of screen.querySelectorAll("[data-action=back]")) {
    button.disabled = state.issuing;
  }
  if (state.screen === "code") codeRedraw?.();
}

/** Shapes a grid of n buttons to fill its box with the biggest buttons of a pleasant shape. */
function shape(grid) {
  const n = grid.children.length;
  if (!n) return;
  const w = grid.clientWidth;
  // The grid's height follows its rows (CSS): shape it for the room the screen leaves it.
  const gap = parseFloat(getComputedStyle(screen).rowGap) || 0;
  let h = screen.clientHeight - (parseFloat(getComputedStyle(screen).paddingTop) || 0)
    - (parseFloat(getComputedStyle(screen).paddingBottom) || 0);
  for (const part of screen.children) {
    if (part !== grid && getComputedStyle(part).position !== "absolute") h -= part.offsetHeight + gap;
  }
  if (innerHeight > innerWidth) h *= 0.75; // portrait: keep the choices within reach
  if (!w || !h) return;
  const ideal = grid.classList.contains("k-lang-grid") ? 1.6
    : grid.classList.contains("k-priorities") ? 1.0 : 1.5; // width / height
  let best = { cols: 1, rows: n, score: -1 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const cellW = w / cols;
    const cellH = h / rows;
    const score = Math.min(cellW, cellH * ideal);
    if (score > best.score * 1.02) best = { cols, rows, score };
  }
  grid.style.setProperty("--cols", best.cols);
  grid.style.setProperty("--rows", best.rows);
}

function layout() {
  for (const grid of screen.querySelectorAll(".k-grid")) shape(grid);
  fitNames();
}

/** The smallest text on the kiosk, px. */
const LEAST_PX = 18;

/**
 * Service names are never cut: each wraps, and while it is taller than its button (or a word
 * wider) it gets smaller, down to 18 px; only then does a word break. All names of the screen
 * get the size of the one that needed the smallest, so the buttons read as one set.
 */
function fitNames() {
  const names = [...screen.querySelectorAll(".k-service-name")];
  if (!names.length) return;
  const texts = names.map((name) => name.closest(".k-text"));
  for (const text of texts) text.style.minHeight = "";
  for (const name of names) {
    name.style.fontSize = "";
    name.classList.remove("k-break");
  }
  const over = (name) => {
    const inner = name.closest(".k-inner");
    return name.scrollWidth > name.clientWidth + 0.5 || inner.scrollHeight > inner.clientHeight + 0.5;
  };
  let size = parseFloat(getComputedStyle(names[0]).fontSize);
  while (names.some(over) && size > LEAST_PX) {
    size = Math.max(LEAST_PX, size * 0.94);
    for (const name of names) name.style.fontSize = `${size}px`;
  }
  for (const name of names) {
    if (name.scrollWidth > name.clientWidth + 0.5) name.classList.add("k-break");
  }
  // One height for all (the tallest fits, so all do; a closed service's note counts): the
  // drawings stay in line.
  const tallest = Math.max(...texts.map((text) => text.getBoundingClientRect().height));
  for (const text of texts) text.style.minHeight = `${tallest}px`;
}

// ---------------------------------------------------------------------------------------------
// Issuing

async function issue(priorityValue) {
  if (state.issuing || offline() || !state.service) return;
  state.issuing = true;
  state.key = state.key ?? newKey();
  state.notice = null;
  screen.querySelector(".k-notice")?.remove();
  refreshControls();
  clearTimeout(resetTimer);
  try {
    const answer = await api("POST", "/api/v1/tickets",
      { service: state.service, priority: priorityValue, source: "kiosk", lang: boot.lang },
      { "Idempotency-Key": state.key });
    state.fetchFailed = false;
    state.issuing = false;
    state.ticket = answer;
    state.key = null; // this flow is over: the next patient gets a new key
    show("ticket");
  } catch (error) {
    state.issuing = false;
    if (error.status === 0) {
      // Not reached: keep the key, so trying again cannot issue a second ticket. Issuing stays
      // off until the live link has shown the server answers again (its next snapshot).
      state.fetchFailed = true;
      live.reconnect();
      state.notice = t("kiosk.error");
      show(state.screen, true);
    } else if (error.code === "service-closed") {
      state.key = newKey();
      state.notice = `${nameOf(serviceById(state.service))} — ${errorText(error)}`;
      state.service = null;
      show("service");
    } else if (error.status >= 500) {
      // A server fault may have issued it: the same key replays it.
      state.notice = t("kiosk.error");
      show(state.screen, true);
    } else {
      state.key = newKey();
      state.notice = errorText(error);
      show(state.screen, true);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Live queue

let servicesSeen = "";

function onSnapshot(queue) {
  const first = state.queue === null;
  state.queue = queue;
  // Most events change only the waiting lists: redraw the choices only when the services change.
  const servicesNow = JSON.stringify(queue.services ?? []);
  const servicesChanged = servicesNow !== servicesSeen;
  servicesSeen = servicesNow;
  state.fetchFailed = false;
  if (queue.clinic?.name) clinicName.textContent = queue.clinic.name;
  if (first) {
    const wanted = hasLanguageScreen && !settings.language_chosen ? "language" : "service";
    state.key = newKey();
    show(wanted);
    return;
  }
  if (state.screen === "ticket" && state.ticket) {
    // Keep "people ahead" and the wait true while the ticket is on screen (the snapshot
    // carries counts, not tickets: read this one).
    const shown = state.ticket;
    api("GET", `/api/v1/tickets/${shown.id}`).then((mine) => {
      if (state.ticket !== shown || mine.state !== "waiting") return;
      const ahead = document.getElementById("ticket-ahead");
      const wait = document.getElementById("ticket-wait");
      if (ahead) {
        ahead.textContent = aheadText(mine.position);
        ahead.parentElement.hidden = false;
      }
      if (wait) wait.textContent = waitText(mine);
    }).catch(() => {});
    refreshControls();
    return;
  }
  if (state.issuing) return;
  if (!clinicOpen()) {
    if (state.screen !== "closed") show("closed");
  } else if (state.screen === "closed") {
    show(startScreen());
  } else if (state.screen === "service" && servicesChanged) {
    show("service", true);
  } else {
    refreshControls();
  }
}

function onStatus(connected) {
  state.connected = connected;
  refreshControls();
}

const live = new Live({ onSnapshot, onStatus, onDevice });

// ---------------------------------------------------------------------------------------------
// Start

lockDown();
document.addEventListener("pointerdown", () => {
  if (state.screen !== "loading" && !state.issuing) armReset();
}, { passive: true });
window.addEventListener("resize", layout);
refitOnFonts(layout);
tick();
setInterval(tick, 15000);
show("loading");
live.start();
