// waitless: first run — create the first admin with the one-time code from the log.

import { boot, t, api } from "./live.js";

for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);

const form = document.getElementById("setup-form");
const error = document.getElementById("setup-error");
const submit = document.getElementById("setup-submit");

if (!boot.settings.open) {
  document.getElementById("setup-hint").textContent = t("setup.done");
  for (const input of form.querySelectorAll("input, button")) input.disabled = true;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  submit.disabled = true;
  try {
    await api("POST", "/api/v1/setup", {
      code: document.getElementById("setup-code").value,
      name: document.getElementById("setup-name").value,
      password: document.getElementById("setup-password").value,
    });
    location.assign("/staff");
  } catch (e) {
    error.textContent = e.code === "forbidden" ? t("setup.wrong_code")
      : e.code === "weak-password" ? t("setup.weak") : e.message || t("login.failed");
    error.hidden = false;
    submit.disabled = false;
  }
});
