// waitless: a patient's status page, opened from the QR code on the ticket (/t/{token}).
// It shows this one ticket — number, service, state, people ahead, estimated wait, and when it is
// called, the room — and nothing about anyone else. It re-reads /api/v1/status/{token} on load,
// on every live event and whenever the live link comes back (Live checks the link when the
// phone wakes the page); when the ticket is called it beeps (WebAudio) and vibrates where the
// phone allows. Once the visit is done it asks "How was your visit?" (five faces and an optional
// comment), once, while the status data says it is open (up to 7 days after the visit, also the
// next morning when the clinic day has closed): the server refuses a second answer, and the
// status data says it was given.

import { boot, t, api, el, Live, svgIcon, errorText } from "./live.js";

const settings = boot.settings ?? {};
const token = String(settings.token ?? "");

const ICONS = {
  people: '<circle cx="8" cy="7" r="2.5"/><circle cx="16.5" cy="7" r="2.5"/><path d="M3.5 19v-3.5a4.5 4.5 0 0 1 9 0V19M12.5 13a4.5 4.5 0 0 1 8.5 2.5V19"/>',
  clock: '<circle cx="12" cy="12" r="9.5"/><path d="M12 6.5V12l3.5 2.5"/>',
  bell: '<path d="M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15z"/><path d="M10 20.5a2 2 0 0 0 4 0"/>',
  bellOn: '<path d="M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15z"/><path d="M10 20.5a2 2 0 0 0 4 0M2.5 8.5A9 9 0 0 1 5 4M21.5 8.5A9 9 0 0 0 19 4"/>',
  door: '<path d="M5 21V4a1 1 0 0 1 1-1h9a1 1 0 0 1 1 1v17M3 21h18"/><path d="M16 6h2.5a1 1 0 0 1 1 1v14"/><circle cx="12.5" cy="12.5" r="1"/>',
  check: '<circle cx="12" cy="12" r="9.5"/><path d="M7.5 12.5l3 3 6-6.5"/>',
  info: '<circle cx="12" cy="12" r="9.5"/><path d="M12 11v6M12 7.5v.5"/>',
  cross: '<circle cx="12" cy="12" r="9.5"/><path d="M8.5 8.5l7 7M15.5 8.5l-7 7"/>',
  question: '<circle cx="12" cy="12" r="9.5"/><path d="M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6v.6M12 17v.5"/>',
  face1: '<circle cx="12" cy="12" r="9.5"/><path d="M8.5 9.5v.5M15.5 9.5v.5M7.5 17q4.5-4.5 9 0"/>',
  face2: '<circle cx="12" cy="12" r="9.5"/><path d="M8.5 9.5v.5M15.5 9.5v.5M8.5 16.5q3.5-2.2 7 0"/>',
  face3: '<circle cx="12" cy="12" r="9.5"/><path d="M8.5 9.5v.5M15.5 9.5v.5M8.5 15.5h7"/>',
  face4: '<circle cx="12" cy="12" r="9.5"/><path d="M8.5 9.5v.5M15.5 9.5v.5M8.5 14.5q3.5 2.2 7 0"/>',
  face5: '<circle cx="12" cy="12" r="9.5"/><path d="M8.5 9.5v.5M15.5 9.5v.5M7.5 14q4.5 4.5 9 0"/>',
  live: '<circle cx="12" cy="12" r="2"/><path d="M7.8 7.8a6 6 0 0 0 0 8.4M16.2 7.8a6 6 0 0 1 0 8.4M5 5a10 10 0 0 0 0 14M19 5a10 10 0 0 1 0 14"/>',
};

/** An inline SVG icon from ICONS. */
function icon(name, cls = "") {
  return svgIcon(ICONS, name, cls);
}

// ---------------------------------------------------------------------------------------------
// Frame

const app = document.getElementById("app");
const clinicName = el("p", { class: "s-clinic" }, document.title.split(" · ").slice(1).join(" · "));
const connection = el("p", { id: "status-connection", class: "s-conn", role: "status", hidden: true },
  t("common.reconnecting"));
const body = el("div", { class: "s-body" });
const footer = el("footer", { class: "s-foot" });
app.append(el("header", { class: "s-top" }, clinicName), connection, body, footer);

function languageLinks() {
  const languages = boot.languages ?? [];
  if (languages.length < 2) return null;
  return el("nav", { class: "s-langs", "aria-label": "Language" },
    languages.map((l) => el("a", {
      href: `?lang=${encodeURIComponent(l.code)}`,
      lang: l.code,
      class: "s-lang",
      "aria-current": l.code === boot.lang ? "true" : null,
    }, l.name)));
}

// ---------------------------------------------------------------------------------------------
// Sound and vibration

let audio = null;
let soundOn = false;

function audioContext() {
  if (!audio) {
    const Context = globalThis.AudioContext ?? globalThis.webkitAudioContext;
    if (!Context) return null;
    try { audio = new Context(); } catch { return null; }
  }
  if (audio.state === "suspended") audio.resume().catch(() => {});
  return audio;
}

/** Two short soft tones (about 0.7 s in all). */
function beep() {
  const ctx = audioContext();
  if (!ctx) return;
  const start = ctx.currentTime + 0.05;
  [[0, 880], [0.3, 1175], [0.6, 1568]].forEach(([offset, frequency]) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.value = frequency;
    const at = start + offset;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.5, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.26);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + 0.28);
  });
}

function alertPatient() {
  beep();
  try { navigator.vibrate?.([400, 150, 400, 150, 800]); } catch { /* not allowed */ }
}

// Phones allow sound only after a touch: any touch on the page unlocks it.
document.addEventListener("pointerdown", () => audioContext(), { once: true, passive: true });

// ---------------------------------------------------------------------------------------------
// Drawing

const FINAL = {
  done: ["check", "status.done"],
  no_show: ["info", "status.no_show"],
  cancelled: ["cross", "status.cancelled"],
};

function waitText(view) {
  const range = view.eta_range_minutes;
  if (!Array.isArray(range)) return t("common.waiting_unknown");
  const [low, high] = range;
  if (high <= 0) return t("status.wait_soon");
  if (low === high) return t("common.minutes", { n: high });
  return t("common.minutes_range", { low, high });
}

function aheadText(position) {
  if (position === null || position === undefined) return "";
  if (position <= 0) return t("status.ahead_none");
  if (position === 1) return t("status.ahead_one");
  return t("status.ahead_many", { n: position });
}

/** status.go_to with the room's name set in bold: the one word the patient must catch. */
function withRoom(room) {
  const text = t("status.go_to", { room: "\u0000" });
  const [before, after = ""] = text.split("\u0000");
  return [before, el("strong", { class: "s-room-name" }, room), after].filter((part) => part !== "");
}

function soundButton() {
  return el("button", {
    type: "button",
    id: "status-sound",
    class: "s-sound",
    "aria-pressed": soundOn ? "true" : "false",
    onclick: (e) => {
      soundOn = true;
      audioContext();
      beep();
      const button = e.currentTarget;
      button.setAttribute("aria-pressed", "true");
      button.replaceChildren(icon("bellOn"), el("span", {}, t("status.sound_enabled")));
    },
  }, icon(soundOn ? "bellOn" : "bell"), el("span", {}, t(soundOn ? "status.sound_enabled" : "status.sound_on")));
}

// ---------------------------------------------------------------------------------------------
// "How was your visit?"

/** This page sent the answer (the next read of the status says so too). */
let feedbackSent = false;
/** The score chosen, before it is sent. */
let feedbackScore = null;

function feedbackThanks() {
  return el("div", { id: "status-feedback-thanks", class: "s-feedback s-feedback-done", role: "status" },
    icon("check", "s-feedback-icon"), el("p", {}, t("status.feedback_thanks")));
}

function feedbackForm() {
  const problem = el("p", { id: "status-feedback-error", class: "s-feedback-error", role: "alert", hidden: true });
  const faces = [1, 2, 3, 4, 5].map((score) => el("button", {
    type: "button",
    class: "s-face",
    "data-score": String(score),
    "aria-pressed": feedbackScore === score ? "true" : "false",
    onclick: () => {
      feedbackScore = score;
      problem.hidden = true;
      for (const face of faces) {
        face.setAttribute("aria-pressed", face === faces[score - 1] ? "true" : "false");
      }
    },
  }, icon(`face${score}`, "s-face-icon"), el("span", { class: "s-face-word" }, t(`status.feedback_${score}`))));
  const comment = el("textarea", {
    id: "status-feedback-comment",
    class: "s-feedback-comment",
    rows: "3",
    maxlength: "500",
  });
  const send = el("button", { type: "submit", id: "status-feedback-send", class: "s-feedback-send" },
    t("status.feedback_send"));
  const form = el("form", {
    id: "status-feedback",
    class: "s-feedback",
    "aria-labelledby": "status-feedback-question",
    onsubmit: async (e) => {
      e.preventDefault();
      if (feedbackScore === null) {
        problem.textContent = t("errors.invalid-score");
        problem.hidden = false;
        faces[0].focus();
        return;
      }
      send.disabled = true;
      try {
        const text = comment.value.trim();
        await api("POST", `/api/v1/status/${encodeURIComponent(token)}/feedback`,
          text ? { score: feedbackScore, comment: text } : { score: feedbackScore });
        feedbackSent = true;
      } catch (error) {
        if (error.code === "feedback-given") {
          feedbackSent = true;
        } else {
          problem.textContent = errorText(error);
          problem.hidden = false;
          send.disabled = false;
          return;
        }
      }
      form.replaceWith(feedbackThanks());
    },
  },
  el("h2", { id: "status-feedback-question", class: "s-feedback-question" }, t("status.feedback_question")),
  el("p", { class: "s-feedback-hint" }, t("status.feedback_hint")),
  el("div", { class: "s-faces", role: "group", "aria-labelledby": "status-feedback-question" }, faces),
  el("label", { for: "status-feedback-comment", class: "s-feedback-label" }, t("status.feedback_comment")),
  comment,
  problem,
  send);
  return form;
}

let last = null;

function render(view) {
  const previous = last;
  // Most events are about other tickets: nothing to redraw.
  if (previous && JSON.stringify(previous) === JSON.stringify(view)) return;
  last = view;
  const state = view.state;
  app.dataset.state = state;

  const head = el("div", { class: "s-ticket" },
    el("p", { class: "s-label" }, t("status.your_number")),
    el("p", { id: "status-number", class: "s-number" }, view.number),
    view.service_name ? el("p", { class: "s-service" }, view.service_name) : null,
    el("p", { id: "status-state", class: "s-state", "data-state": state }, t(`common.state_${state}`)));

  const parts = [head];
  if (state === "called") {
    const again = (view.recall_count ?? 0) > 0;
    parts.push(el("div", { class: "s-called", role: "alert" },
      icon("door", "s-called-icon"),
      el("h1", { class: "s-called-title" }, t("status.called")),
      el("p", { id: "status-room", class: "s-room" }, withRoom(view.room_name ?? "")),
      again ? el("p", { class: "s-again" }, t("status.called_again")) : null));
  } else if (state === "waiting") {
    parts.push(el("div", { class: "s-facts" },
      el("p", { class: "s-fact" }, icon("people"),
        el("span", { id: "status-ahead" }, aheadText(view.position))),
      el("p", { class: "s-fact" }, icon("clock"),
        el("span", {}, el("span", { class: "s-fact-label" }, t("status.estimated_wait")),
          el("strong", { id: "status-wait" }, waitText(view))))),
    soundButton());
  } else if (FINAL[state]) {
    const [drawing, key] = FINAL[state];
    parts.push(el("div", { class: `s-final s-final-${state}` },
      icon(drawing, "s-final-icon"), el("p", {}, t(key))));
    if (view.feedback_given || feedbackSent) {
      parts.push(feedbackThanks());
    } else if (view.feedback_open) {
      parts.push(feedbackForm());
    }
  }
  body.replaceChildren(...parts);
  footer.replaceChildren(...[
    state === "waiting" || state === "called"
      ? el("p", { class: "s-live" }, icon("live"), el("span", {}, t("status.live")))
      : null,
    languageLinks(),
  ].filter(Boolean));

  document.title = state === "called"
    ? `${view.number} · ${t("status.called")}`
    : `${view.number} · ${t(`common.state_${state}`)}`;

  // Called, or called again (a recall): tell the patient.
  const callKey = (v) => (v && v.state === "called" ? `${v.called_at}|${v.recall_count}` : null);
  if (state === "called" && previous && callKey(previous) !== callKey(view)) alertPatient();
}

function renderUnknown() {
  last = null;
  app.dataset.state = "unknown";
  body.replaceChildren(el("div", { id: "status-unknown", class: "s-final s-final-unknown" },
    icon("question", "s-final-icon"), el("p", {}, t("status.unknown"))));
  footer.replaceChildren(...[languageLinks()].filter(Boolean));
}

// ---------------------------------------------------------------------------------------------
// Reading the ticket

let timer = null;
let reading = false;
let again = false;
let linkUp = true;
let fetchUp = true;
let live = null;

function showConnection() {
  connection.hidden = linkUp && fetchUp;
}

async function read() {
  if (reading) { again = true; return; }
  reading = true;
  try {
    const view = await api("GET",
      `/api/v1/status/${encodeURIComponent(token)}?lang=${encodeURIComponent(boot.lang)}`);
    fetchUp = true;
    render(view);
  } catch (error) {
    if (error.status === 404) {
      fetchUp = true;
      renderUnknown();
    } else {
      // Not answered: have Live check the link now (its snapshot, once back, reads again).
      if (error.status === 0 && fetchUp) live?.reconnect();
      fetchUp = false;
    }
  } finally {
    reading = false;
    showConnection();
    if (again) { again = false; read(); }
  }
}

/** Several events in a burst: one read. */
function soon(delayMs = 200) {
  if (timer !== null) return;
  timer = setTimeout(() => { timer = null; read(); }, delayMs);
}

function start() {
  if (!settings.known || !token) {
    renderUnknown();
    return;
  }
  body.replaceChildren(el("div", { class: "s-loading" }, el("div", { class: "s-spinner" })));
  read();
  live = new Live({
    refreshOnEvent: false,
    onEvent: () => soon(),
    onSnapshot: (queue) => {
      if (queue?.clinic?.name) clinicName.textContent = queue.clinic.name;
      soon();
    },
    onStatus: (connected) => { linkUp = connected; showConnection(); if (connected) soon(0); },
  }).start();
}

start();
