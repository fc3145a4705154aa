// waitless: the demo printer's page. Shows every ticket the fake printer "printed", decoded
// from the ESC/POS bytes it received, newest first; refreshes when a ticket is issued and
// when the printer's status changes.

import { boot, t, el, api, Live } from "./live.js";

const jobsBox = document.getElementById("jobs");
const statusBox = document.getElementById("printer-status");
const hint = document.getElementById("printer-hint");
const testButton = document.getElementById("printer-test");

hint.textContent = boot.settings.fake ? t("devices.fake_hint") : t("devices.not_fake", { name: boot.settings.uri });

function showStatus(device) {
  if (!device) { statusBox.hidden = true; return; }
  statusBox.hidden = false;
  statusBox.dataset.health = device.health;
  const key = `devices.condition_${device.condition.replaceAll("-", "_")}`;
  let text = `${t("devices.printer")}: ${t(key)}`;
  if (device.queued_jobs) text += ` · ${t("devices.queued_jobs", { n: device.queued_jobs })}`;
  statusBox.textContent = text;
  statusBox.title = device.detail ?? "";
}

function block(b) {
  switch (b.kind) {
    case "text": {
      const classes = ["pr-line"];
      if (b.bold) classes.push("pr-bold");
      if (b.align === "center") classes.push("pr-center");
      if (b.align === "right") classes.push("pr-right");
      const line = el("div", { class: classes.join(" ") }, b.text);
      // ESC/POS sizes multiply the 12×24 dot font; the CSS font is 12 px for 24 dots.
      line.style.fontSize = `${12 * b.height}px`;
      line.style.letterSpacing = b.width > b.height ? `${(b.width - b.height) * 3}px` : "";
      return line;
    }
    case "image":
      return el("img", { class: "pr-block", src: b.src, width: b.width / 2, height: b.height / 2, alt: "" });
    case "qr":
      return el("img", { class: "pr-block pr-qr", src: b.src, width: 120, height: 120, alt: b.data, title: b.data });
    case "cut":
      return el("div", { class: "pr-cut", "aria-hidden": "true" });
    default:
      return null;
  }
}

function showJobs(jobs) {
  if (!jobs.length) {
    jobsBox.replaceChildren(el("p", { class: "pr-empty", id: "no-jobs" }, t("devices.no_jobs")));
    return;
  }
  const narrow = boot.settings.paper_mm === 58 ? " pr-58" : "";
  jobsBox.replaceChildren(...[...jobs].reverse().map((job) =>
    el("figure", { class: "pr-job", dataset: { job: job.id, label: job.label } },
      el("figcaption", {}, `#${job.id} · ${job.label}`),
      el("div", { class: `pr-paper${narrow}` }, ...job.blocks.map(block)))));
}

let pending = null;
async function refresh() {
  if (pending) return;
  pending = (async () => {
    try {
      const [jobs, devices] = await Promise.all([
        api("GET", "/api/v1/devices/printer/jobs"), api("GET", "/api/v1/devices")]);
      showJobs(jobs);
      showStatus(devices.find((d) => d.id === "printer"));
    } catch { /* shown again on the next event */ }
  })();
  await pending;
  pending = null;
}

testButton.addEventListener("click", async () => {
  testButton.disabled = true;
  try { await api("POST", "/api/v1/devices/printer/test"); } catch { /* status shows why */ }
  setTimeout(() => { testButton.disabled = false; refresh(); }, 500);
});

new Live({
  refreshOnEvent: false,
  onSnapshot: () => refresh(),
  onEvent: (event) => { if (event.kind === "ticket_issued") setTimeout(refresh, 300); },
  onDevice: (device) => { if (device.id === "printer") { showStatus(device); refresh(); } },
}).start();
refresh();
