// waitless: /book — a patient books an appointment on their own phone: a service and a day, a
// free time (the server's free slots for the public: the plan's notice applies), name and
// phone, then the booking code to check in with and the booking's own page (/b/{token}).

import { boot, t, api, el, errorText, localName } from "./live.js";
import { languageLinks } from "./page.js";

const $ = (id) => document.getElementById(id);
const services = boot.settings?.services ?? [];
const verifyPhone = Boolean(boot.settings?.verify_phone);
const messagesOffered = Boolean(boot.settings?.messages);
let chosen = null;

/** "09:15" from a slot's clinic-time `local` ("2026-11-23T09:15:00+05:30"). */
function clock(local) {
  return String(local).slice(11, 16);
}

/** "Mon 23 Nov, 09:15" in the page's language, from the clinic-time `local`. */
function when(local) {
  const day = new Date(`${String(local).slice(0, 10)}T12:00:00`);
  let date;
  try {
    date = new Intl.DateTimeFormat(boot.lang, { weekday: "short", day: "numeric", month: "short" }).format(day);
  } catch {
    date = String(local).slice(0, 10);
  }
  return `${date}, ${clock(local)}`;
}

function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

async function findTimes() {
  chosen = null;
  $("book-form").hidden = true;
  const box = $("book-times");
  const query = new URLSearchParams({ service: $("book-service").value, days: "1" });
  if ($("book-date").value) query.set("date", $("book-date").value);
  try {
    const slots = await api("GET", `/api/v1/public/slots?${query}`);
    if (slots.length === 0) {
      box.replaceChildren(el("p", { class: "b-none" }, t("book.none")));
      return;
    }
    box.replaceChildren(...slots.map((slot) => el("button", {
      type: "button", class: "b-time", "data-start": slot.start, "data-doctor": slot.doctor,
      "aria-pressed": "false",
      onclick: (e) => choose(slot, e.currentTarget),
    }, clock(slot.local), el("small", {}, slot.doctor))));
  } catch (error) {
    box.replaceChildren(el("p", { class: "b-error", role: "alert" }, errorText(error)));
  }
}

function choose(slot, button) {
  chosen = slot;
  for (const b of document.querySelectorAll(".b-time")) b.setAttribute("aria-pressed", String(b === button));
  $("book-chosen").textContent = t("book.chosen", { time: when(slot.local), doctor: slot.doctor });
  $("book-error").hidden = true;
  $("book-form").hidden = false;
  $("book-name").focus();
}

async function submit(event) {
  event.preventDefault();
  if (!chosen) return;
  const name = $("book-name").value.trim();
  const phone = $("book-phone").value.trim();
  const code = $("book-phone-code").value.trim();
  if (!name || !phone || (verifyPhone && !code)) {
    $("book-error").textContent = t(verifyPhone && name && phone ? "book.code_needed" : "book.fill_in");
    $("book-error").hidden = false;
    return;
  }
  $("book-submit").disabled = true;
  try {
    const made = await api("POST", "/api/v1/public/bookings", {
      doctor: chosen.doctor, service: $("book-service").value, start: chosen.start,
      name, phone, language: boot.lang, messages: $("book-messages").checked, code,
    });
    $("book-find").hidden = true;
    $("book-times").closest("section").hidden = true;
    $("book-form").hidden = true;
    $("book-when").textContent = t("book.chosen", { time: when(made.local), doctor: made.doctor });
    $("book-code").textContent = made.code;
    $("book-link").href = `${made.link}?lang=${encodeURIComponent(boot.lang)}`;
    $("book-done").hidden = false;
    $("book-done").scrollIntoView({ block: "start" });
  } catch (error) {
    $("book-error").textContent = errorText(error);
    $("book-error").hidden = false;
    if (error.code === "slot-taken") findTimes();
  } finally {
    $("book-submit").disabled = false;
  }
}

/** Texts a one-time code to the phone typed (the clinic asks for it before booking). */
async function sendCode() {
  const phone = $("book-phone").value.trim();
  $("book-error").hidden = true;
  if (!phone) {
    $("book-error").textContent = t("book.fill_in");
    $("book-error").hidden = false;
    $("book-phone").focus();
    return;
  }
  $("book-send-code").disabled = true;
  try {
    await api("POST", "/api/v1/public/phone-code", { phone, language: boot.lang });
    $("book-code-sent").hidden = false;
    $("book-phone-code").focus();
  } catch (error) {
    $("book-error").textContent = errorText(error);
    $("book-error").hidden = false;
  } finally {
    $("book-send-code").disabled = false;
  }
}

function start() {
  languageLinks();
  $("book-messages-row").hidden = !messagesOffered;
  $("book-code-step").hidden = !verifyPhone;
  $("book-send-code").addEventListener("click", sendCode);
  const select = $("book-service");
  select.replaceChildren(...services.map((s) => el("option", { value: s.id }, localName(s))));
  $("book-date").value = today();
  $("book-date").min = today();
  select.addEventListener("change", findTimes);
  $("book-date").addEventListener("change", findTimes);
  $("book-find").addEventListener("submit", (e) => { e.preventDefault(); findTimes(); });
  $("book-form").addEventListener("submit", submit);
  if (services.length === 0) {
    $("book-times").replaceChildren(el("p", { class: "b-none" }, t("book.none")));
    return;
  }
  findTimes();
}

start();
