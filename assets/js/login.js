// waitless: the staff login page. Sends the name and password as JSON; the server answers with
// an HttpOnly session cookie, then the page goes where the user was going.

import { boot, t, api, errorText } from "./live.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const submit = document.getElementById("login-submit");

// No administrator yet: the way in is /setup, with the code from the log.
document.getElementById("login-setup").hidden = boot.settings.setup_open !== true;

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  submit.disabled = true;
  try {
    const me = await api("POST", "/api/v1/login", {
      name: document.getElementById("login-name").value,
      password: document.getElementById("login-password").value,
    });
    // A manager alone has no staff console: their home is the reports.
    const roles = me?.roles ?? [];
    const managerOnly = roles.includes("manager") && !roles.some((r) => r !== "manager");
    const next = boot.settings.next || "/staff";
    location.assign(managerOnly && next === "/staff" ? "/admin/reports" : next);
  } catch (e) {
    // The server says how long to wait ("… in 30 s"): the number, in the page's words.
    const retry = /(\d+) s/.exec(e.message ?? "")?.[1];
    error.textContent = e.code === "throttled" && retry ? t("login.throttled", { secs: retry })
      : e.code === "user-disabled" ? errorText({ code: "invalid-credentials" })
      : errorText(e);
    error.hidden = false;
    submit.disabled = false;
  }
});
