// waitless: the staff login page. Sends the name and password as JSON; the server answers with
// an HttpOnly session cookie, then the page goes where the user was going.

import { boot, t, api } from "./live.js";

for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const submit = document.getElementById("login-submit");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  submit.disabled = true;
  try {
    await api("POST", "/api/v1/login", {
      name: document.getElementById("login-name").value,
      password: document.getElementById("login-password").value,
    });
    location.assign(boot.settings.next || "/staff");
  } catch (e) {
    const retry = /(\d+) s/.exec(e.message ?? "")?.[1];
    error.textContent = e.code === "throttled" ? t("login.throttled", { secs: retry ?? "?" })
      : e.code === "invalid-credentials" || e.code === "user-disabled" ? t("login.wrong")
      : e.status === 0 ? t("common.offline") : t("login.failed");
    error.hidden = false;
    submit.disabled = false;
  }
});
