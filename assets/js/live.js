// waitless: what every page shares — its boot data, its messages, the JSON API, and a live
// connection to the queue's event stream that reconnects by itself.

/** The page's settings and messages, from <script id="boot" type="application/json">. */
export const boot = JSON.parse(document.getElementById("boot").textContent);

/** A message of the page's language, with {placeholders} filled. Never blank. */
export function t(key, args = {}) {
  let text = boot.messages[key] ?? key;
  for (const [name, value] of Object.entries(args)) {
    text = text.replaceAll(`{${name}}`, String(value));
  }
  return text;
}

/** Whether the page's messages have `key`. */
export function has(key) {
  return Object.prototype.hasOwnProperty.call(boot.messages, key);
}

/**
 * What to tell the user about a failed API call, in the page's language: the text of the
 * error's code (`[errors]` in the message files), else a generic one. An English page may fall
 * back to the server's own message for a code it does not know; another language never shows
 * it (it is English).
 */
export function errorText(error) {
  const code = error?.code ?? (error?.status === 0 ? "offline" : null);
  if (code && has(`errors.${code}`)) return t(`errors.${code}`);
  if (boot.lang === "en" && typeof error?.message === "string" && error.message) return error.message;
  return t("errors.generic");
}

/** An error answered by the API: code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the JSON API. Resolves to the JSON answer, rejects with an ApiError. */
export async function api(method, path, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "offline", String(e));
  }
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!response.ok) {
    const error = json?.error ?? { code: "http-" + response.status, message: text };
    throw new ApiError(response.status, error.code, error.message);
  }
  return json;
}

/** Creates an element: el("div", {class: "x"}, "text", child, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(name, value === true ? "" : value);
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** No message (not even a pong) for this long: the link is dead, whatever the socket says. */
const SILENT_MS = 6000;
/** How often Live pings the server and checks that it has heard from it. */
const BEAT_MS = 2000;

/**
 * A live view of the queue over the WebSocket /api/v1/events — the one owner of the link: its
 * reconnects and its liveness. Pages only listen.
 *
 * onSnapshot(queue) gets the whole queue (on connect, after falling behind, and — unless
 * refreshOnEvent is false — after each event as a fresh GET /api/v1/queue, throttled); onEvent(event) gets each event as it comes;
 * onStatus(connected) says when the link is up or has been down for `staleAfterMs`, or at once
 * when it went silent (a pulled cable, a hung server: nothing heard for 6 s, or a socket stuck
 * opening or closing that long);
 * onDevice(device) gets each device's status (printer, buttons...) on connect and on change.
 * Reconnects with backoff (0.5 s doubling to 10 s) and resumes from the last sequence number.
 */
export class Live {
  constructor({ onSnapshot = () => {}, onEvent = () => {}, onStatus = () => {}, onDevice = () => {}, staleAfterMs = 5000, refreshOnEvent = true } = {}) {
    // refreshOnEvent: false for pages that need only the events (a patient's phone), so a
    // waiting room full of phones does not re-read the whole queue on every call.
    this.refreshOnEvent = refreshOnEvent;
    this.onSnapshot = onSnapshot;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onDevice = onDevice;
    this.staleAfterMs = staleAfterMs;
    this.seq = null;
    this.backoff = 500;
    this.connected = false;
    this.silent = false;
    this.staleTimer = null;
    this.retryTimer = null;
    this.refreshTimer = null;
    this.socket = null;
    this.lastHeard = 0;
    // A link can die silently (a cable pulled, Wi-Fi gone): ask the server every 2 s and give
    // up on a socket that has said nothing for 6 s.
    this.heartbeat = setInterval(() => this.checkHeartbeat(), BEAT_MS);
    // A phone that slept: check the link as soon as the page is seen again.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.checkHeartbeat();
    });
  }

  checkHeartbeat() {
    const socket = this.socket;
    if (!socket) return;
    if (Date.now() - this.lastHeard > SILENT_MS) {
      // Silent while open, or opening or closing for too long (a dead link may leave a socket
      // "closing" without an onclose for minutes): forget it and start over now.
      this.drop(socket, true);
      return;
    }
    if (socket.readyState === WebSocket.OPEN) {
      try { socket.send('{"type":"ping"}'); } catch { /* closing: onclose follows */ }
    }
  }

  /** Forgets `socket` (no more callbacks from it) and reconnects. */
  drop(socket, silent) {
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try { socket.close(); } catch { /* already closing */ }
    if (this.socket !== socket) return;
    this.silent = silent;
    this.lost();
  }

  /**
   * For a page whose request got no answer: checks the link now by connecting again at once
   * (the snapshot that follows says it works; if it does not, onStatus says so).
   */
  reconnect() {
    if (this.socket) {
      this.backoff = 500;
      this.drop(this.socket, false);
    } else if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.connect();
    }
  }

  start() {
    this.connect();
    return this;
  }

  connect() {
    this.retryTimer = null;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const since = this.seq === null ? "" : `?since=${this.seq}`;
    let socket;
    try {
      socket = new WebSocket(`${scheme}//${location.host}/api/v1/events${since}`);
    } catch {
      this.lost();
      return;
    }
    this.socket = socket;
    this.lastHeard = Date.now(); // the time it may take to open counts from now
    socket.onopen = () => {
      this.lastHeard = Date.now();
      this.silent = false;
      this.backoff = 500;
      clearTimeout(this.staleTimer);
      this.staleTimer = null;
      if (!this.connected) {
        this.connected = true;
        this.onStatus(true);
      }
      // Resuming with ?since gives only the missed events: refresh the whole view once.
      if (since && this.refreshOnEvent) this.refresh(0);
    };
    socket.onmessage = (message) => {
      this.lastHeard = Date.now();
      let data;
      try { data = JSON.parse(message.data); } catch { return; }
      if (data.type === "snapshot") {
        this.seq = data.seq;
        this.onSnapshot(data.queue);
      } else if (data.type === "event") {
        this.seq = data.event.seq;
        this.onEvent(data.event);
        if (this.refreshOnEvent) this.refresh(150);
      } else if (data.type === "devices") {
        for (const device of data.devices ?? []) this.onDevice(device);
      } else if (data.type === "device") {
        this.onDevice(data.device);
      }
    };
    socket.onclose = () => this.lost();
    socket.onerror = () => socket.close();
  }

  lost() {
    this.socket = null;
    if (this.silent && this.connected) {
      // Silent for 6 s already: stale now.
      this.silent = false;
      clearTimeout(this.staleTimer);
      this.staleTimer = null;
      this.connected = false;
      this.onStatus(false);
    } else if (this.connected && this.staleTimer === null) {
      this.staleTimer = setTimeout(() => {
        this.connected = false;
        this.onStatus(false);
      }, this.staleAfterMs);
    } else if (!this.connected && this.staleTimer === null) {
      this.onStatus(false);
    }
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, 10000);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }

/** Re-reads the whole queue after `delayMs` (several events in a burst: one read). */
  refresh(delayMs) {
    if (this.refreshTimer !== null) return;
    this.refreshTimer = setTimeout(async () => {
      this.refreshTimer = null;
      try {
        const queue = await api("GET", "/api/v1/queue");
        if (this.seq === null || queue.seq >= this.seq) this.onSnapshot(queue);
      } catch {
        /* the socket's own reconnect takes care of it */
      }
    }, delayMs);
  }
}

/** Keeps a kiosk or display from being left: no context menu, no selection, no drag. */
export function lockDown() {
  for (const type of ["contextmenu", "selectstart", "dragstart"]) {
    document.addEventListener(type, (e) => e.preventDefault());
  }
}

/**
 * Runs `refit` again each time the page's own fonts finish loading. They swap in after the first
 * paint (`font-display: swap`), and text fitted while a wider fallback font was showing would
 * otherwise keep that fit: a name made smaller, or broken inside a word, for no reason.
 */
export function refitOnFonts(refit) {
  if (!document.fonts) return;
  document.fonts.addEventListener?.("loadingdone", () => refit());
  document.fonts.ready.then(() => refit());
}

/** A service's or room's name in `lang` (the page's language by default), else its own name. */
export function localName(thing, lang = boot.lang) {
  if (!thing) return "";
  return thing.names?.[lang] ?? thing.name ?? thing.id ?? "";
}

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * An inline SVG icon: `drawings[name]` is a fixed string of self-closing SVG shapes (never data
 * from outside), built node by node (no innerHTML, fine under a Trusted Types policy too).
 */
export function svgIcon(drawings, name, cls = "") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", `icon ${cls}`.trim());
  for (const [, tag, attrs] of (drawings[name] ?? "").matchAll(/<(\w+)([^>]*)\/>/g)) {
    const shape = document.createElementNS(SVG_NS, tag);
    for (const [, key, value] of attrs.matchAll(/([\w-]+)="([^"]*)"/g)) shape.setAttribute(key, value);
    svg.append(shape);
  }
  return svg;
}
