// waitless: the waiting-room display. A TV in the waiting room shows, for each room, the number
// it is serving, the last calls, the clinic's name and the time; each call flashes its room's
// tile, plays a chime and is announced in every announce language, one call after another.
//
// It runs for days: everything is drawn into fixed elements, the last calls come from a small
// pool of list items, and the queue of announcements is bounded. It never lies: when the link to
// the server is down it says so and greys the numbers out until a fresh snapshot arrives.

import { boot, t, el, Live, lockDown, localName, refitOnFonts } from "./live.js";

const settings = boot.settings ?? {};
// ?rooms=room-1,room-3: these rooms, in this order; ?services=lab: the rooms that call a
// service of these (one department). Neither: every room, in the clinic's order.
const WANTED = Array.isArray(settings.rooms) ? settings.rooms.map(String) : [];
const WANTED_SERVICES = Array.isArray(settings.services) ? settings.services.map(String) : [];
const ANNOUNCE = Object.entries(settings.announce ?? {});
const SERVER_VOICE = settings.voice === true;
// ?sound=off: a silent display (a TV without speakers, or the waitless machine speaks itself).
const SILENT = settings.sound === false;

const FLASH_MS = 6000;          // how long a called room's tile flashes
const RECENT_MAX = 7;           // last calls shown
const vmin = () => Math.min(window.innerWidth, window.innerHeight) / 100;
const NAME_MIN_PX = () => Math.max(16, 4.5 * vmin()); // a room name's smallest size (CSS: 4.5vmin)
const PENDING_MAX = 6;          // announcements waiting their turn, at most
const OLD_CALL_MS = 90_000;     // a call older than this (replayed after an outage) is not announced

const $ = (id) => document.getElementById(id);
const ui = {
  app: $("app"),
  clinic: $("clinic-name"),
  clock: $("clock"),
  date: $("date"),
  tiles: $("tiles"),
  noRooms: $("no-rooms"),
  recent: $("recent-calls"),
  recentEmpty: $("recent-empty"),
  message: $("message"),
  messageText: $("message-text"),
  reconnecting: $("reconnecting"),
  sound: $("sound-overlay"),
};

// ---------------------------------------------------------------------------------------------
// Clock: the server's time (a TV or a Pi without internet may have a wrong clock of its own).

let clockOffsetMs = 0;
const timeFormat = new Intl.DateTimeFormat(boot.lang, { hour: "numeric", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(boot.lang, { weekday: "long", day: "numeric", month: "long" });

function now() {
  return Date.now() + clockOffsetMs;
}

function tick() {
  const date = new Date(now());
  const time = timeFormat.format(date);
  if (ui.clock.textContent !== time) {
    ui.clock.textContent = time;
    ui.clock.dateTime = date.toISOString().slice(0, 16);
    ui.date.textContent = dateFormat.format(date);
  }
}

async function syncClock() {
  try {
    const sent = Date.now();
    const response = await fetch("/healthz", { cache: "no-store" });
    const received = Date.now();
    const header = response.headers.get("Date");
    if (!header) return;
    // The Date header has whole seconds: its middle is half a second later.
    const offset = Date.parse(header) + 500 - (sent + received) / 2;
    clockOffsetMs = Number.isFinite(offset) && Math.abs(offset) > 2000 ? offset : 0;
    tick();
  } catch {
    /* keep the last offset */
  }
}

// ---------------------------------------------------------------------------------------------
// Rooms: one tile each, built when the set of rooms changes, otherwise updated in place.

/** id → {root, name, number, foot, flashTimer} */
const tiles = new Map();
let tilesKey = null;
/** id → latest room view */
let roomsById = new Map();
/** id → ticket id of the latest call seen in an event */
const latestCall = new Map();
let lastQueue = null;
let stale = false;
let awaitingTruth = false;

function shownRooms(queue) {
  const rooms = queue.rooms ?? [];
  if (WANTED.length > 0) return WANTED.map((id) => rooms.find((r) => r.id === id)).filter(Boolean);
  if (WANTED_SERVICES.length > 0) {
    return rooms.filter((r) => (r.services ?? []).some((s) => WANTED_SERVICES.includes(s)));
  }
  return rooms;
}

function isShown(roomId) {
  return tiles.has(roomId);
}

function buildTiles(rooms) {
  for (const tile of tiles.values()) clearTimeout(tile.flashTimer);
  tiles.clear();
  const nodes = rooms.map((room) => {
    const name = el("div", { class: "room-name" });
    const number = el("div", { class: "serving-number", "data-len": "4" }, "—");
    // One line for the room's status ("On break"), empty until a room has one.
    const status = el("div", { class: "room-status" });
    const foot = el("div", { class: "room-foot" });
    const root = el("article", { class: "tile", "data-room": room.id, "data-tone": toneOf(room) }, name,
      el("div", { class: "number-box" }, number), status, foot);
    tiles.set(room.id, { root, name, number, status, foot, flashTimer: null });
    return root;
  });
  ui.tiles.replaceChildren(...nodes);
  ui.tiles.dataset.count = String(nodes.length);
  ui.app.dataset.density = nodes.length >= 7 ? "many" : "few";
  ui.noRooms.hidden = nodes.length > 0;
  layout();
}

/** The colour of a room: its first service's (set in /admin, kept when services change). */
function toneOf(room) {
  const first = (lastQueue?.services ?? []).find((s) => s.id === room.services?.[0]);
  return Number.isInteger(first?.tone) ? String(first.tone % 6) : "";
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function setNumber(tile, number) {
  const text = number || "—";
  setText(tile.number, text);
  tile.number.dataset.len = String(Math.min(10, Math.max(4, text.length)));
}

function renderTile(room) {
  const tile = tiles.get(room.id);
  if (!tile) return;
  setText(tile.name, localName(room));
  setNumber(tile, room.serving?.number);
  tile.root.classList.toggle("closed", room.open === false);
  tile.root.classList.toggle("on-break", room.open !== false && room.paused === true);
  tile.root.classList.toggle("idle", !room.serving);
  let foot = "";
  if (room.open === false) foot = t("display.room_closed");
  else if (room.paused === true) foot = t("display.on_break");
  else if (room.waiting > 0) foot = t("display.waiting_count", { n: room.waiting });
  setText(tile.foot, foot);
  tile.root.classList.toggle("has-foot", foot !== "");
}

/**
 * Room names are never cut: they wrap (two lines at most at the normal size); a word too long
 * for its tile makes that tile's name smaller, down to the smallest size, and only then breaks.
 */
function fitNames() {
  let lines = 1;
  for (const tile of tiles.values()) {
    lines = Math.max(lines, fit(tile.name, NAME_MIN_PX(), 2));
  }
  // Every tile keeps room for the longest name's lines, so the numbers line up.
  ui.tiles.dataset.nameLines = String(Math.min(lines, 3));
  for (const item of recentPool) fit(item.room, 2.4 * vmin(), 2);
}

/**
 * Makes `node`'s text fit its width at no less than `least` px: smaller while a word is too
 * wide or it takes more than `maxLines` lines, and only at `least` broken inside words.
 * Returns how many lines it takes.
 */
function fit(node, least, maxLines) {
  node.style.fontSize = "";
  node.classList.remove("break");
  if (!node.textContent) return 1;
  let size = parseFloat(getComputedStyle(node).fontSize);
  const lineHeight = () => parseFloat(getComputedStyle(node).lineHeight) || size * 1.15;
  const range = document.createRange();
  range.selectNodeContents(node);
  const lines = () => Math.round(range.getBoundingClientRect().height / lineHeight()) || 1;
  const tooBig = () => node.scrollWidth > node.clientWidth + 0.5 || lines() > maxLines;
  while (tooBig() && size > least) {
    size = Math.max(least, size * 0.93);
    node.style.fontSize = `${size}px`;
  }
  if (node.scrollWidth > node.clientWidth + 0.5) node.classList.add("break");
  return lines();
}

/**
 * Picks the arrangement that gives the biggest serving numbers: how many columns, and whether
 * the tiles are "tall" (name above the number) or "wide" (name beside it, for flat tiles).
 * Every tile has the same size: an incomplete last row is centred, never stretched. A tile must
 * stay wide enough for a room name of about ten letters at the smallest name size.
 */
function layout() {
  const n = tiles.size;
  if (n === 0) return;
  const gap = parseFloat(getComputedStyle(ui.tiles).rowGap) || 0;
  const width = ui.tiles.clientWidth;
  const height = ui.tiles.clientHeight;
  if (!width || !height) return;
  const nameWidth = NAME_MIN_PX() * 6.2;
  let best = null;
  for (let cols = 1; cols <= Math.min(n, 6); cols++) {
    const rows = Math.ceil(n / cols);
    if (rows > 6) continue;
    const w = (width - gap * (cols - 1)) / cols;
    const h = (height - gap * (rows - 1)) / rows;
    const options = [["tall", Math.min(h * 0.4, w * 0.3)]];
    if (w / h >= 2.2) options.push(["wide", Math.min(h * 0.62, w * 0.19)]);
    // Fewer empty cells read better; a tile too narrow for a name is a last resort (a wide
    // tile gives the name half its width).
    const fill = n / (cols * rows);
    for (const [shape, size] of options) {
      const narrow = (shape === "wide" ? w / 2 : w) < nameWidth ? 0.4 : 1;
      const score = size * narrow * (0.85 + 0.15 * fill);
      if (!best || score > best.score * 1.02) best = { cols, shape, score };
    }
  }
  const rows = Math.ceil(n / best.cols);
  ui.tiles.dataset.cols = String(best.cols);
  ui.tiles.dataset.rows = String(rows);
  ui.tiles.dataset.shape = best.shape;
  // Two grid columns per tile, so that a shorter last row can start half a tile in.
  ui.tiles.style.gridTemplateColumns = `repeat(${best.cols * 2}, minmax(0, 1fr))`;
  ui.tiles.style.gridTemplateRows = `repeat(${rows}, minmax(0, 1fr))`;
  const empty = best.cols * rows - n;
  const lastRowStart = n - (best.cols - empty);
  let i = 0;
  for (const tile of tiles.values()) {
    tile.root.style.gridColumn = i === lastRowStart && empty > 0 ? `${empty + 1} / span 2` : "span 2";
    i += 1;
  }
  fitNames();
}

refitOnFonts(layout);
if (typeof ResizeObserver === "function") {
  new ResizeObserver(() => layout()).observe(ui.tiles);
} else {
  let layoutTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(layoutTimer);
    layoutTimer = setTimeout(layout, 100);
  });
}

function flash(roomId) {
  const tile = tiles.get(roomId);
  if (!tile || stale) return;
  clearTimeout(tile.flashTimer);
  tile.root.classList.remove("calling");
  void tile.root.offsetWidth; // restart the animation
  tile.root.classList.add("calling");
  tile.flashTimer = setTimeout(() => {
    tile.root.classList.remove("calling");
    tile.flashTimer = null;
  }, FLASH_MS);
}

function stopFlashes() {
  for (const tile of tiles.values()) {
    clearTimeout(tile.flashTimer);
    tile.flashTimer = null;
    tile.root.classList.remove("calling");
  }
}

// ---------------------------------------------------------------------------------------------
// Last calls: a fixed pool of list items, attached as needed.

const timeOfCall = new Intl.DateTimeFormat(boot.lang, { hour: "numeric", minute: "2-digit" });
const recentPool = Array.from({ length: RECENT_MAX }, () => {
  const number = el("span", { class: "rc-number" });
  const room = el("span", { class: "rc-room" });
  // The time is drawn from data-time by CSS: the item's text stays "A042 → Room 2".
  const time = el("span", { class: "rc-time", "aria-hidden": "true" });
  const li = el("li", { class: "recent-call" },
    el("span", { class: "rc-when" }, number, time),
    el("span", { class: "rc-arrow", "aria-hidden": "true" }, " → "),
    room);
  return { li, number, room, time };
});

/** Only real calls: a ticket being served or served; not one that did not come, was cancelled
 * or went back to waiting. Served ones are shown dimmed, never as the current call. */
const SHOWN_CALLS = new Set(["called", "done"]);

function renderRecent(queue) {
  const calls = (queue.recent_calls ?? [])
    .filter((call) => isShown(call.room) && SHOWN_CALLS.has(call.state ?? "called"))
    .slice(0, RECENT_MAX);
  calls.forEach((call, i) => {
    const item = recentPool[i];
    setText(item.number, call.number);
    setText(item.room, roomsById.has(call.room) ? localName(roomsById.get(call.room)) : (call.room_name ?? call.room));
    const at = Date.parse(call.called_at);
    item.time.dataset.time = Number.isFinite(at) ? timeOfCall.format(new Date(at)) : "";
    item.li.dataset.ticket = String(call.ticket);
    item.li.dataset.state = call.state ?? "called";
    item.li.classList.toggle("latest", i === 0 && item.li.dataset.state === "called");
  });
  const wanted = recentPool.slice(0, calls.length).map((item) => item.li);
  const current = Array.from(ui.recent.children);
  if (wanted.length !== current.length || wanted.some((li, i) => li !== current[i])) {
    ui.recent.replaceChildren(...wanted);
  }
  ui.recentEmpty.hidden = calls.length > 0;
  for (const item of recentPool.slice(0, calls.length)) fit(item.room, 2.4 * vmin(), 2);
}

// ---------------------------------------------------------------------------------------------
// Snapshots and events

function render(queue) {
  lastQueue = queue;
  if (queue.clinic?.name) setText(ui.clinic, queue.clinic.name);
  const rooms = shownRooms(queue);
  roomsById = new Map((queue.rooms ?? []).map((r) => [r.id, r]));
  const key = rooms.map((r) => `${r.id}:${toneOf(r)}`).join(",");
  if (key !== tilesKey) {
    tilesKey = key;
    buildTiles(rooms);
  }
  for (const room of rooms) renderTile(room);
  fitNames();
  renderRecent(queue);
  renderMessage(queue);
  if (awaitingTruth) {
    awaitingTruth = false;
    setStale(false);
    announceMissed();
  }
}

/** The admin's message, when the snapshot carries one (a later release). */
function renderMessage(queue) {
  const text = [queue.message, queue.clinic?.message].find((m) => typeof m === "string" && m.trim());
  setText(ui.messageText, text ? text.trim() : "");
  ui.message.hidden = !text;
}

function onEvent(event) {
  if (event.kind === "room_next" && event.called) {
    called(event, event.called, event.room ?? event.called.room, false);
  } else if (event.kind === "ticket_recalled" && event.ticket) {
    called(event, event.ticket, event.room ?? event.ticket.room, true);
  }
}

function called(event, ticket, roomId, recall) {
  if (!roomId || !isShown(roomId)) return;
  latestCall.set(roomId, ticket.id);
  setNumber(tiles.get(roomId), ticket.number);
  tiles.get(roomId).root.classList.remove("idle");
  const at = Date.parse(event.at);
  if (Number.isFinite(at) && now() - at > OLD_CALL_MS) return; // replayed after a long outage
  const item = { seq: event.seq, ticket: ticket.id, number: ticket.number, room: roomId, recall };
  if (stale) {
    // Missed while the link was down, replayed before the fresh snapshot: say it once the
    // snapshot confirms the room still serves this ticket (the newest call per room only).
    missed.set(roomId, item);
    return;
  }
  flash(roomId);
  enqueue(item);
}

/** Calls replayed after an outage, waiting for the snapshot that ends it. */
const missed = new Map();

function announceMissed() {
  for (const item of missed.values()) {
    if (roomsById.get(item.room)?.serving?.id === item.ticket) {
      flash(item.room);
      enqueue(item);
    }
  }
  missed.clear();
}

function setStale(value) {
  stale = value;
  ui.app.classList.toggle("is-stale", value);
  for (const tile of tiles.values()) tile.root.classList.toggle("stale", value);
  ui.recent.classList.toggle("stale", value);
  ui.reconnecting.hidden = !value;
  if (value) {
    stopFlashes();
    missed.clear();
    pending.length = 0;
    stopSpeaking();
  }
}

// ---------------------------------------------------------------------------------------------
// The link: Live owns it (reconnects, and says "down" within seconds of a dead link).

let liveUp = false;

function linkChanged() {
  if (!liveUp) {
    awaitingTruth = false;
    if (!stale) setStale(true);
  } else if (stale) {
    ui.reconnecting.hidden = true;
    awaitingTruth = true; // the next snapshot shows the truth again, then the greying goes
  }
}

const live = new Live({
  onSnapshot: render,
  onEvent,
  onStatus: (connected) => {
    liveUp = connected;
    if (connected) syncClock();
    linkChanged();
  },
});

// ---------------------------------------------------------------------------------------------
// Sound: a chime (WebAudio), then the announcement in each language.

let audioCtx = null;
let soundUnlocked = false;
const player = new Audio();
player.preload = "auto";

function context() {
  if (!audioCtx) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    try { audioCtx = new Context(); } catch { return null; }
  }
  return audioCtx;
}

async function audioRunning() {
  const ctx = context();
  if (!ctx) return false;
  if (ctx.state === "running") return true;
  try {
    await Promise.race([ctx.resume(), sleep(300)]);
  } catch { /* blocked */ }
  return ctx.state === "running";
}

function askForSound() {
  if (soundUnlocked || SILENT) return;
  ui.sound.hidden = false;
}

function unlock() {
  const ctx = context();
  if (ctx && ctx.state !== "running") ctx.resume().catch(() => {});
  if ("speechSynthesis" in window) {
    // Some browsers let speech start only from a gesture: an empty utterance opens it.
    try { speechSynthesis.speak(new SpeechSynthesisUtterance("")); } catch { /* none */ }
  }
  soundUnlocked = true;
  ui.sound.hidden = true;
  for (const type of ["pointerdown", "keydown", "touchstart"]) {
    document.removeEventListener(type, unlock, true);
  }
}
for (const type of ["pointerdown", "keydown", "touchstart"]) {
  document.addEventListener(type, unlock, true);
}
ui.sound.addEventListener("click", unlock);

/** Three soft sine notes, rising (C5 E5 G5). Resolves when the voice may start. */
async function chime() {
  if (!(await audioRunning())) {
    askForSound();
    return false;
  }
  const ctx = audioCtx;
  const master = ctx.createGain();
  master.gain.value = 0.32;
  master.connect(ctx.destination);
  const start = ctx.currentTime + 0.05;
  const notes = [523.25, 659.25, 783.99];
  notes.forEach((frequency, i) => {
    const at = start + i * 0.38;
    for (const [multiple, level] of [[1, 1], [2, 0.12], [3, 0.04]]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = frequency * multiple;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.linearRampToValueAtTime(level, at + 0.025);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + (i === notes.length - 1 ? 2.2 : 1.4));
      osc.connect(gain).connect(master);
      osc.start(at);
      osc.stop(at + 2.3);
      osc.onended = () => { osc.disconnect(); gain.disconnect(); };
    }
  });
  setTimeout(() => master.disconnect(), 3000);
  await sleep(1700);
  return true;
}

/** "A042" → "A 42": letters apart, then the number without padding (as the server says it). */
export function spokenNumber(number) {
  const text = String(number);
  const at = text.search(/[0-9]/);
  const letters = at < 0 ? text : text.slice(0, at);
  let digits = at < 0 ? "" : text.slice(at).replace(/^0+/, "");
  if (at >= 0 && digits === "") digits = "0";
  return [letters.split("").join(" "), digits].filter(Boolean).join(" ");
}

function announcementText(item, lang, texts) {
  const template = (item.recall ? texts.recall : texts.call) ?? "";
  const room = roomsById.has(item.room) ? localName(roomsById.get(item.room), lang) : item.room;
  return template.replaceAll("{number}", spokenNumber(item.number)).replaceAll("{room}", room);
}

function fetchVoice(item, lang) {
  const url = `/api/v1/tickets/${encodeURIComponent(item.ticket)}/announcement?lang=${encodeURIComponent(lang)}`
    + (item.recall ? "&recall=true" : "");
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 15000);
  return fetch(url, { cache: "no-store", signal: abort.signal })
    .then((response) => (response.ok ? response.blob() : null))
    .catch(() => null)
    .finally(() => clearTimeout(timer));
}

/** Plays a WAV: "played", "failed" or "blocked" (autoplay). */
async function playBlob(blob) {
  if (!blob || blob.size === 0) return "failed";
  const url = URL.createObjectURL(blob);
  try {
    player.src = url;
    try {
      await player.play();
    } catch (e) {
      return e && e.name === "NotAllowedError" ? "blocked" : "failed";
    }
    await new Promise((resolve) => {
      const limit = setTimeout(done, 30000);
      function done() {
        clearTimeout(limit);
        player.removeEventListener("ended", done);
        player.removeEventListener("error", done);
        resolve();
      }
      player.addEventListener("ended", done);
      player.addEventListener("error", done);
    });
    return "played";
  } finally {
    player.pause();
    player.removeAttribute("src");
    player.load();
    URL.revokeObjectURL(url);
  }
}

function pickVoice(lang, voiceName) {
  if (!("speechSynthesis" in window)) return null;
  const voices = speechSynthesis.getVoices();
  if (voices.length === 0) return null;
  const norm = (code) => String(code ?? "").toLowerCase().replace("_", "-");
  const primary = norm(lang).split("-")[0];
  const wanted = norm(voiceName);
  const matching = voices.filter((v) => norm(v.lang) === wanted || norm(v.lang).split("-")[0] === primary);
  if (matching.length === 0) return null;
  return matching.find((v) => v.localService && v.default)
    ?? matching.find((v) => v.localService)
    ?? matching[0];
}

function speak(text, lang, voice) {
  return new Promise((resolve) => {
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.voice = voice;
    utterance.lang = voice.lang || lang;
    utterance.rate = 0.9;
    const limit = setTimeout(done, Math.max(6000, text.length * 180));
    function done() {
      clearTimeout(limit);
      utterance.onend = null;
      utterance.onerror = null;
      resolve();
    }
    utterance.onend = done;
    utterance.onerror = done;
    speechSynthesis.speak(utterance);
  });
}

function stopSpeaking() {
  try { player.pause(); } catch { /* nothing playing */ }
  if ("speechSynthesis" in window) speechSynthesis.cancel();
}

/** Is this call still worth saying? Not when a newer call or a fresh snapshot has replaced it. */
function stillCurrent(item) {
  if (stale) return false;
  if (latestCall.get(item.room) !== item.ticket) return false;
  const room = roomsById.get(item.room);
  if (lastQueue && lastQueue.seq >= item.seq && room && room.serving?.id !== item.ticket) return false;
  return true;
}

async function announce(item) {
  if (!stillCurrent(item)) return; // called over already: say only the newest call of a room
  const voices = SERVER_VOICE ? ANNOUNCE.map(([lang]) => fetchVoice(item, lang)) : [];
  const sounding = await chime();
  if (!sounding) return;
  for (const [index, [lang, texts]] of ANNOUNCE.entries()) {
    if (!stillCurrent(item)) return;
    if (SERVER_VOICE) {
      const result = await playBlob(await voices[index]);
      if (result === "played") continue;
      if (result === "blocked") {
        askForSound();
        return;
      }
    }
    const voice = pickVoice(lang, texts.voice);
    if (voice) await speak(announcementText(item, lang, texts), lang, voice);
  }
}

const pending = [];
let announcing = false;

function enqueue(item) {
  if (SILENT) return;
  if (pending.some((p) => p.ticket === item.ticket && p.recall === item.recall)) return;
  pending.push(item);
  while (pending.length > PENDING_MAX) pending.shift();
  if (!announcing) drain();
}

async function drain() {
  announcing = true;
  try {
    while (pending.length > 0) {
      const item = pending.shift();
      try {
        await announce(item);
      } catch (e) {
        console.warn("waitless: announcement failed", e);
      }
      await sleep(500);
    }
  } finally {
    announcing = false;
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// Start

/** For browser tests and a look from the devtools: the display's state, read-only. */
window.waitlessDisplay = {
  state: () => ({ liveUp, stale, lastHeardMsAgo: Date.now() - live.lastHeard, pending: pending.length,
    announcing, soundUnlocked, clockOffsetMs, socket: live.socket?.readyState ?? null, rooms: [...tiles.keys()] }),
};

/** Keeps the TV's screen from blanking while the page shows (where the browser allows it). */
async function stayAwake() {
  try {
    if (navigator.wakeLock && document.visibilityState === "visible") await navigator.wakeLock.request("screen");
  } catch { /* not allowed here: the TV's own settings decide */ }
}
document.addEventListener("visibilitychange", stayAwake);

lockDown();
stayAwake();
tick();
setInterval(tick, 1000);
syncClock();
setInterval(syncClock, 30 * 60 * 1000);
if ("speechSynthesis" in window) speechSynthesis.getVoices(); // starts loading the voices
audioRunning().then((running) => { if (running) soundUnlocked = true; else askForSound(); });
live.start();
