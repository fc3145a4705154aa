// waitless: an unpaired kiosk or display shows a code until an admin approves it in /admin,
// then reloads as itself (the server has set its screen cookie).

import { boot, t, api } from "./live.js";

const codeNode = document.getElementById("pair-code");
const stateNode = document.getElementById("pair-state");
const POLL_MS = 2000;

/** "K7M4QX" → "K7M 4QX": easier to read across a room and to type. */
const spaced = (code) => `${code.slice(0, 3)} ${code.slice(3)}`;

async function ask() {
  const answer = await api("POST", "/api/v1/pair", { kind: boot.settings.kind });
  codeNode.textContent = spaced(answer.code);
  stateNode.textContent = t("pair.waiting");
}

async function poll() {
  try {
    const answer = await api("GET", "/api/v1/pair");
    if (answer.state === "paired") {
      stateNode.textContent = t("pair.paired", { name: answer.name });
      setTimeout(() => location.reload(), 800);
      return;
    }
    codeNode.textContent = spaced(answer.code);
  } catch (e) {
    if (e.status === 404) {
      // Expired (15 minutes) or the server restarted: a new code.
      try { await ask(); } catch { stateNode.textContent = t("pair.offline"); }
    } else {
      stateNode.textContent = t("pair.offline");
    }
  }
  setTimeout(poll, POLL_MS);
}

ask().catch(() => { stateNode.textContent = t("pair.offline"); }).finally(() => setTimeout(poll, POLL_MS));
