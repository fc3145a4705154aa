// waitless staff console: a room's controls for the doctor (one big "Next", recall, no-show,
// no-show and next, done, undo, a call out of order, a break, transfer, open/close) and
// reception's tools (issue, find, cancel, requeue, transfer, counts). Everything is drawn from
// the live queue snapshot; every action answers in the toast.
//
// The page offers what the user's role may do (`boot.settings.may`, from the server's own rule):
// a doctor gets their own rooms only (straight into the room when there is one) and no
// reception tools; reception and admin get everything, admin also a link to /admin. The server
// still decides: a refusal shows the text of its code (a doctor's role cannot close a room),
// and an ended session goes to the login page.

import { boot, t, api, el, errorText, has, ApiError, Live, localName } from "./live.js";
import { $, loginAgain, languageLinks, showLink, topBar } from "./page.js";

const STORE_KEY = "waitless.staff.room";
const PRIORITIES = ["normal", "priority", "urgent"];
const CLASS_RANK = { urgent: 0, appointment: 1, priority: 2, normal: 3 };

/** What the user may do (null: not said — offer everything, the server decides). */
const may = boot.settings?.may ?? null;
const canReception = may ? may.reception === true : true;

const state = {
  queue: null,
  room: boot.settings?.room ?? null,
  online: false,
  everOnline: false,
  skewMs: null,          // client clock minus server clock, estimated from event times
  known: new Map(),      // ticket id → latest full ticket seen in events (for search)
  devices: new Map(),    // device id → its status (printer, buttons...)
  patients: new Map(),   // ticket id → {name, phone} reception recorded, or null: none
  servicesKey: "",
  roomsKey: "",
  transferTicket: null,
  callTicket: null,
  busy: new Set(),
};

// ---------- small helpers ----------

function serverNow() {
  return Date.now() - (state.skewMs ?? 0);
}

function minutes(n) {
  return t("common.minutes", { n: Math.max(0, Math.round(n)) });
}

function minutesSince(iso) {
  if (!iso) return null;
  return Math.max(0, (serverNow() - Date.parse(iso)) / 60000);
}

function className(cls) {
  const key = `common.priority_${cls}`;
  return has(key) ? t(key) : cls;
}

function service(id) {
  return state.queue?.services.find((s) => s.id === id) ?? null;
}

function serviceName(id) {
  return service(id) ? localName(service(id)) : id;
}

function roomOf(id) {
  return state.queue?.rooms.find((r) => r.id === id) ?? null;
}

/** The rooms this user may act for: every room for reception and admin, a doctor's own. */
function allowedRooms(queue) {
  if (!queue) return [];
  if (canReception) return queue.rooms;
  const mine = may?.rooms ?? [];
  return queue.rooms.filter((r) => mine.includes(r.id));
}

function currentRoom() {
  if (!state.room) return null;
  return allowedRooms(state.queue).find((r) => r.id === state.room) ?? null;
}

/** A doctor with one room is in it; one whose chosen room is not theirs chooses again. */
function settleRoom(queue) {
  if (canReception) return;
  const allowed = allowedRooms(queue);
  if (state.room && allowed.some((r) => r.id === state.room)) return;
  const only = allowed.length === 1 ? allowed[0].id : null;
  if (state.room !== only) chooseRoom(only, false);
}

function priorityBadge(priority) {
  // "Appointment" is long for a waiting row: the short word, the full one as its title.
  if (priority === "appointment") {
    return el("span", { class: "badge badge-appointment", title: className(priority) },
      t("common.priority_appointment_short"));
  }
  return el("span", { class: `badge badge-${priority}` }, className(priority));
}

/** "a12", "A 012", "12" → {prefix: "A" | "", n: 12}; null when it is not a number. */
function parseNumber(text) {
  const m = /^\s*([A-Za-z]*)\s*-?\s*0*(\d+)\s*$/.exec(text);
  if (!m) return null;
  return { prefix: m[1].toUpperCase(), n: Number(m[2]) };
}

function randomKey() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return "staff-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Fills a message whose {number} is shown big: "Issued {number}" → [text, <strong>, text]. */
function withBigNumber(key, number, args = {}) {
  const filled = t(key, { ...args, number: "\u0000" });
  const [before, after = ""] = filled.split("\u0000");
  return [before, el("strong", { class: "toast-number" }, number), after];
}

// ---------- toast ----------

let toastTimer = null;

/** The answer to an action, at the top of the page (never over the lists), for a few seconds;
 *  a tap or Escape dismisses it. */
function toast(content, kind = "ok", ms = 3000) {
  const box = $("toast");
  box.replaceChildren(el("div", { class: "toast-body" }, ...[content].flat()),
    el("button", { type: "button", class: "toast-close", "aria-label": t("staff.dismiss") }, "×"));
  box.className = `toast toast-${kind}`;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, ms);
}

function failed(error) {
  if (loginAgain(error)) return;
  toast(t("staff.action_failed", { message: errorText(error) }), "error", 6000);
}

/** Runs an API call for an action: one at a time per key, result or error in the toast. */
async function run(key, call, onOk) {
  if (!state.online) { toast(t("staff.offline"), "error"); return; }
  // A second "next" goes to the server on purpose: it debounces and says so (staff.debounced).
  if (state.busy.has(key) && key !== "next") return;
  state.busy.add(key);
  document.body.classList.add("is-busy");
  try {
    const answer = await call();
    // Not the API's JSON (e.g. a login page in front of it): say so rather than guess.
    if (answer === null || typeof answer !== "object") throw new ApiError(200, "login-required", "");
    onOk(answer);
  } catch (error) {
    failed(error);
  } finally {
    state.busy.delete(key);
    document.body.classList.toggle("is-busy", state.busy.size > 0);
  }
}


// ---------- views: room, reception, or both (the default) ----------

/** Shows one panel alone (?view=room for a doctor's screen) or both; clicking the shown one again shows both. */
function setView(view, push = true) {
  const wanted = view === "room" || view === "reception" ? view : null;
  document.body.classList.toggle("view-room", wanted === "room");
  document.body.classList.toggle("view-reception", wanted === "reception");
  for (const link of document.querySelectorAll("[data-view]")) {
    link.classList.toggle("is-current", link.dataset.view === wanted);
    if (link.dataset.view === wanted) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (push) {
    const params = new URLSearchParams(location.search);
    if (wanted) params.set("view", wanted); else params.delete("view");
    const query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? `?${query}` : ""));
    languageLinks();
  }
}

// ---------- room choice ----------

function chooseRoom(id, render = true) {
  state.room = id || null;
  const params = new URLSearchParams(location.search);
  if (state.room) {
    params.set("room", state.room);
    try { localStorage.setItem(STORE_KEY, state.room); } catch { /* private mode */ }
  } else {
    params.delete("room");
    try { localStorage.removeItem(STORE_KEY); } catch { /* private mode */ }
  }
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? `?${query}` : ""));
  languageLinks();
  if (render) renderAll();
}

function renderRoomSelect(queue) {
  const rooms = allowedRooms(queue);
  const key = JSON.stringify(rooms.map((r) => [r.id, localName(r)]));
  const select = $("room-select");
  // A doctor with one room has nothing to choose: the room's name is the heading.
  const single = !canReception && rooms.length <= 1;
  select.closest("label").hidden = single;
  const heading = $("room-heading");
  const room = currentRoom();
  heading.classList.toggle("sr-only", !single || !room);
  heading.classList.toggle("room-name", single && !!room);
  heading.textContent = single && room ? localName(room) : t("staff.room_view");
  if (key !== state.roomsKey) {
    state.roomsKey = key;
    select.replaceChildren(
      el("option", { value: "" }, `— ${t("staff.choose_room")} —`),
      ...rooms.map((r) => el("option", { value: r.id }, localName(r))),
    );
    $("room-choices").replaceChildren(...rooms.map((r) =>
      el("button", { type: "button", class: "btn room-choice", dataset: { room: r.id },
        onclick: () => chooseRoom(r.id) },
        el("span", { class: "room-choice-name" }, localName(r)),
        el("span", { class: "room-choice-services" }, r.services.map(serviceName).join(" · ")))));
  }
  select.value = currentRoom() ? state.room : "";
}

// ---------- room view ----------

/** The waiting tickets a room could call, in call order (next_up first). */
function roomWaiting(queue, room) {
  const lists = room.services.map((s) => queue.waiting.filter((tk) => tk.service === s));
  const merged = [];
  while (lists.some((l) => l.length)) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      if (!lists[i].length) continue;
      if (best < 0) { best = i; continue; }
      const a = lists[i][0], b = lists[best][0];
      const ra = CLASS_RANK[a.priority] ?? 9, rb = CLASS_RANK[b.priority] ?? 9;
      if (ra < rb || (ra === rb && a.queued_at < b.queued_at)) best = i;
    }
    merged.push(lists[best].shift());
  }
  const next = room.next_up?.ticket;
  const at = merged.findIndex((tk) => tk.id === next);
  if (at > 0) merged.unshift(...merged.splice(at, 1));
  return merged;
}

function renderRoom(queue) {
  const room = currentRoom();
  const chooser = $("room-chooser");
  const view = $("room-view");
  const pill = $("room-state");
  const openBtn = document.querySelector('[data-action="open"]');
  const closeBtn = document.querySelector('[data-action="close"]');
  const pauseBtn = document.querySelector('#room-panel [data-action="pause"]');
  document.body.classList.toggle("has-room", !!room);
  if (!room) {
    view.hidden = true;
    chooser.hidden = false;
    pill.hidden = true;
    openBtn.hidden = closeBtn.hidden = pauseBtn.hidden = true;
    const none = !canReception && allowedRooms(queue).length === 0;
    $("no-room-note").hidden = !none;
    const title = chooser.querySelector(".chooser-title");
    title.hidden = none;
    title.textContent = state.room && canReception ? t("staff.room_not_found", { room: state.room }) : t("staff.choose_room");
    return;
  }
  chooser.hidden = true;
  view.hidden = false;
  pill.hidden = false;
  const paused = room.open && room.paused === true;
  pill.textContent = paused ? t("staff.on_break") : room.open ? t("staff.room_open") : t("staff.room_is_closed");
  pill.className = `pill ${paused ? "pill-paused" : room.open ? "pill-open" : "pill-closed"}`;
  // Opening and closing rooms is reception's; a break is the room's own.
  openBtn.hidden = !canReception || room.open;
  closeBtn.hidden = !canReception || !room.open;
  pauseBtn.hidden = !room.open || paused;
  $("room-closed-note").hidden = room.open;
  $("room-paused-note").hidden = !paused;
  view.classList.toggle("is-closed", !room.open);
  view.classList.toggle("is-paused", paused);

  // Serving.
  const serving = room.serving;
  const number = $("serving-number");
  const meta = $("serving-meta");
  if (serving) {
    if (number.textContent !== serving.number && state.rendered) {
      number.classList.remove("flash");
      void number.offsetWidth;
      number.classList.add("flash");
    }
    number.textContent = serving.number;
    number.classList.remove("is-empty");
    const since = minutesSince(serving.called_at);
    meta.replaceChildren(...[
      el("span", { class: "meta-service" }, serviceName(serving.service)),
      priorityBadge(serving.priority),
      serving.recall_count > 0
        ? el("span", { class: "badge badge-recall" }, t("staff.recalls", { n: serving.recall_count }))
        : null,
      since === null ? null : el("span", { class: "meta-time" }, t("staff.called_ago", { time: minutes(since) })),
    ].filter(Boolean));
  } else {
    number.textContent = "—";
    number.classList.add("is-empty");
    meta.replaceChildren(el("span", { class: "muted" }, t("staff.serving_none")));
  }

  // Next up and why.
  const nextUp = $("next-up");
  const up = room.next_up;
  if (up) {
    const reason = up.reason ?? {};
    const why = whyText(reason);
    nextUp.replaceChildren(
      el("span", { class: "card-label" }, t("staff.next_up")),
      el("span", { class: "next-up-number" }, up.number),
      el("span", { class: `next-up-why why-${reason.rule ?? "none"}` }, why),
    );
    nextUp.dataset.ticket = up.ticket;
  } else {
    nextUp.replaceChildren(
      el("span", { class: "card-label" }, t("staff.next_up")),
      el("span", { class: "muted" }, t("staff.nobody_waiting")),
    );
    delete nextUp.dataset.ticket;
  }

  // Waiting list.
  const waiting = roomWaiting(queue, room);
  $("waiting-count").textContent = String(room.waiting ?? waiting.length);
  const multi = room.services.length > 1;
  const list = $("waiting-list");
  if (!waiting.length) {
    list.replaceChildren(el("li", { class: "empty muted" }, t("staff.nobody_waiting")));
  } else {
    fillList(list, waiting.map((tk) => ticketRow(tk, { multi, next: tk.id === up?.ticket, call: true })));
  }
  renderRoomButtons();
  fitWaiting();
}

/** The waiting list shows whole rows only: its height is a whole number of rows (and it
 *  scrolls a row at a time). */
function fitWaiting() {
  const list = $("waiting-list");
  const row = list.querySelector("li:not(.empty)");
  if (!row || list.closest("[hidden]")) { list.style.maxHeight = ""; return; }
  const card = list.parentElement;
  const cardBox = card.getBoundingClientRect();
  const top = list.getBoundingClientRect().top;
  const bottom = cardBox.bottom - parseFloat(getComputedStyle(card).paddingBottom) - parseFloat(getComputedStyle(card).borderBottomWidth);
  const height = row.getBoundingClientRect().height;
  if (height <= 0) return;
  const rows = Math.max(1, Math.floor((bottom - top + 0.5) / height));
  const wanted = `${rows * height}px`;
  if (list.style.maxHeight !== wanted) list.style.maxHeight = wanted;
}

/**
 * Why "next" picks a ticket: the first in line (a priority ticket with its head start), one
 * passed over too often, or one staff chose.
 */
function whyText(reason) {
  if (reason.rule === "chosen") return t("staff.why_chosen", { note: reason.note ?? "" });
  if (reason.rule === "highest_class" && reason.class === "priority") return t("staff.why_priority");
  return reason.rule === "starvation"
    ? t("staff.why_starvation", { n: reason.passed_over ?? "?", class: className(reason.class).toLowerCase() })
    : t("staff.why_highest_class", { class: className(reason.class).toLowerCase() });
}

/** Replaces a scrolling list's rows, keeping where it was scrolled to. */
function fillList(list, rows) {
  const top = list.scrollTop;
  list.replaceChildren(...rows);
  list.scrollTop = top;
}

function etaText(tk) {
  if (tk.eta_minutes === null || tk.eta_minutes === undefined) return t("common.waiting_unknown");
  const range = tk.eta_range_minutes;
  const time = range && range[0] !== range[1]
    ? t("common.minutes_range", { low: range[0], high: range[1] })
    : minutes(tk.eta_minutes);
  return t("staff.eta", { time });
}

function ticketRow(tk, { multi = true, next = false, call = false } = {}) {
  const waited = minutesSince(tk.queued_at ?? tk.created_at);
  return el("li", { dataset: { ticket: tk.id, priority: tk.priority }, class: next ? "is-next" : null },
    el("span", { class: "row-number" }, tk.number),
    el("span", { class: "row-main" },
      priorityBadge(tk.priority),
      multi ? el("span", { class: "row-service" }, serviceName(tk.service)) : null,
      el("span", { class: "row-waited" }, waited === null ? "" : t("staff.waited", { time: minutes(waited) })),
    ),
    el("span", { class: "row-eta" }, etaText(tk)),
    call ? el("button", { type: "button", class: "btn btn-call", "data-action": "call",
      "aria-label": t("staff.call_label", { number: tk.number }), disabled: !callable(),
      onclick: () => openCall(tk) }, t("staff.call")) : null,
  );
}

/** Whether the room shown may call a ticket now. */
function callable() {
  const room = currentRoom();
  return state.online && !!room && room.open && !room.paused;
}

/** Enables the room's buttons from the room's state, the link, and the clock (undo). */
function renderRoomButtons() {
  const room = currentRoom();
  const online = state.online;
  const serving = !!room?.serving;
  const undoUntil = room?.undo_until ? Date.parse(room.undo_until) : 0;
  const undoLeft = Math.ceil((undoUntil - serverNow()) / 1000);
  const calling = online && !!room && room.open && !room.paused;
  const enabled = {
    next: calling,
    recall: online && serving,
    done: online && serving,
    "no-show": online && serving,
    "no-show-next": calling && serving,
    transfer: online && serving && otherServices(room?.serving?.service).length > 0,
    undo: online && !!room && undoLeft > 0,
    open: online && !!room,
    close: online && !!room,
    pause: online && !!room,
    resume: online && !!room,
  };
  for (const [action, on] of Object.entries(enabled)) {
    const button = document.querySelector(`#room-panel .room-head [data-action="${action}"], #room-view [data-action="${action}"]:not(.btn-call)`);
    if (button) button.disabled = !on;
  }
  for (const button of document.querySelectorAll("#waiting-list .btn-call")) button.disabled = !calling;
  $("undo-left").textContent = room && undoLeft > 0 ? t("staff.undo_left", { s: undoLeft }) : "";
}

// ---------- room actions ----------

function roomAction(action) {
  const room = currentRoom();
  if (!room) return;
  const path = `/api/v1/rooms/${encodeURIComponent(room.id)}/${action}`;
  const button = document.querySelector(`#room-panel [data-action="${action}"]`);
  if (button?.disabled && state.online) {
    if (action === "next" && !room.open) toast(t("staff.room_closed"), "error");
    else if (action === "next" && room.paused) toast(t("staff.on_break_note"), "error");
    return;
  }
  switch (action) {
    case "next": {
      pressed(button);
      // Presses in a burst (a bouncing button, a double tap) may answer in any order: the
      // toast tells what the burst did — the call, and that the extra press was ignored.
      const burst = state.nextBurst ?? (state.nextBurst = { pending: 0, debounced: false, answer: null });
      burst.pending += 1;
      return run("next", () => api("POST", path), (a) => {
        noteServerTime(a?.called?.called_at);
        if (a.debounced) burst.debounced = true; else burst.answer = a;
        showNext(burst);
      }).finally(() => {
        burst.pending -= 1;
        if (burst.pending === 0 && state.nextBurst === burst) state.nextBurst = null;
      });
    }
    case "recall":
      pressed(button);
      return run("recall", () => api("POST", path), (a) =>
        toast(withBigNumber("staff.recalled", a.ticket.number)));
    case "done":
      return run("done", () => api("POST", path), (a) =>
        toast(t("staff.marked_done", { number: a.ticket.number })));
    case "no-show":
      return run("no-show", () => api("POST", path), (a) =>
        toast(t("staff.marked_no_show", { number: a.ticket.number }), "warn"));
    case "no-show-next":
      pressed(button);
      return run("no-show-next", () => api("POST", path), (a) => {
        noteServerTime(a?.called?.called_at);
        if (a.debounced) { toast(t("staff.debounced"), "warn"); return; }
        showNext({ answer: a, debounced: false });
      });
    case "pause":
      return run("pause", () => api("POST", path), (a) => toast(t("staff.paused", { room: localName(a) || localName(room) }), "warn"));
    case "resume":
      return run("resume", () => api("POST", path), (a) => toast(t("staff.resumed", { room: localName(a) || localName(room) })));
    case "undo":
      pressed(button);
      return run("undo", () => api("POST", path), (a) =>
        toast(t("staff.undone", { numbers: (a.restored ?? []).map((tk) => tk.number).join(", ") || "—" })));
    case "open":
      return run("open", () => api("POST", path), (a) => toast(t("staff.room_opened", { room: localName(a) || localName(room) })));
    case "close":
      return run("close", () => api("POST", path), (a) => toast(t("staff.room_was_closed", { room: localName(a) || localName(room) }), "warn"));
    case "transfer":
      if (room.serving) openTransfer(room.serving);
      return undefined;
    default:
      return undefined;
  }
}

function finishedText(finished) {
  return finished.state === "no_show"
    ? t("staff.no_show_called", { finished: finished.number })
    : t("staff.marked_done", { number: finished.number });
}

function showNext({ answer, debounced }) {
  if (!answer) { toast(t("staff.debounced"), "warn"); return; }
  const ignored = debounced ? el("div", { class: "toast-detail" }, t("staff.debounced")) : null;
  const noShow = answer.finished?.state === "no_show"
    ? el("div", { class: "toast-detail" }, finishedText(answer.finished)) : null;
  if (answer.called) {
    toast([el("div", { class: "toast-line" }, withBigNumber("staff.called", answer.called.number)),
      answer.reason ? el("div", { class: "toast-detail" }, whyText(answer.reason)) : null, noShow, ignored].filter(Boolean));
  } else if (answer.finished) {
    toast([`${finishedText(answer.finished)} · ${t("staff.queue_empty")}`, ignored].filter(Boolean), "info");
  } else {
    toast([t("staff.queue_empty"), ignored].filter(Boolean), "info");
  }
}

/** Shows a key press on its button, so a keypad press is seen. */
function pressed(button) {
  if (!button) return;
  button.classList.add("is-pressed");
  setTimeout(() => button.classList.remove("is-pressed"), 180);
}

// ---------- transfer ----------

function otherServices(serviceId) {
  if (!state.queue || !serviceId) return [];
  return state.queue.services.filter((s) => s.id !== serviceId && s.active);
}

function openTransfer(ticket) {
  const choices = otherServices(ticket.service);
  if (!choices.length) return;
  state.transferTicket = ticket;
  $("transfer-title").textContent = t("staff.transfer_title", { number: ticket.number });
  $("transfer-choices").replaceChildren(...choices.map((s) =>
    el("button", { type: "button", class: "btn btn-choice", dataset: { service: s.id },
      onclick: () => doTransfer(ticket, s) },
      el("span", { class: "choice-prefix" }, s.prefix),
      el("span", { class: "choice-name" }, localName(s)))));
  const dialog = $("transfer-dialog");
  if (!dialog.open) dialog.showModal();
}

function doTransfer(ticket, target) {
  $("transfer-dialog").close();
  state.transferTicket = null;
  run(`transfer-${ticket.id}`, () => api("POST", `/api/v1/tickets/${ticket.id}/transfer`, { service: target.id }),
    (a) => {
      remember(a.from); remember(a.to);
      toast(t("staff.transferred", { number: a.to?.number ?? ticket.number, service: localName(target) }));
      renderSearch();
    });
}

// ---------- a call out of order ----------

function openCall(ticket) {
  if (!callable()) return;
  state.callTicket = ticket;
  $("call-title").textContent = t("staff.call_title", { number: ticket.number });
  $("call-reason").value = "";
  $("call-note").textContent = "";
  $("call-submit").disabled = false;
  const dialog = $("call-dialog");
  if (!dialog.open) dialog.showModal();
  $("call-reason").focus();
}

async function submitCall(event) {
  const dialog = $("call-dialog");
  if (event.submitter?.value !== "call") return;   // "Back" closes the dialog
  event.preventDefault();
  const room = currentRoom();
  const ticket = state.callTicket;
  if (!room || !ticket) { dialog.close(); return; }
  const reason = $("call-reason").value.trim();
  const note = $("call-note");
  if (!reason || reason.length > 200) { note.textContent = t("staff.call_reason_missing"); $("call-reason").focus(); return; }
  const submit = $("call-submit");
  submit.disabled = true;
  note.textContent = "";
  try {
    const answer = await api("POST", `/api/v1/rooms/${encodeURIComponent(room.id)}/call`, { ticket: ticket.id, reason });
    dialog.close();
    noteServerTime(answer?.called?.called_at);
    showNext({ answer, debounced: false });
  } catch (error) {
    if (loginAgain(error)) return;
    submit.disabled = false;
    note.textContent = t("staff.action_failed", { message: errorText(error) });
  }
}

// ---------- reception ----------

function renderIssue(queue) {
  const key = JSON.stringify(queue.services.map((s) => [s.id, localName(s), s.active]));
  if (key === state.servicesKey) return;
  state.servicesKey = key;
  const select = $("issue-service");
  const current = select.value;
  select.replaceChildren(...queue.services.map((s) =>
    el("option", { value: s.id, disabled: !s.active },
      `${s.prefix} · ${s.active ? localName(s) : t("staff.service_closed", { service: localName(s) })}`)));
  const usable = queue.services.find((s) => s.id === current && s.active) ?? queue.services.find((s) => s.active);
  if (usable) select.value = usable.id;
}

function issue(event) {
  event.preventDefault();
  const serviceId = $("issue-service").value;
  const priority = $("issue-priority").value || "normal";
  if (!serviceId) return;
  const button = $("issue-button");
  const key = randomKey();
  button.disabled = true;
  const body = { service: serviceId, priority, source: "reception" };
  const name = $("issue-patient-name").value.trim();
  const phone = $("issue-patient-phone").value.trim();
  if (name || phone) body.patient = { name, phone, messages: $("issue-patient-messages").checked };
  run("issue", () => api("POST", "/api/v1/tickets", body, { "Idempotency-Key": key }), (tk) => {
    remember(tk);
    if (body.patient) {
      state.patients.set(tk.id, { name, phone });
      $("issue-patient-name").value = "";
      $("issue-patient-phone").value = "";
      $("issue-patient").open = false;
    }
    const details = [serviceName(tk.service), className(tk.priority)];
    if (tk.position !== null && tk.position !== undefined) details.push(t("staff.ahead", { n: tk.position }));
    if (tk.eta_minutes !== null && tk.eta_minutes !== undefined) details.push(etaText(tk));
    toast([el("div", { class: "toast-line" }, withBigNumber("staff.issued", tk.number)),
      el("div", { class: "toast-detail" }, details.join(" · "))], "issued", 6000);
    $("issue-priority").value = "normal";
  }).finally(() => { button.disabled = !state.online; });
}

function renderCounts(queue) {
  $("counts").replaceChildren(...queue.services.map((s) => {
    const count = (queue.counts ?? []).find((c) => c.service === s.id) ?? { waiting: 0 };
    const rooms = queue.rooms.filter((r) => r.open && r.services.includes(s.id)).length;
    return el("li", { dataset: { service: s.id, count: count.waiting }, class: s.active ? null : "is-inactive" },
      el("span", { class: "count-prefix" }, s.prefix),
      el("span", { class: "count-name" }, localName(s),
        el("span", { class: "count-sub" }, count.waiting ? etaText(count) : t("staff.nobody_waiting"))),
      el("span", { class: "count-n", "aria-label": t("staff.waiting_n", { n: count.waiting }) }, String(count.waiting)),
      rooms === 0 ? el("span", { class: "badge badge-closed" }, t("staff.room_is_closed")) : null,
    );
  }));
  $("rooms-overview").replaceChildren(...queue.rooms.map((r) =>
    el("li", { dataset: { room: r.id }, class: [r.open ? "" : "is-closed", r.id === state.room ? "is-current" : ""].join(" ").trim() || null },
      el("button", { type: "button", class: "link-button", onclick: () => {
        if (document.body.classList.contains("view-reception")) setView(null);
        chooseRoom(r.id);
      } }, localName(r)),
      el("span", { class: "ov-serving" }, r.serving?.number ?? "—"),
      r.open && r.paused
        ? el("span", { class: "pill pill-paused" }, t("staff.on_break"))
        : el("span", { class: `pill ${r.open ? "pill-open" : "pill-closed"}` }, r.open ? t("staff.room_open") : t("staff.room_is_closed")))));
}

/** Everyone waiting, by service in call order; a click shows the ticket's actions under "find". */
function renderQueueList(queue) {
  $("queue-count").textContent = String(queue.waiting_total ?? queue.waiting.length);
  const list = $("queue-list");
  if (!queue.waiting.length) {
    list.replaceChildren(el("li", { class: "empty muted" }, t("staff.nobody_waiting")));
    return;
  }
  fillList(list, queue.waiting.map((tk) =>
    el("li", { dataset: { id: tk.id } },
      el("button", { type: "button", class: "queue-row", onclick: () => showTicket(tk.number) },
        el("span", { class: "row-number" }, tk.number),
        el("span", { class: "row-main" },
          tk.priority !== "normal" ? priorityBadge(tk.priority) : null,
          el("span", { class: "row-service" }, serviceName(tk.service))),
        el("span", { class: "row-eta" }, etaText(tk))))));
}

function showTicket(number) {
  const search = $("search");
  search.value = number;
  renderSearch();
  search.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

// ---------- search ----------

function remember(ticket) {
  if (ticket && typeof ticket.id === "number") state.known.set(ticket.id, ticket);
}

/** Every ticket the console knows of today, freshest first: queue lists, then recent calls, then events. */
function searchable() {
  const found = new Map();
  const queue = state.queue;
  if (!queue) return found;
  for (const tk of queue.waiting) found.set(tk.id, { ...tk });
  for (const r of queue.rooms) if (r.serving && !found.has(r.serving.id)) found.set(r.serving.id, { ...r.serving });
  for (const c of queue.recent_calls ?? []) {
    if (found.has(c.ticket)) continue;
    const seen = state.known.get(c.ticket);
    found.set(c.ticket, seen && seen.state === c.state
      ? { ...seen }
      : { ...(seen ?? {}), id: c.ticket, number: c.number, state: c.state, room: c.room, service: seen?.service ?? null });
  }
  for (const [id, tk] of state.known) {
    if (found.has(id)) continue;
    // A ticket that events say waits or is called but the snapshot does not list has moved on.
    if (tk.state === "waiting" || tk.state === "called") continue;
    found.set(id, { ...tk });
  }
  return found;
}

function matches(query) {
  const wanted = parseNumber(query);
  if (!wanted) return [];
  const out = [];
  for (const tk of searchable().values()) {
    const have = parseNumber(tk.number ?? "");
    if (!have || have.n !== wanted.n) continue;
    if (wanted.prefix && have.prefix !== wanted.prefix) continue;
    out.push(tk);
  }
  const order = { called: 0, waiting: 1, no_show: 2, cancelled: 3, done: 4, transferred: 5 };
  return out.sort((a, b) => (order[a.state] ?? 9) - (order[b.state] ?? 9) || b.id - a.id);
}

function renderSearch() {
  const box = $("search-result");
  const query = $("search").value.trim();
  if (!query) { box.replaceChildren(); return; }
  const found = matches(query);
  if (!found.length) {
    box.replaceChildren(el("p", { class: "search-none" }, t("staff.search_none")));
    return;
  }
  const focused = document.activeElement?.closest?.("#search-result [data-ticket] [data-action]");
  const again = focused
    ? [focused.closest("[data-ticket]").dataset.ticket, focused.dataset.action]
    : null;
  const shown = found.slice(0, 4);
  box.replaceChildren(...shown.map(searchCard));
  lookUpPatients(shown);
  if (again) box.querySelector(`[data-ticket="${again[0]}"] [data-action="${again[1]}"]`)?.focus();
}

function searchCard(tk) {
  const stateKey = `common.state_${tk.state}`;
  const where = [];
  if (tk.service) where.push(serviceName(tk.service));
  if (tk.priority && tk.priority !== "normal") where.push(className(tk.priority));
  if (tk.state === "waiting") {
    if (tk.position !== null && tk.position !== undefined) where.push(t("staff.ahead", { n: tk.position }));
    where.push(etaText(tk));
  }
  if (tk.state === "called" && tk.room) where.push(t("staff.in_room", { room: localName(roomOf(tk.room)) || tk.room }));
  const canCancel = tk.state === "waiting" || tk.state === "called";
  const canRequeue = tk.state === "called" || tk.state === "no_show" || tk.state === "cancelled";
  const canTransfer = canCancel && !!tk.service && otherServices(tk.service).length > 0;
  const off = !state.online;
  return el("div", { class: `result result-${tk.state}`, dataset: { ticket: tk.id, state: tk.state } },
    el("div", { class: "result-head" },
      el("span", { class: "result-number" }, tk.number),
      el("span", { class: `state state-${tk.state}` }, has(stateKey) ? t(stateKey) : tk.state)),
    where.length ? el("div", { class: "result-where" }, where.join(" · ")) : null,
    patientLine(tk),
    el("div", { class: "result-actions" },
      canCancel ? el("button", { type: "button", class: "btn btn-danger", "data-action": "cancel", disabled: off,
        onclick: () => ticketAction(tk, "cancel") }, t("staff.cancel")) : null,
      canRequeue ? el("button", { type: "button", class: "btn btn-quiet", "data-action": "requeue", disabled: off,
        onclick: () => ticketAction(tk, "requeue") }, t("staff.requeue")) : null,
      canTransfer ? el("button", { type: "button", class: "btn btn-quiet", "data-action": "transfer", disabled: off,
        onclick: () => openTransfer(tk) }, t("staff.transfer")) : null,
      canCancel && state.devices.has("printer") ? el("button", { type: "button", class: "btn btn-quiet", "data-action": "print",
        disabled: off, onclick: () => reprint(tk) }, t("staff.reprint")) : null,
    ));
}

/** The name and phone reception recorded with a ticket, if any (staff only; deleted after the
 *  retention period). */
function patientLine(tk) {
  const p = state.patients.get(tk.id);
  if (!p) return null;
  return el("div", { class: "result-patient" }, [p.name, p.phone].filter(Boolean).join(" · "));
}

/** Asks once per ticket whether reception recorded a name or phone with it. */
function lookUpPatients(tickets) {
  for (const tk of tickets) {
    if (state.patients.has(tk.id)) continue;
    state.patients.set(tk.id, null);
    api("GET", `/api/v1/tickets/${tk.id}/patient`)
      .then((p) => { state.patients.set(tk.id, p); renderSearch(); })
      .catch(() => { /* none recorded (404), or gone after the retention period */ });
  }
}

function reprint(tk) {
  run(`print-${tk.id}`, () => api("POST", `/api/v1/tickets/${tk.id}/print`, { lang: boot.lang }), () => {
    toast(t("staff.reprinted", { number: tk.number }), "ok");
  });
}

// ---------- devices ----------

/** The topbar's device chips: the printer always, other devices only when they need care. */
function renderDevices() {
  const box = $("devices");
  const chips = [];
  for (const device of state.devices.values()) {
    if (device.kind !== "printer" && device.health === "ok") continue;
    const key = `devices.condition_${device.condition.replaceAll("-", "_")}`;
    const what = device.kind === "printer" ? t("devices.printer") : device.name;
    let text = `${what}: ${has(key) ? t(key) : device.condition}`;
    if (device.queued_jobs) text += ` · ${t("devices.queued_jobs", { n: device.queued_jobs })}`;
    chips.push(el(device.kind === "printer" ? "a" : "span", {
      class: `device device-${device.health}`, dataset: { device: device.id, condition: device.condition },
      href: device.kind === "printer" ? "/printer" : null, title: device.detail || null,
    }, text));
  }
  box.replaceChildren(...chips);
}

function onDevice(device) {
  state.devices.set(device.id, device);
  renderDevices();
  if (device.id === "printer") renderSearch();
}

function ticketAction(tk, action) {
  run(`${action}-${tk.id}`, () => api("POST", `/api/v1/tickets/${tk.id}/${action}`), (answer) => {
    remember(answer);
    const key = action === "cancel" ? "staff.cancelled" : "staff.requeued";
    toast(t(key, { number: answer?.number ?? tk.number }), action === "cancel" ? "warn" : "ok");
    renderSearch();
  });
}

// ---------- live ----------

function noteServerTime(iso) {
  if (!iso) return;
  const sample = Date.now() - Date.parse(iso);
  if (!Number.isFinite(sample)) return;
  // Delays only make a sample larger: the smallest one is the best estimate of the skew.
  state.skewMs = state.skewMs === null ? sample : Math.min(state.skewMs, sample);
}

function onEvent(event) {
  noteServerTime(event.at);
  if (!$("day").hidden) dayLater();
  for (const field of ["ticket", "called", "finished", "from", "to"]) remember(event[field]);
  for (const list of [event.restored, event.closed]) (list ?? []).forEach(remember);
  if (event.kind === "day_closed") state.known.clear();
}

// The snapshot carries counts, not the waiting tickets: read the first WAITING_PAGE of them.
const WAITING_PAGE = 1000;
let snapshots = 0;

async function onSnapshot(queue) {
  const mine = ++snapshots;
  try {
    const page = await api("GET", `/api/v1/queue/waiting?limit=${WAITING_PAGE}`);
    queue.waiting = page.tickets;
    queue.waiting_total = page.total;
  } catch {
    queue.waiting = state.queue?.waiting ?? [];
  }
  if (mine !== snapshots) return; // a newer snapshot is on its way
  state.queue = queue;
  renderAll();
  // Service names come with the queue: the booking card may have been drawn before it.
  if (booking.plans.length > 0) renderBookServices();
}

function renderAll() {
  const queue = state.queue;
  if (!queue) return;
  settleRoom(queue);
  renderRoomSelect(queue);
  renderRoom(queue);
  if (canReception) {
    renderIssue(queue);
    renderCounts(queue);
    renderQueueList(queue);
    renderSearch();
  }
  state.rendered = true;
  if (state.callTicket && $("call-dialog").open
    && !queue.waiting.some((tk) => tk.id === state.callTicket.id)) {
    // Called or gone meanwhile: nothing to call.
    $("call-dialog").close();
  }
  if (state.transferTicket && $("transfer-dialog").open) {
    // The ticket being transferred was finished meanwhile: close the choice.
    const still = searchable().get(state.transferTicket.id);
    if (!still || !["waiting", "called"].includes(still.state)) $("transfer-dialog").close();
  }
}

function onStatus(connected) {
  state.online = connected;
  if (connected) state.everOnline = true;
  showLink(connected, t("staff.offline"));
  $("issue-button").disabled = !connected || !canReception;
  for (const b of document.querySelectorAll("#search-result button")) b.disabled = !connected;
  for (const b of document.querySelectorAll("#transfer-choices button")) b.disabled = !connected;
  renderRoomButtons();
}

// ---------- keys ----------

function typing(target) {
  if (!(target instanceof Element)) return false;
  return !!target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true'], dialog");
}

/** A keypad or pedal drives the room shown on this screen; a reception-only screen has none. */
function shortcutsOn() {
  return !!currentRoom() && !document.body.classList.contains("view-reception");
}

/** A waiting row's "Call" reached with Tab: Enter and Space press it (a keypad's Enter on a
 *  button the mouse last clicked stays "Next"). */
function keyboardCall(target) {
  return target instanceof Element && target.matches(".btn-call:focus-visible");
}

function onKey(event) {
  if (event.ctrlKey || event.altKey || event.metaKey) return;
  if (typing(event.target) || document.querySelector("dialog[open]")) return;
  if (keyboardCall(event.target)) return;
  if (!shortcutsOn()) return;
  const key = event.key;
  let action = null;
  if (key === " " || key === "Enter" || key === "Spacebar") action = "next";
  else if (key === "r" || key === "R") action = "recall";
  else if (key === "u" || key === "U") action = "undo";
  if (!action) return;
  event.preventDefault();   // also keeps a focused button from being clicked by Space/Enter
  if (event.repeat) return;
  roomAction(action);
}

// ---------- appointments (reception books for a caller) ----------

const booking = { plans: [], slot: null };

/** Shows the booking card when some doctor takes appointments (reception and admin only). */
async function loadPlans() {
  try { booking.plans = await api("GET", "/api/v1/plans"); } catch { booking.plans = []; }
  $("booking").hidden = !canReception || booking.plans.length === 0;
  if (canReception) renderBookServices();
}

function renderBookServices() {
  const ids = [...new Set(booking.plans.map((p) => p.service))];
  const select = $("book-service");
  const current = select.value;
  select.replaceChildren(...ids.map((id) => el("option", { value: id }, serviceName(id))));
  if (ids.includes(current)) select.value = current;
  renderBookDoctors();
}

function renderBookDoctors() {
  const serviceId = $("book-service").value;
  const select = $("book-doctor");
  const doctors = booking.plans.filter((p) => p.service === serviceId).map((p) => p.doctor);
  select.replaceChildren(el("option", { value: "" }, t("staff.book_any_doctor")),
    ...doctors.map((d) => el("option", { value: d }, d)));
}

/** "09:15" from a slot's clinic-time `local` ("2026-11-23T09:15:00+05:30"). */
function clock(local) {
  return String(local).slice(11, 16);
}

async function findSlots(event) {
  event?.preventDefault();
  const query = new URLSearchParams({ service: $("book-service").value, free: "true" });
  if ($("book-doctor").value) query.set("doctor", $("book-doctor").value);
  if ($("book-date").value) query.set("date", $("book-date").value);
  booking.slot = null;
  $("book-patient").hidden = true;
  // A new search clears the last booking's code; the refresh after a booking keeps it.
  if (event) $("book-result").replaceChildren();
  const box = $("book-slots");
  try {
    const slots = await api("GET", `/api/v1/slots?${query}`);
    if (slots.length === 0) {
      box.replaceChildren(el("p", { class: "hint" }, t("staff.book_none")));
      return;
    }
    box.replaceChildren(...slots.map((slot) => el("button", {
      type: "button", class: "btn book-slot", "data-start": slot.start, "data-doctor": slot.doctor,
      onclick: (e) => chooseSlot(slot, e.currentTarget),
    }, el("strong", {}, clock(slot.local)), el("span", {}, slot.doctor),
      el("span", { class: "book-free" }, t("staff.book_free", { n: slot.free })))));
  } catch (error) {
    failed(error);
  }
}

function chooseSlot(slot, button) {
  booking.slot = slot;
  for (const b of document.querySelectorAll(".book-slot")) b.setAttribute("aria-pressed", String(b === button));
  $("book-chosen").textContent = t("staff.book_chosen", { time: clock(slot.local), doctor: slot.doctor });
  $("book-patient").hidden = false;
  $("book-name").focus();
}

function book(event) {
  event.preventDefault();
  const slot = booking.slot;
  if (!slot) return;
  const body = {
    doctor: slot.doctor,
    service: $("book-service").value,
    start: slot.start,
    patient: {
      name: $("book-name").value.trim(), phone: $("book-phone").value.trim(),
      messages: $("book-messages").checked,
    },
  };
  run("book", () => api("POST", "/api/v1/bookings", body), (made) => {
    $("book-name").value = "";
    $("book-phone").value = "";
    $("book-patient").hidden = true;
    $("book-result").replaceChildren(
      el("p", {}, t("staff.book_done", { time: clock(made.local), doctor: made.doctor })),
      el("p", { class: "book-code", id: "book-code" }, made.code),
      el("p", { class: "hint" }, t("staff.book_code_hint")));
    findSlots().then(() => $("book-result").scrollIntoView({ block: "nearest" }));
  });
}

// ---------- the day's appointments (reception: every doctor; a doctor: their own) ----------

const day = { loading: false, again: false, timer: null };

/** Reads today's bookings and draws them; calls while a read is on its way coalesce. */
async function loadDay() {
  // Only where appointments are taken: any plan for reception, their own for a doctor.
  const taken = canReception
    ? booking.plans.length > 0
    : booking.plans.some((p) => p.doctor === may?.name);
  if (!taken) return;
  if (day.loading) { day.again = true; return; }
  day.loading = true;
  try {
    const query = new URLSearchParams();
    if (!canReception && may?.name) query.set("doctor", may.name);
    const list = await api("GET", `/api/v1/bookings?${query}`);
    renderDay(list);
  } catch { /* keeps the last list; the next event tries again */ }
  day.loading = false;
  if (day.again) { day.again = false; loadDay(); }
}

/** After a queue event: the day again, at most every 2 s. */
function dayLater() {
  if (day.timer) return;
  day.timer = setTimeout(() => { day.timer = null; loadDay(); }, 2000);
}

function dayState(b) {
  const tk = b.ticket;
  if (b.state === "booked") return ["booked", t("staff.day_booked")];
  if (b.state === "cancelled") return ["cancelled", t("staff.day_cancelled")];
  if (b.state === "no_show") return ["no_show", t("staff.day_no_show")];
  if (!tk) return ["done", t("staff.day_done")];
  if (tk.state === "waiting") return ["waiting", t("staff.day_waiting", { number: tk.number })];
  if (tk.state === "called") return ["called", t("staff.day_called", { number: tk.number })];
  if (tk.state === "no_show") return ["no_show", t("staff.day_no_show")];
  return ["done", t("staff.day_done")];
}

/** "5 min late" when the patient was called (or still waits) 5 minutes or more after the slot. */
function dayDelay(b) {
  const start = Date.parse(b.start);
  const waiting = b.state === "booked" || b.ticket?.state === "waiting";
  const at = b.ticket?.called_at ? Date.parse(b.ticket.called_at) : waiting ? serverNow() : null;
  if (at === null || !Number.isFinite(start)) return null;
  const off = Math.round((at - start) / 60000);
  if (off >= 5) return t("staff.day_late", { n: off });
  if (off <= -5 && b.ticket?.called_at) return t("staff.day_early", { n: -off });
  return null;
}

function renderDay(list) {
  $("day").hidden = false;
  $("day-count").textContent = String(list.filter((b) => b.state !== "cancelled").length);
  if (list.length === 0) {
    $("day-list").replaceChildren(el("li", { class: "hint" }, t("staff.day_none")));
    return;
  }
  $("day-list").replaceChildren(...list.map((b) => {
    const [kind, text] = dayState(b);
    const delay = dayDelay(b);
    const checkIn = canReception && (b.state === "booked" || b.state === "no_show")
      ? el("button", {
        type: "button", class: "btn btn-small day-check-in", "data-booking": b.id,
        disabled: !state.online,
        onclick: () => run(`check-in-${b.id}`, () => api("POST", `/api/v1/bookings/${b.id}/check-in`),
          (answer) => {
            toast(withBigNumber("staff.day_checked_in", answer.number, { number: answer.number }));
            loadDay();
          }),
      }, t("staff.day_check_in"))
      : null;
    return el("li", { class: "day-row", "data-booking": b.id, "data-state": kind },
      el("strong", { class: "day-time" }, clock(b.local)),
      el("span", { class: "day-who" },
        el("span", { class: "day-name" }, b.patient?.name ?? b.code),
        canReception ? el("span", { class: "day-doctor" }, b.doctor) : null),
      el("span", { class: `pill day-state day-${kind}` }, text),
      delay ? el("span", { class: "day-delay" }, delay) : null,
      checkIn);
  }));
}

// ---------- start ----------

/** Takes away what the role may not do: a doctor gets no reception tools at all. */
function applyRole() {
  document.body.classList.toggle("no-reception", !canReception);
  if (!canReception) {
    // (Open and close are hidden as the room is drawn.)
    for (const node of [$("reception"), document.querySelector(".views"),
      document.querySelector('#room-view [data-action="transfer"]')]) {
      if (node) node.hidden = true;
    }
  }
  $("admin-link").hidden = may?.admin !== true;
  // A doctor who is also a manager: the reports (an admin reaches them from the admin page).
  $("reports-link").hidden = may?.reports !== true || may?.admin === true;
  // A doctor's day sits in their room view.
  if (!canReception) $("room-view").append($("day"));
}

function start() {
  applyRole();
  topBar();
  const priority = $("issue-priority");
  for (const p of PRIORITIES) priority.append(el("option", { value: p }, className(p)));
  if (!state.room) {
    let saved = null;
    try { saved = localStorage.getItem(STORE_KEY); } catch { /* private mode */ }
    if (saved) chooseRoom(saved);
  } else {
    try { localStorage.setItem(STORE_KEY, state.room); } catch { /* private mode */ }
  }
  setView(canReception ? new URLSearchParams(location.search).get("view") : "room", false);
  for (const link of document.querySelectorAll("[data-view]")) {
    link.addEventListener("click", (e) => {
      e.preventDefault();
      const shown = document.body.classList.contains(`view-${link.dataset.view}`);
      setView(shown ? null : link.dataset.view);
    });
  }
  $("room-select").addEventListener("change", (e) => {
    chooseRoom(e.target.value);
    e.target.blur();   // so the next key from a keypad is "Next", not a change of room
  });
  for (const button of document.querySelectorAll("#room-panel [data-action]")) {
    button.addEventListener("click", () => roomAction(button.dataset.action));
  }
  $("issue-form").addEventListener("submit", issue);
  $("book-form").addEventListener("submit", findSlots);
  $("book-service").addEventListener("change", renderBookDoctors);
  $("book-patient").addEventListener("submit", book);
  $("search").addEventListener("input", renderSearch);
  $("search").addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.target.value = ""; renderSearch(); }
  });
  document.addEventListener("keydown", onKey);
  document.addEventListener("keyup", (e) => {
    if ((e.key === " " || e.key === "Enter") && !typing(e.target) && !keyboardCall(e.target) && !document.querySelector("dialog[open]") && shortcutsOn()) {
      e.preventDefault();
    }
  });
  $("transfer-dialog").addEventListener("close", () => { state.transferTicket = null; });
  $("call-form").addEventListener("submit", submitCall);
  $("call-reason").addEventListener("input", () => { $("call-note").textContent = ""; });
  $("call-dialog").addEventListener("close", () => {
    state.callTicket = null;
    // Focus goes back to the row's "Call": off it, unless the keyboard brought it there, so a
    // keypad's next Enter is "Next".
    if (!document.activeElement?.matches?.(":focus-visible")) document.activeElement?.blur?.();
  });
  $("toast").addEventListener("click", () => { $("toast").hidden = true; });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") $("toast").hidden = true; });
  new ResizeObserver(() => fitWaiting()).observe($("room-panel"));

  // Before the first connection: actions off.
  $("issue-button").disabled = true;
  renderRoomButtons();

  // Clock-driven parts: the undo window every second, waited times every 20 s.
  setInterval(renderRoomButtons, 1000);
  setInterval(() => {
    if (state.queue) { renderRoom(state.queue); renderCounts(state.queue); renderQueueList(state.queue); }
  }, 20000);

  new Live({ onSnapshot, onEvent, onStatus, onDevice }).start();
  loadPlans().then(loadDay);
  setInterval(() => { if (!$("day").hidden) loadDay(); }, 60000);
}

start();
