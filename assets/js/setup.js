// waitless: first run — create the first admin with the one-time code from the log.

import { boot, t, api, errorText } from "./live.js";

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
    // Here a refusal means the setup code is wrong.
    error.textContent = e.code === "forbidden" ? t("setup.wrong_code") : errorText(e);
    error.hidden = false;
    submit.disabled = false;
  }
});
