//! The clinic's own things: services (what a patient comes for) and rooms (who serves them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{DomainError, RoomId, ServiceId, Ticket, TicketId, Timestamp};

/// Clinic-wide settings that live in the database.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Clinic {
    /// Shown on the displays and printed on tickets.
    pub name: String,
    /// A message the displays scroll ("Dr. Rao is in from 11:00"); empty: none.
    #[serde(default)]
    pub message: String,
    /// Kiosk settings set in `/admin` (each unset one: the configuration file's).
    #[serde(default)]
    pub kiosk: super::KioskSettings,
    /// Kiosks and displays work only once an admin has paired them.
    #[serde(default)]
    pub pairing_required: bool,
}

/// What a patient comes for, with its own queue and token prefix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Service {
    /// Id.
    pub id: ServiceId,
    /// Name shown on the kiosk.
    pub name: String,
    /// Token prefix, 1–3 uppercase letters (`A` gives `A001`).
    pub prefix: String,
    /// Whether tickets can be issued.
    pub active: bool,
    /// Keep waiting tickets across the day close (24-hour departments).
    pub carry_over: bool,
    /// While closed: when it opens again, if staff said so (the kiosk shows it).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub reopens_at: Option<Timestamp>,
    /// The name in other languages, by language code (`{"hi": "सामान्य ओपीडी"}`); `name` where
    /// a language has none.
    #[serde(default)]
    pub names: BTreeMap<String, String>,
    /// Its place in lists (kiosk, displays, staff pages), lowest first; ties by id. `None` only
    /// in rows and events written before it existed ([`settle_looks`] assigns it).
    #[serde(default)]
    pub order: Option<u32>,
    /// Its colour: an index into the screens' palette of [`TONES`] tones, kept when services
    /// are added or reordered. `None` as for `order`.
    #[serde(default)]
    pub tone: Option<u8>,
    /// Its picture on the kiosk, one of [`SERVICE_ICONS`]; `None`: chosen from its name.
    #[serde(default)]
    pub icon: Option<String>,
    /// Whether the kiosk asks the priority question for it (else: a normal ticket at once).
    #[serde(default = "yes")]
    pub ask_priority: bool,
}

fn yes() -> bool {
    true
}

/// How many colours the screens' palette has (a service's `tone` is below this).
pub const TONES: u8 = 6;

/// Highest `order` a service or room may be given.
pub const ORDER_MAX: u32 = 9_999;

/// The pictures a service may have on the kiosk.
pub const SERVICE_ICONS: &[&str] = &[
    "stethoscope",
    "lab",
    "pill",
    "tooth",
    "eye",
    "child",
    "syringe",
    "scan",
    "heart",
    "card",
    "desk",
];

/// Checks an order: 0–[`ORDER_MAX`].
pub fn check_order(order: u32) -> Result<(), DomainError> {
    if order <= ORDER_MAX {
        Ok(())
    } else {
        Err(DomainError::InvalidSetting(format!(
            "order must be 0–{ORDER_MAX}"
        )))
    }
}

/// Checks a tone: below [`TONES`].
pub fn check_tone(tone: u8) -> Result<(), DomainError> {
    if tone < TONES {
        Ok(())
    } else {
        Err(DomainError::InvalidSetting(format!(
            "tone must be 0–{}",
            TONES - 1
        )))
    }
}

/// Checks an icon name: one of [`SERVICE_ICONS`].
pub fn check_icon(icon: &str) -> Result<(), DomainError> {
    if SERVICE_ICONS.contains(&icon) {
        Ok(())
    } else {
        Err(DomainError::InvalidSetting(format!(
            "icon must be one of {}",
            SERVICE_ICONS.join(", ")
        )))
    }
}

/// Gives every service and room without an `order` (or a service without a `tone`) the one
/// it had before these existed: its position in id order (the tone: that position modulo
/// [`TONES`], as the screens coloured it). Deterministic: the same rows or the same events
/// always give the same values. Returns whether anything changed.
pub fn settle_looks(
    services: &mut BTreeMap<ServiceId, Service>,
    rooms: &mut BTreeMap<RoomId, Room>,
) -> bool {
    let mut changed = false;
    for (position, service) in (0u32..).zip(services.values_mut()) {
        if service.order.is_none() {
            service.order = Some(position);
            changed = true;
        }
        if service.tone.is_none() {
            service.tone = u8::try_from(position % u32::from(TONES)).ok();
            changed = true;
        }
    }
    for (position, room) in (0u32..).zip(rooms.values_mut()) {
        if room.order.is_none() {
            room.order = Some(position);
            changed = true;
        }
    }
    changed
}

/// Checks a token prefix: 1–3 ASCII uppercase letters.
pub fn check_prefix(prefix: &str) -> Result<(), DomainError> {
    if (1..=3).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(DomainError::InvalidPrefix(prefix.chars().take(8).collect()))
    }
}

/// A place that serves patients: a doctor's cabin, a counter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Room {
    /// Id.
    pub id: RoomId,
    /// Name shown and announced ("Room 2").
    pub name: String,
    /// The name in other languages, by language code; `name` where a language has none.
    #[serde(default)]
    pub names: BTreeMap<String, String>,
    /// The services whose tickets it calls.
    pub services: Vec<ServiceId>,
    /// Whether it is calling tickets.
    pub open: bool,
    /// On break: open, its tickets keep waiting, but it calls nobody until it resumes ("next"
    /// and calls are refused with `room-on-break`); the displays say "On break".
    #[serde(default)]
    pub paused: bool,
    /// The ticket it is serving (state `called`).
    pub serving: Option<TicketId>,
    /// Its last "next", kept for the debounce and for undo.
    #[schema(value_type = Option<Object>)]
    pub last_next: Option<NextRecord>,
    /// Its recent service times.
    pub stats: ServiceTimes,
    /// Its place in lists (displays, staff pages), lowest first; ties by id. `None` only in
    /// rows and events written before it existed ([`settle_looks`] assigns it).
    #[serde(default)]
    pub order: Option<u32>,
}

impl Service {
    /// Its name in language `lang`.
    pub fn name_in(&self, lang: &str) -> &str {
        self.names.get(lang).unwrap_or(&self.name)
    }

    /// Where it sorts in lists: by order, then id.
    pub fn sort_key(&self) -> (u32, &ServiceId) {
        (self.order.unwrap_or(u32::MAX), &self.id)
    }
}

impl Room {
    /// Its name in language `lang`.
    pub fn name_in(&self, lang: &str) -> &str {
        self.names.get(lang).unwrap_or(&self.name)
    }

    /// Where it sorts in lists: by order, then id.
    pub fn sort_key(&self) -> (u32, &RoomId) {
        (self.order.unwrap_or(u32::MAX), &self.id)
    }

    /// Whether this room calls tickets of `service`.
    pub fn serves(&self, service: &ServiceId) -> bool {
        self.services.contains(service)
    }
}

/// What a room's last "next" changed, so that it can be undone exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NextRecord {
    /// When it happened.
    pub at: Timestamp,
    /// The tickets it changed, as they were before (the finished one, the called one).
    pub before: Vec<Ticket>,
    /// The tickets whose `passed_over` it incremented, each with its `requeue_count` then (a
    /// requeue restarts the count, so an undo after it takes nothing back).
    pub passed_over: Vec<(TicketId, u32)>,
    /// The room's service times before (finishing a ticket adds a sample).
    pub stats_before: ServiceTimes,
}

/// A moving average of a room's service times (exponentially weighted).
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct ServiceTimes {
    /// Samples seen (capped, only says whether the average means anything).
    pub samples: u32,
    /// Mean service time, seconds.
    pub mean_secs: f64,
    /// Mean absolute deviation, seconds.
    pub dev_secs: f64,
}

impl ServiceTimes {
    /// Weight of a new sample: about the last ten patients (a long patient or two move the
    /// estimate little; the clinic-day simulator measured 0.2 as too jumpy, see
    /// docs/queue-quality.md).
    const ALPHA: f64 = 0.1;
    /// Samples shorter or longer than this are clamped (a forgotten "done" must not poison it).
    const MIN_SECS: f64 = 15.0;
    const MAX_SECS: f64 = 3_600.0;

    /// Adds one completed service of `secs` seconds.
    pub fn add(&mut self, secs: f64) {
        let secs = secs.clamp(Self::MIN_SECS, Self::MAX_SECS);
        if self.samples == 0 {
            self.mean_secs = secs;
            self.dev_secs = secs / 4.0;
        } else {
            let dev = (secs - self.mean_secs).abs();
            self.mean_secs += Self::ALPHA * (secs - self.mean_secs);
            self.dev_secs += Self::ALPHA * (dev - self.dev_secs);
        }
        self.samples = self.samples.saturating_add(1).min(1_000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_one_to_three_uppercase_letters() {
        assert!(check_prefix("A").is_ok());
        assert!(check_prefix("LAB").is_ok());
        for bad in ["", "a", "ABCD", "A1", "Ä"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn service_times_follow_recent_samples_and_clamp_outliers() {
        let mut t = ServiceTimes::default();
        t.add(600.0);
        assert_eq!(t.mean_secs, 600.0);
        // one long patient moves the average by a tenth of the difference
        t.add(1_200.0);
        assert_eq!(t.mean_secs, 660.0);
        for _ in 0..60 {
            t.add(300.0);
        }
        assert!((t.mean_secs - 300.0).abs() < 1.0, "{}", t.mean_secs);
        let before = t.mean_secs;
        t.add(1_000_000.0);
        assert!(t.mean_secs <= before + ServiceTimes::ALPHA * 3_600.0);
    }
}
