//! The bookings and the seats they hold.
//!
//! Like the queue, the ledger is decided and applied: [`Ledger::decide`] checks an operation
//! against the plans, the clock and the seats taken, and answers the change (the event's
//! payload) without changing anything; [`Ledger::apply`] makes a committed change. The engine
//! runs both on its one writer thread and commits the change with its event in one transaction,
//! so two bookings can never both see the last seat free: there is no check-then-insert race to
//! lose. A reschedule is one change: the old seat is given up only if the new one is taken.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::BookingError;
use super::plan::Plan;
use super::slots::Slot;
use crate::domain::{PriorityClass, ServiceId, TicketId};

/// The characters of a booking code: no 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B — nothing that sounds
/// or looks like another over the phone or on a receipt.
pub const CODE_ALPHABET: &[u8] = b"ACDEFHJKMNPQRTUVWXY3479";
/// Characters in a booking code.
pub const CODE_LENGTH: usize = 6;

/// A booking code from random bytes (the caller draws them; the domain has no randomness).
pub fn booking_code(random: [u8; CODE_LENGTH]) -> String {
    random
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()]))
        .collect()
}

/// Whether `code` is shaped like a booking code (after [`normalize_code`]).
pub fn is_booking_code(code: &str) -> bool {
    code.len() == CODE_LENGTH && code.bytes().all(|b| CODE_ALPHABET.contains(&b))
}

/// A code as typed: upper case, spaces and dashes dropped.
pub fn normalize_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// The plans, one per doctor and service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plans {
    plans: BTreeMap<(String, ServiceId), Plan>,
}

impl Plans {
    /// The plan of `doctor` for `service`.
    pub fn get(&self, doctor: &str, service: &ServiceId) -> Option<&Plan> {
        self.plans.get(&(doctor.to_owned(), service.clone()))
    }

    /// Every plan, by doctor then service.
    pub fn all(&self) -> impl Iterator<Item = &Plan> {
        self.plans.values()
    }

    /// Checks `plan` before it is set: sound, and not at the same time as another plan of the
    /// same doctor (its own earlier version aside).
    pub fn check(&self, plan: &Plan) -> Result<(), BookingError> {
        plan.check().map_err(BookingError::Plan)?;
        if let Some(other) = self
            .plans
            .values()
            .find(|other| other.service != plan.service && other.overlaps(plan))
        {
            return Err(BookingError::PlanOverlaps {
                doctor: plan.doctor.clone(),
                service: other.service.clone(),
            });
        }
        Ok(())
    }

    /// Sets (adds or replaces) a checked plan.
    pub fn set(&mut self, plan: Plan) {
        self.plans
            .insert((plan.doctor.clone(), plan.service.clone()), plan);
    }

    /// Removes a plan.
    pub fn remove(&mut self, doctor: &str, service: &ServiceId) {
        self.plans.remove(&(doctor.to_owned(), service.clone()));
    }
}

/// Where a booking came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Reception, in the staff console (a phone call, at the desk).
    Staff,
    /// The API, with a token.
    Api,
    /// The public booking page.
    Public,
}

/// Where a booking stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BookingState {
    /// Holds its seat; the patient has not come yet.
    Booked,
    /// The patient came and has a ticket in the live queue.
    CheckedIn {
        /// The ticket.
        ticket: TicketId,
        /// When.
        at: Timestamp,
    },
    /// Cancelled: the seat is free again.
    Cancelled {
        /// When.
        at: Timestamp,
    },
    /// Not checked in by the end of its late window.
    NoShow,
}

impl BookingState {
    /// The snake_case word used in the API: `booked`, `checked_in`, `cancelled`, `no_show`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::CheckedIn { .. } => "checked_in",
            Self::Cancelled { .. } => "cancelled",
            Self::NoShow => "no_show",
        }
    }

    /// Whether it holds its seat.
    pub fn holds_seat(&self) -> bool {
        matches!(self, Self::Booked | Self::CheckedIn { .. })
    }
}

/// One booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// Its number, from 1.
    pub id: u64,
    /// The short code (printed, read out over the phone).
    pub code: String,
    /// The doctor.
    pub doctor: String,
    /// The service.
    pub service: ServiceId,
    /// The slot's start: when the patient is due.
    pub start: Timestamp,
    /// The slot's end.
    pub end: Timestamp,
    /// The slot's date in the clinic's zone.
    pub date: Date,
    /// Where it stands.
    pub state: BookingState,
    /// Booked by staff beyond the slot's seats or the patient's cap (in the audit trail).
    #[serde(default)]
    pub overbooked: bool,
    /// Who booked it.
    pub channel: Channel,
    /// A key for the patient, for the cap per day (a hash of the phone number: the number
    /// itself is personal data and lives with the patient's details).
    #[serde(default)]
    pub patient_key: Option<String>,
    /// When it was made.
    pub created_at: Timestamp,
}

/// What the caller asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "booking", rename_all = "snake_case")]
pub enum BookingOp {
    /// Book a slot.
    Book {
        /// The doctor.
        doctor: String,
        /// The service.
        service: ServiceId,
        /// The slot's start.
        start: Timestamp,
        /// A fresh code ([`booking_code`]).
        code: String,
        /// The patient's key, for the cap.
        patient_key: Option<String>,
        /// Who asks.
        channel: Channel,
        /// Beyond the seats and the cap (staff only).
        overbook: bool,
    },
    /// Move a booking to another slot (of the same service; the doctor may change).
    Reschedule {
        /// The booking.
        id: u64,
        /// The doctor of the new slot.
        doctor: String,
        /// The new slot's start.
        start: Timestamp,
        /// Who asks.
        channel: Channel,
        /// Beyond the seats (staff only).
        overbook: bool,
    },
    /// Cancel a booking.
    Cancel {
        /// The booking.
        id: u64,
    },
    /// The patient has come: the booking gets its ticket.
    CheckIn {
        /// The booking.
        id: u64,
        /// The ticket issued for it.
        ticket: TicketId,
    },
    /// The patient did not come in time.
    NoShow {
        /// The booking.
        id: u64,
    },
}

/// A decided change: the event's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum BookingChange {
    /// A new booking.
    Booked {
        /// It.
        booking: Booking,
    },
    /// Moved, in one step.
    Rescheduled {
        /// The booking.
        id: u64,
        /// The new doctor.
        doctor: String,
        /// The new slot's start.
        start: Timestamp,
        /// Its end.
        end: Timestamp,
        /// Its date.
        date: Date,
        /// Beyond the seats.
        overbooked: bool,
    },
    /// Cancelled.
    Cancelled {
        /// The booking.
        id: u64,
        /// When.
        at: Timestamp,
    },
    /// Checked in.
    CheckedIn {
        /// The booking.
        id: u64,
        /// Its ticket.
        ticket: TicketId,
        /// When.
        at: Timestamp,
    },
    /// A no-show.
    NoShow {
        /// The booking.
        id: u64,
    },
}

impl BookingChange {
    /// The booking it changes.
    pub fn booking_id(&self) -> u64 {
        match self {
            Self::Booked { booking } => booking.id,
            Self::Rescheduled { id, .. }
            | Self::Cancelled { id, .. }
            | Self::CheckedIn { id, .. }
            | Self::NoShow { id } => *id,
        }
    }
}

/// The clinic's rules for arrivals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// How early before the slot a patient may check in and be ordered by slot time.
    pub early_minutes: u32,
    /// How late after the slot start a booking still counts; later, it is a no-show.
    pub late_minutes: u32,
}

impl Arrival {
    /// When check-in opens for a slot starting at `start`.
    pub fn opens(&self, start: Timestamp) -> Timestamp {
        start
            .checked_sub(jiff::SignedDuration::from_mins(i64::from(
                self.early_minutes,
            )))
            .unwrap_or(start)
    }

    /// Where a patient checking in at `now` for a slot starting at `start` joins the queue:
    /// up to the late limit, in the appointment class at the slot time; later, as a walk-in
    /// (normal class) at the check-in time. See [`crate::domain::rules`].
    pub fn placement(&self, start: Timestamp, now: Timestamp) -> (PriorityClass, Timestamp) {
        let late = jiff::SignedDuration::from_mins(i64::from(self.late_minutes));
        match start.checked_add(late) {
            Ok(limit) if now <= limit => (PriorityClass::Appointment, start),
            _ => (PriorityClass::Normal, now),
        }
    }
}

impl Default for Arrival {
    fn default() -> Self {
        Self {
            early_minutes: 30,
            late_minutes: 15,
        }
    }
}

/// A slot and how many of its seats are taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeSlot {
    /// The slot.
    pub slot: Slot,
    /// Seats taken.
    pub taken: u16,
}

impl FreeSlot {
    /// Seats left.
    pub fn free(&self) -> u16 {
        self.slot.seats.saturating_sub(self.taken)
    }
}

/// Every booking, with the seats taken per doctor and slot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    bookings: BTreeMap<u64, Booking>,
    by_code: HashMap<String, u64>,
    /// Seats held per (doctor, slot start).
    taken: BTreeMap<(String, Timestamp), u16>,
    /// Bookings held per (patient key, doctor, service, date), for the cap.
    per_patient: BTreeMap<(String, String, ServiceId, Date), u16>,
    last_id: u64,
}

impl Ledger {
    /// A booking by id.
    pub fn get(&self, id: u64) -> Option<&Booking> {
        self.bookings.get(&id)
    }

    /// A booking by its code (as typed: see [`normalize_code`]).
    pub fn by_code(&self, code: &str) -> Option<&Booking> {
        self.by_code
            .get(&normalize_code(code))
            .and_then(|id| self.bookings.get(id))
    }

    /// Every booking, oldest first.
    pub fn all(&self) -> impl Iterator<Item = &Booking> {
        self.bookings.values()
    }

    /// Seats taken in `doctor`'s slot at `start`.
    pub fn taken(&self, doctor: &str, start: Timestamp) -> u16 {
        self.taken
            .get(&(doctor.to_owned(), start))
            .copied()
            .unwrap_or(0)
    }

    /// The slots of `plan` on `date` that can be booked at `now` by `channel`, with their seats
    /// taken (full ones included: a caller shows them as full).
    pub fn slots(
        &self,
        plan: &Plan,
        date: Date,
        tz: &TimeZone,
        now: Timestamp,
        channel: Channel,
    ) -> Vec<FreeSlot> {
        plan.slots_on(date, tz)
            .into_iter()
            .filter(|slot| bookable_when(plan, slot.start, tz, now, channel).is_ok())
            .map(|slot| FreeSlot {
                slot,
                taken: self.taken(&plan.doctor, slot.start),
            })
            .collect()
    }

    /// Checks `op` at `now`; the change to commit, or why not. Changes nothing.
    pub fn decide(
        &self,
        plans: &Plans,
        tz: &TimeZone,
        now: Timestamp,
        arrival: Arrival,
        op: BookingOp,
    ) -> Result<BookingChange, BookingError> {
        match op {
            BookingOp::Book {
                doctor,
                service,
                start,
                code,
                patient_key,
                channel,
                overbook,
            } => {
                let code = normalize_code(&code);
                if !is_booking_code(&code) {
                    return Err(BookingError::InvalidCode);
                }
                if self.by_code.contains_key(&code) {
                    return Err(BookingError::CodeInUse);
                }
                let plan = plans
                    .get(&doctor, &service)
                    .ok_or_else(|| BookingError::NoPlan {
                        doctor: doctor.clone(),
                        service: service.clone(),
                    })?;
                let (slot, date) = self.claimable(plan, tz, now, start, channel, overbook)?;
                if let Some(key) = &patient_key {
                    self.check_cap(plan, key, date, overbook)?;
                }
                let overbooked = self.taken(&doctor, start) >= slot.seats;
                Ok(BookingChange::Booked {
                    booking: Booking {
                        id: self.last_id + 1,
                        code,
                        doctor,
                        service,
                        start: slot.start,
                        end: slot.end,
                        date,
                        state: BookingState::Booked,
                        overbooked,
                        channel,
                        patient_key,
                        created_at: now,
                    },
                })
            }
            BookingOp::Reschedule {
                id,
                doctor,
                start,
                channel,
                overbook,
            } => {
                let booking = self.active(id)?;
                if booking.state != BookingState::Booked {
                    return Err(BookingError::NotActive(id));
                }
                if booking.doctor == doctor && booking.start == start {
                    return Err(BookingError::SameSlot);
                }
                let plan =
                    plans
                        .get(&doctor, &booking.service)
                        .ok_or_else(|| BookingError::NoPlan {
                            doctor: doctor.clone(),
                            service: booking.service.clone(),
                        })?;
                let (slot, date) = self.claimable(plan, tz, now, start, channel, overbook)?;
                if let Some(key) = &booking.patient_key
                    && (date != booking.date || doctor != booking.doctor)
                {
                    self.check_cap(plan, key, date, overbook)?;
                }
                Ok(BookingChange::Rescheduled {
                    id,
                    overbooked: self.taken(&doctor, start) >= slot.seats,
                    doctor,
                    start: slot.start,
                    end: slot.end,
                    date,
                })
            }
            BookingOp::Cancel { id } => {
                let booking = self.active(id)?;
                if booking.state != BookingState::Booked {
                    return Err(BookingError::NotActive(id));
                }
                Ok(BookingChange::Cancelled { id, at: now })
            }
            BookingOp::CheckIn { id, ticket } => {
                let booking = self.active(id)?;
                // A patient marked a no-show who comes later that day still checks in (as a
                // walk-in: see [`Arrival::placement`]).
                if !matches!(booking.state, BookingState::Booked | BookingState::NoShow) {
                    return Err(BookingError::NotActive(id));
                }
                let today = now.to_zoned(tz.clone()).date();
                if booking.date != today {
                    return Err(BookingError::NotToday(booking.date));
                }
                let opens = arrival.opens(booking.start);
                if now < opens {
                    return Err(BookingError::TooEarly(opens.to_zoned(tz.clone()).time()));
                }
                Ok(BookingChange::CheckedIn {
                    id,
                    ticket,
                    at: now,
                })
            }
            BookingOp::NoShow { id } => {
                let booking = self.active(id)?;
                if booking.state != BookingState::Booked {
                    return Err(BookingError::NotActive(id));
                }
                let late = i64::from(arrival.late_minutes) * 60;
                if now.as_second() <= booking.start.as_second() + late {
                    return Err(BookingError::NotLateYet);
                }
                Ok(BookingChange::NoShow { id })
            }
        }
    }

    /// The bookings that are past their late window at `now` and not checked in: the
    /// [`BookingOp::NoShow`]s to run.
    pub fn overdue(&self, now: Timestamp, arrival: Arrival) -> Vec<u64> {
        let late = i64::from(arrival.late_minutes) * 60;
        self.bookings
            .values()
            .filter(|b| {
                b.state == BookingState::Booked && now.as_second() > b.start.as_second() + late
            })
            .map(|b| b.id)
            .collect()
    }

    /// Makes a committed change. A change that no longer fits (replayed against other data)
    /// is skipped: apply never fails.
    pub fn apply(&mut self, change: &BookingChange) {
        match change {
            BookingChange::Booked { booking } => {
                if self.bookings.contains_key(&booking.id) {
                    return;
                }
                self.last_id = self.last_id.max(booking.id);
                self.by_code.insert(booking.code.clone(), booking.id);
                self.bookings.insert(booking.id, booking.clone());
                if booking.state.holds_seat() {
                    self.hold(booking, 1);
                }
            }
            BookingChange::Rescheduled {
                id,
                doctor,
                start,
                end,
                date,
                overbooked,
            } => {
                let Some(mut booking) = self.bookings.get(id).cloned() else {
                    return;
                };
                let holds = booking.state.holds_seat();
                if holds {
                    self.hold(&booking, -1);
                }
                booking.doctor.clone_from(doctor);
                booking.start = *start;
                booking.end = *end;
                booking.date = *date;
                booking.overbooked = *overbooked;
                if holds {
                    self.hold(&booking, 1);
                }
                self.bookings.insert(*id, booking);
            }
            BookingChange::Cancelled { id, at } => {
                self.set_state(*id, BookingState::Cancelled { at: *at });
            }
            BookingChange::CheckedIn { id, ticket, at } => {
                self.set_state(
                    *id,
                    BookingState::CheckedIn {
                        ticket: *ticket,
                        at: *at,
                    },
                );
            }
            BookingChange::NoShow { id } => self.set_state(*id, BookingState::NoShow),
        }
    }

    /// The seats taken, counted again from the bookings (for tests and checks).
    pub fn recount(&self) -> BTreeMap<(String, Timestamp), u16> {
        let mut taken = BTreeMap::new();
        for b in self.bookings.values().filter(|b| b.state.holds_seat()) {
            *taken.entry((b.doctor.clone(), b.start)).or_insert(0) += 1;
        }
        taken
    }

    /// A ledger of stored bookings (at start): the indexes are built from them.
    pub fn restore(bookings: impl IntoIterator<Item = Booking>) -> Self {
        let mut ledger = Self::default();
        for booking in bookings {
            ledger.last_id = ledger.last_id.max(booking.id);
            ledger.by_code.insert(booking.code.clone(), booking.id);
            if booking.state.holds_seat() {
                ledger.hold(&booking, 1);
            }
            ledger.bookings.insert(booking.id, booking);
        }
        ledger
    }

    /// The index of seats taken (for tests and checks).
    pub fn seats_index(&self) -> &BTreeMap<(String, Timestamp), u16> {
        &self.taken
    }

    fn set_state(&mut self, id: u64, state: BookingState) {
        let Some(mut booking) = self.bookings.get(&id).cloned() else {
            return;
        };
        match (booking.state.holds_seat(), state.holds_seat()) {
            (true, false) => self.hold(&booking, -1),
            (false, true) => self.hold(&booking, 1),
            _ => {}
        }
        booking.state = state;
        self.bookings.insert(id, booking);
    }

    /// Adds (`1`) or gives back (`-1`) the seat and the patient's count of a booking.
    fn hold(&mut self, booking: &Booking, delta: i32) {
        bump(
            &mut self.taken,
            (booking.doctor.clone(), booking.start),
            delta,
        );
        if let Some(key) = &booking.patient_key {
            bump(
                &mut self.per_patient,
                (
                    key.clone(),
                    booking.doctor.clone(),
                    booking.service.clone(),
                    booking.date,
                ),
                delta,
            );
        }
    }

    /// Refuses a booking beyond the plan's cap for the patient `key` on `date`.
    fn check_cap(
        &self,
        plan: &Plan,
        key: &str,
        date: Date,
        overbook: bool,
    ) -> Result<(), BookingError> {
        let held = self
            .per_patient
            .get(&(
                key.to_owned(),
                plan.doctor.clone(),
                plan.service.clone(),
                date,
            ))
            .copied()
            .unwrap_or(0);
        if plan.per_patient_per_day > 0 && held >= plan.per_patient_per_day && !overbook {
            return Err(BookingError::PatientCap(plan.per_patient_per_day));
        }
        Ok(())
    }

    fn active(&self, id: u64) -> Result<&Booking, BookingError> {
        self.bookings.get(&id).ok_or(BookingError::NotFound(id))
    }

    /// The slot at `start` if `channel` may claim a seat in it at `now`; with its date.
    fn claimable(
        &self,
        plan: &Plan,
        tz: &TimeZone,
        now: Timestamp,
        start: Timestamp,
        channel: Channel,
        overbook: bool,
    ) -> Result<(Slot, Date), BookingError> {
        let slot = plan.slot_at(start, tz).ok_or(BookingError::NoSuchSlot)?;
        bookable_when(plan, start, tz, now, channel)?;
        if overbook && channel != Channel::Staff {
            return Err(BookingError::OverbookNeedsStaff);
        }
        // A move needs a free seat where it goes (moving within one slot is refused before).
        if self.taken(&plan.doctor, start) >= slot.seats && !overbook {
            return Err(BookingError::SlotTaken);
        }
        Ok((slot, start.to_zoned(tz.clone()).date()))
    }
}

/// Whether a slot at `start` is open for booking at `now` by `channel`: not begun, within the
/// horizon, and (except for staff) with the plan's notice.
fn bookable_when(
    plan: &Plan,
    start: Timestamp,
    tz: &TimeZone,
    now: Timestamp,
    channel: Channel,
) -> Result<(), BookingError> {
    if start <= now {
        return Err(BookingError::Past);
    }
    let notice = i64::from(plan.min_notice_minutes) * 60;
    if channel != Channel::Staff && start.as_second() - now.as_second() < notice {
        return Err(BookingError::TooSoon(plan.min_notice_minutes));
    }
    let today = now.to_zoned(tz.clone()).date();
    let day = start.to_zoned(tz.clone()).date();
    let ahead = today
        .until(day)
        .map(|span| span.get_days())
        .unwrap_or(i32::MAX);
    if ahead > i32::from(plan.horizon_days) {
        return Err(BookingError::BeyondHorizon(plan.horizon_days));
    }
    Ok(())
}

fn bump<K: Ord>(map: &mut BTreeMap<K, u16>, key: K, delta: i32) {
    match map.entry(key) {
        Entry::Occupied(mut held) => {
            let count = (i32::from(*held.get()) + delta).max(0);
            if count == 0 {
                held.remove();
            } else {
                *held.get_mut() = u16::try_from(count).unwrap_or(u16::MAX);
            }
        }
        Entry::Vacant(none) => {
            if delta > 0 {
                none.insert(u16::try_from(delta).unwrap_or(u16::MAX));
            }
        }
    }
}
