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
  $("booking-calendar").href = `/b/${encodeURIComponent(token)}/booking.ics`;
  $("booking-calendar").hidden = b.state !== "booked";
  $("booking-cancel").hidden = !b.cancellable;
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
if (boot.settings?.known) {
  load();
} else {
  $("booking").replaceChildren(el("p", { class: "b-error", role: "alert" }, t("book.not_found")));
}
