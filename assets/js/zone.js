// waitless: times in the clinic's time zone (an IANA name from the page's boot settings), not the
// browser's: an admin reading the audit trail from home sees the clinic's clock. Without a
// zone (the server's has no IANA name) the browser's own local time is used.

/** The zone's offset from UTC at instant `ms`, in milliseconds. */
function offsetAt(ms, zone) {
  const parts = {};
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  for (const p of format.formatToParts(new Date(ms))) parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wall - Math.floor(ms / 1000) * 1000;
}

/** A `datetime-local` value ("2026-11-21T10:00") read in `zone` → RFC 3339 UTC; null if blank or bad. */
export function localToUtc(value, zone) {
  if (!value) return null;
  if (!zone) {
    const ms = Date.parse(value);
    return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
  }
  const guess = Date.parse(value.length === 16 ? `${value}:00Z` : `${value}Z`);
  if (!Number.isFinite(guess)) return null;
  let at = guess - offsetAt(guess, zone);
  const again = offsetAt(at, zone);
  if (guess - again !== at) at = guess - again;   // across a DST change
  return new Date(at).toISOString();
}

/** An instant (ms) as a `datetime-local` value in `zone`. */
export function utcToLocal(ms, zone) {
  const shifted = zone ? ms + offsetAt(ms, zone) : ms - new Date(ms).getTimezoneOffset() * 60000;
  return new Date(shifted).toISOString().slice(0, 16);
}

/** An RFC 3339 time, shown in `zone` and `lang`: "21 Nov 2026, 10:04:12". */
export function formatTime(iso, zone, lang, withSeconds = true) {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return iso ?? "";
  const options = { dateStyle: "medium", timeStyle: withSeconds ? "medium" : "short" };
  if (zone) options.timeZone = zone;
  try {
    return new Intl.DateTimeFormat(lang, options).format(new Date(ms));
  } catch {
    return new Date(ms).toISOString();
  }
}
