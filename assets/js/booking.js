// waitless: /b/{token} — a booking's own page on the patient's phone: when and with whom, the
// code to check in with at the kiosk, "add to calendar" (.ics), and cancel while the slot has
// not begun.

import { boot, t, api, el, errorText } from "./live.js";
import { languageLinks } from "./page.js";

const $ = (id) => document.getElementById(id);
const token = String(boot.settings?.token ?? "");

function when(local) {
  const day = new Date(`${String(local).slice(0, 10)}T12:00:00`);
  let date;
  try {
    date = new Intl.DateTimeFormat(boot.lang, { weekday: "long", day: "numeric", month: "long" }).format(day);
  } catch {
    date = String(local).slice(0, 10);
  }
  return `${date}, ${String(local).slice(11, 16)}`;
}

function show(b) {
  $("booking-state").dataset.state = b.state;
  $("booking-state").textContent = t(`book.state_${b.state}`);
  $("booking-when").textContent = t("book.chosen", { time: when(b.local), doctor: b.doctor });
  $("booking-code").textContent = b.code;
  // The kiosk's scanner reads the code from this screen, while the booking is open.
  $("booking-qr").hidden = b.state !== "booked";
  if (b.state === "booked") $("booking-qr").src = `/b/${encodeURIComponent(token)}/qr.svg`;
  $("booking-calendar").href = `/b/${encodeURIComponent(token)}/booking.ics`;
  $("booking-calendar").hidden = b.state !== "booked";
  $("booking-cancel").hidden = !b.cancellable;
  $("booking-move").hidden = !b.cancellable;
  if (!b.cancellable) $("move").hidden = true;
}

// ---- change the time: the free times of the same service, then one step to move ----

let target = null;

function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

async function findTimes() {
  target = null;
  $("move-submit").hidden = true;
  const query = new URLSearchParams({ days: "1" });
  if ($("move-date").value) query.set("date", $("move-date").value);
  const box = $("move-times");
  try {
    const slots = await api("GET", `/api/v1/public/bookings/${encodeURIComponent(token)}/slots?${query}`);
    if (slots.length === 0) {
      box.replaceChildren(el("p", { class: "b-none" }, t("book.none")));
      return;
    }
    box.replaceChildren(...slots.map((slot) => el("button", {
      type: "button", class: "b-time", "data-start": slot.start, "aria-pressed": "false",
      onclick: (e) => {
        target = slot;
        for (const b of box.querySelectorAll(".b-time")) b.setAttribute("aria-pressed", String(b === e.currentTarget));
        $("move-submit").textContent = t("book.move_to", { time: when(slot.local) });
        $("move-submit").hidden = false;
      },
    }, String(slot.local).slice(11, 16), el("small", {}, slot.doctor))));
  } catch (error) {
    box.replaceChildren(el("p", { class: "b-error", role: "alert" }, errorText(error)));
  }
}

function openMove() {
  $("move").hidden = false;
  $("move-date").min = today();
  if (!$("move-date").value) $("move-date").value = today();
  findTimes();
  $("move").scrollIntoView({ block: "start" });
}

async function move() {
  if (!target) return;
  $("move-submit").disabled = true;
  try {
    show(await api("POST", `/api/v1/public/bookings/${encodeURIComponent(token)}/reschedule`,
      { doctor: target.doctor, start: target.start }));
    $("move").hidden = true;
    $("booking").scrollIntoView({ block: "start" });
  } catch (error) {
    $("booking-error").textContent = errorText(error);
    $("booking-error").hidden = false;
    findTimes();
  } finally {
    $("move-submit").disabled = false;
  }
}

async function load() {
  try {
    show(await api("GET", `/api/v1/public/bookings/${encodeURIComponent(token)}`));
  } catch (error) {
    $("booking").replaceChildren(el("p", { class: "b-error", role: "alert" },
      error.status === 404 ? t("book.not_found") : errorText(error)));
  }
}

async function cancel() {
  if (!window.confirm(t("book.cancel_confirm"))) return;
  $("booking-cancel").disabled = true;
  try {
    show(await api("POST", `/api/v1/public/bookings/${encodeURIComponent(token)}/cancel`));
  } catch (error) {
    $("booking-error").textContent = errorText(error);
    $("booking-error").hidden = false;
  } finally {
    $("booking-cancel").disabled = false;
  }
}

languageLinks();
$("booking-cancel").addEventListener("click", cancel);
$("booking-move").addEventListener("click", openMove);
$("move-date").addEventListener("change", findTimes);
$("move-submit").addEventListener("click", move);
if (boot.settings?.known) {
  load();
} else {
  $("booking").replaceChildren(el("p", { class: "b-error", role: "alert" }, t("book.not_found")));
}
