//! Appointments: doctors' plans, the slots they give, and the bookings that hold their seats.
//!
//! Pure like the rest of the domain: time and the clinic's time zone are passed in, booking
//! codes are drawn by the caller. The pieces:
//!
//! * [`plan`]: a doctor's weekly working periods for one service, breaks, one-day exceptions,
//!   and the booking settings;
//! * [`slots`]: the rule that turns a plan's wall-clock hours on a date into slots, in the
//!   clinic's zone, across daylight-saving changes;
//! * [`ledger`]: the bookings, decided and applied like queue commands so that a seat is
//!   claimed in the same step as its event — never two patients in one seat.

pub mod ledger;
pub mod plan;
#[cfg(test)]
mod proptests;
pub mod slots;

pub use ledger::{
    Arrival, Booking, BookingChange, BookingOp, BookingState, Channel, FreeSlot, Ledger, Plans,
    booking_code, is_booking_code, normalize_code,
};
pub use plan::{DayException, Period, Plan};
pub use slots::{Slot, Window};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::domain::{PatientDetails, ServiceId, Timestamp};

/// What the engine keeps of appointments: the plans and the ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Appointments {
    /// Doctors' plans.
    pub plans: Plans,
    /// The bookings.
    pub ledger: Ledger,
}

/// An appointments command, as the engine receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AppointmentOp {
    /// Add or replace a doctor's plan for a service.
    SetPlan {
        /// The plan.
        plan: Box<Plan>,
    },
    /// Remove a plan (its bookings stay: cancel them first if they must go).
    RemovePlan {
        /// The doctor.
        doctor: String,
        /// The service.
        service: ServiceId,
    },
    /// A booking operation.
    Booking {
        /// The operation.
        op: BookingOp,
    },
}

/// What an appointments event changed, for the store to write in the same transaction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppointmentRows {
    /// Plans to write.
    pub plans: Vec<Plan>,
    /// Plans to delete.
    pub plans_removed: Vec<(String, ServiceId)>,
    /// Bookings to write, as they are after the event.
    pub bookings: Vec<Booking>,
    /// Patients' details of new bookings (kept outside the event log, like a ticket's).
    pub contacts: Vec<(u64, PatientDetails)>,
    /// Bookings whose patients' details are deleted (the retention period).
    pub contacts_purged: Vec<u64>,
}

/// An appointments event's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum AppointmentChange {
    /// A plan was set.
    PlanSet {
        /// It.
        plan: Box<Plan>,
    },
    /// A plan was removed.
    PlanRemoved {
        /// The doctor.
        doctor: String,
        /// The service.
        service: ServiceId,
    },
    /// A booking changed.
    Booking {
        /// How.
        change: BookingChange,
    },
}

impl Appointments {
    /// Decides `op` at `now`: the change to commit, or why not. `doctor_known` says whether a
    /// login name belongs to an enabled staff user with the doctor role; `service_known`
    /// whether a service exists.
    pub fn decide(
        &self,
        op: &AppointmentOp,
        now: Timestamp,
        tz: &TimeZone,
        arrival: Arrival,
        doctor_known: impl Fn(&str) -> bool,
        service_known: impl Fn(&ServiceId) -> bool,
    ) -> Result<AppointmentChange, BookingError> {
        match op {
            AppointmentOp::SetPlan { plan } => {
                if !doctor_known(&plan.doctor) {
                    return Err(BookingError::NotADoctor(plan.doctor.clone()));
                }
                if !service_known(&plan.service) {
                    return Err(BookingError::NoService(plan.service.clone()));
                }
                self.plans.check(plan)?;
                Ok(AppointmentChange::PlanSet { plan: plan.clone() })
            }
            AppointmentOp::RemovePlan { doctor, service } => {
                if self.plans.get(doctor, service).is_none() {
                    return Err(BookingError::NoPlan {
                        doctor: doctor.clone(),
                        service: service.clone(),
                    });
                }
                Ok(AppointmentChange::PlanRemoved {
                    doctor: doctor.clone(),
                    service: service.clone(),
                })
            }
            AppointmentOp::Booking { op } => {
                let change = self
                    .ledger
                    .decide(&self.plans, tz, now, arrival, op.clone())?;
                Ok(AppointmentChange::Booking { change })
            }
        }
    }

    /// Makes a committed change; the rows the store writes with it.
    /// Applies what a committed event changes of appointments (a plan or booking change, or a
    /// check-in's ticket) and answers the rows to write; other events change nothing. The
    /// engine and the hub both follow the log through this one function.
    pub fn apply_event(&mut self, event: &crate::domain::Event) -> AppointmentRows {
        match &event.kind {
            crate::domain::EventKind::AppointmentChanged { change } => self.apply(change),
            crate::domain::EventKind::TicketIssued {
                ticket,
                booking: Some(id),
                ..
            } => self.apply(&AppointmentChange::Booking {
                change: BookingChange::CheckedIn {
                    id: *id,
                    ticket: ticket.id,
                    at: event.at,
                },
            }),
            _ => AppointmentRows::default(),
        }
    }

    /// Applies a committed change and answers the rows to write.
    pub fn apply(&mut self, change: &AppointmentChange) -> AppointmentRows {
        let mut rows = AppointmentRows::default();
        match change {
            AppointmentChange::PlanSet { plan } => {
                self.plans.set(Plan::clone(plan));
                rows.plans.push(Plan::clone(plan));
            }
            AppointmentChange::PlanRemoved { doctor, service } => {
                self.plans.remove(doctor, service);
                rows.plans_removed.push((doctor.clone(), service.clone()));
            }
            AppointmentChange::Booking { change } => {
                self.ledger.apply(change);
                if let Some(booking) = self.ledger.get(change.booking_id()) {
                    rows.bookings.push(booking.clone());
                }
            }
        }
        rows
    }
}

/// A plan an admin cannot save.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A setting out of range or periods that do not make sense.
    #[error("{0}")]
    Invalid(String),
}

/// Why a booking operation was refused. Nothing changes when one is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingError {
    /// The plan cannot be saved.
    #[error("{0}")]
    Plan(PlanError),
    /// A doctor's plans overlap.
    #[error(
        "{doctor} already works for {service} at some of these hours: one doctor, one plan at a time"
    )]
    PlanOverlaps {
        /// The doctor.
        doctor: String,
        /// The other plan's service.
        service: ServiceId,
    },
    /// The doctor has no plan for the service.
    #[error("{doctor} takes no appointments for {service}")]
    NoPlan {
        /// The doctor.
        doctor: String,
        /// The service.
        service: ServiceId,
    },
    /// No slot starts then.
    #[error("there is no slot at that time: pick one from the free slots")]
    NoSuchSlot,
    /// The slot has begun or is over.
    #[error("that slot has already begun")]
    Past,
    /// Too close to its start for this channel.
    #[error("slots must be booked at least {0} minutes ahead: please call the clinic")]
    TooSoon(u32),
    /// Too far ahead.
    #[error("bookings open at most {0} days ahead")]
    BeyondHorizon(u16),
    /// Every seat of the slot is taken.
    #[error("that slot has just been taken: please pick another")]
    SlotTaken,
    /// The patient already holds the plan's cap that day.
    #[error("one patient can hold at most {0} booking(s) a day with this doctor")]
    PatientCap(u16),
    /// Overbooking is for staff.
    #[error("only staff can book beyond a slot's seats")]
    OverbookNeedsStaff,
    /// No such booking.
    #[error("no booking {0}")]
    NotFound(u64),
    /// Cancelled, checked in or a no-show already.
    #[error("booking {0} is no longer open (cancelled, checked in or missed)")]
    NotActive(u64),
    /// A reschedule to where it already is.
    #[error("the booking is already in that slot")]
    SameSlot,
    /// A check-in on another day than the booking's.
    #[error("this booking is for {0}, not today")]
    NotToday(Date),
    /// No open booking today matches what the patient typed.
    #[error("no booking for today matches: check the code, or ask at reception")]
    NoMatchToday,
    /// A check-in before the early window opened.
    #[error("check-in for this booking opens at {0}")]
    TooEarly(jiff::civil::Time),
    /// A no-show before the late window ended.
    #[error("the patient may still come: the late window has not ended")]
    NotLateYet,
    /// Not a booking code.
    #[error("a booking code is 6 letters and digits, as printed on the booking")]
    InvalidCode,
    /// The code drawn is taken (the caller draws another).
    #[error("that booking code is in use")]
    CodeInUse,
    /// A plan for someone who is not an enabled doctor.
    #[error("{0} is not an enabled staff user with the doctor role")]
    NotADoctor(String),
    /// A plan for a service that does not exist.
    #[error("there is no service {0}")]
    NoService(ServiceId),
}

impl BookingError {
    /// The stable error code of the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Plan(_) => "invalid-plan",
            Self::PlanOverlaps { .. } => "plan-overlaps",
            Self::NoPlan { .. } => "no-plan",
            Self::NoSuchSlot => "no-such-slot",
            Self::Past => "slot-past",
            Self::TooSoon(_) => "too-soon",
            Self::BeyondHorizon(_) => "beyond-horizon",
            Self::SlotTaken => "slot-taken",
            Self::PatientCap(_) => "patient-cap-reached",
            Self::OverbookNeedsStaff => "overbook-needs-staff",
            Self::NotFound(_) => "booking-not-found",
            Self::NotActive(_) => "booking-not-open",
            Self::SameSlot => "same-slot",
            Self::NotToday(_) => "booking-not-today",
            Self::NotLateYet => "not-late-yet",
            Self::TooEarly(_) => "too-early-to-check-in",
            Self::NoMatchToday => "no-booking-today",
            Self::InvalidCode => "invalid-booking-code",
            Self::CodeInUse => "booking-code-in-use",
            Self::NotADoctor(_) => "not-a-doctor",
            Self::NoService(_) => "unknown-service",
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::tz::TimeZone;
    use jiff::{Timestamp, ToSpan};

    use super::*;
    use crate::domain::TicketId;

    fn general() -> ServiceId {
        ServiceId::parse("general").unwrap()
    }

    fn setup(seats: u16) -> (Plans, TimeZone, Timestamp) {
        let mut plan = Plan::weekdays("rao", general(), vec![Period::hm((9, 0), (10, 0))]);
        plan.seats = seats;
        plan.slot_minutes = 30;
        plan.min_notice_minutes = 60;
        plan.horizon_days = 7;
        let mut plans = Plans::default();
        plans.check(&plan).unwrap();
        plans.set(plan);
        let tz = TimeZone::get("Asia/Kolkata").unwrap();
        // Monday 7 December 2026, 07:00 in Kolkata.
        let now: Timestamp = "2026-12-07T01:30:00Z".parse().unwrap();
        (plans, tz, now)
    }

    fn at(local: &str, tz: &TimeZone) -> Timestamp {
        jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", local)
            .unwrap()
            .to_zoned(tz.clone())
            .unwrap()
            .timestamp()
    }

    fn book(n: u8, start: Timestamp, channel: Channel, patient: Option<&str>) -> BookingOp {
        BookingOp::Book {
            doctor: "rao".into(),
            service: general(),
            start,
            code: booking_code([n; 6]),
            patient_key: patient.map(str::to_owned),
            channel,
            overbook: false,
        }
    }

    fn run(
        ledger: &mut Ledger,
        plans: &Plans,
        tz: &TimeZone,
        now: Timestamp,
        op: BookingOp,
    ) -> Result<BookingChange, BookingError> {
        let change = ledger.decide(plans, tz, now, Arrival::default(), op)?;
        ledger.apply(&change);
        Ok(change)
    }

    #[test]
    fn the_last_seat_goes_once_and_a_cancel_frees_it() {
        let (plans, tz, now) = setup(2);
        let mut ledger = Ledger::default();
        let nine = at("2026-12-07 09:00", &tz);
        run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(1, nine, Channel::Public, None),
        )
        .unwrap();
        run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(2, nine, Channel::Api, None),
        )
        .unwrap();
        let before = ledger.clone();
        let third = run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(3, nine, Channel::Staff, None),
        );
        assert_eq!(third.unwrap_err().code(), "slot-taken");
        assert_eq!(ledger, before, "a refusal changes nothing");
        run(&mut ledger, &plans, &tz, now, BookingOp::Cancel { id: 1 }).unwrap();
        assert_eq!(ledger.taken("rao", nine), 1);
        run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(3, nine, Channel::Staff, None),
        )
        .unwrap();
        assert_eq!(ledger.taken("rao", nine), 2);
        assert_eq!(ledger.recount(), *ledger.seats_index());
    }

    #[test]
    fn staff_may_overbook_on_purpose_and_it_is_recorded() {
        let (plans, tz, now) = setup(1);
        let mut ledger = Ledger::default();
        let nine = at("2026-12-07 09:00", &tz);
        run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(1, nine, Channel::Staff, None),
        )
        .unwrap();
        let mut over = book(2, nine, Channel::Public, None);
        if let BookingOp::Book { overbook, .. } = &mut over {
            *overbook = true;
        }
        let refused = ledger.decide(&plans, &tz, now, Arrival::default(), over.clone());
        assert_eq!(refused.unwrap_err().code(), "overbook-needs-staff");
        if let BookingOp::Book { channel, .. } = &mut over {
            *channel = Channel::Staff;
        }
        let change = run(&mut ledger, &plans, &tz, now, over).unwrap();
        let BookingChange::Booked { booking } = change else {
            panic!("{change:?}")
        };
        assert!(booking.overbooked);
        assert_eq!(ledger.taken("rao", nine), 2);
    }

    #[test]
    fn notice_horizon_past_and_odd_times_are_refused() {
        let (plans, tz, now) = setup(1);
        let ledger = Ledger::default();
        let decide = |op| ledger.decide(&plans, &tz, now, Arrival::default(), op);
        // 07:00 now; 08:30 is not a slot; 09:00 is 2 h ahead (notice 60 min): fine.
        let refused = [
            (now + 30.minutes(), "no-such-slot"),
            (at("2026-12-05 09:00", &tz), "slot-past"),
            (at("2026-12-15 09:00", &tz), "beyond-horizon"),
            (at("2026-12-07 09:10", &tz), "no-such-slot"),
        ];
        for (start, code) in refused {
            let answer = decide(book(1, start, Channel::Public, None));
            assert_eq!(answer.unwrap_err().code(), code, "{start}");
        }
        // 08:30 now: 09:00 is 30 min ahead: too soon for the public, fine for reception.
        let later = at("2026-12-07 08:30", &tz);
        let nine = at("2026-12-07 09:00", &tz);
        let public = ledger.decide(
            &plans,
            &tz,
            later,
            Arrival::default(),
            book(1, nine, Channel::Public, None),
        );
        assert_eq!(public.unwrap_err().code(), "too-soon");
        let staff = ledger.decide(
            &plans,
            &tz,
            later,
            Arrival::default(),
            book(1, nine, Channel::Staff, None),
        );
        assert!(staff.is_ok());
        let bad = ledger.decide(
            &plans,
            &tz,
            now,
            Arrival::default(),
            BookingOp::Book {
                doctor: "rao".into(),
                service: general(),
                start: nine,
                code: "O0I1L".into(),
                patient_key: None,
                channel: Channel::Public,
                overbook: false,
            },
        );
        assert_eq!(bad.unwrap_err().code(), "invalid-booking-code");
    }

    #[test]
    fn one_patient_holds_at_most_the_cap_a_day() {
        let (plans, tz, now) = setup(3);
        let mut ledger = Ledger::default();
        let nine = at("2026-12-07 09:00", &tz);
        let half = at("2026-12-07 09:30", &tz);
        let tomorrow = at("2026-12-08 09:00", &tz);
        run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(1, nine, Channel::Public, Some("p1")),
        )
        .unwrap();
        let second = run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(2, half, Channel::Public, Some("p1")),
        );
        assert_eq!(second.unwrap_err().code(), "patient-cap-reached");
        run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(2, half, Channel::Public, Some("p2")),
        )
        .unwrap();
        run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(3, tomorrow, Channel::Public, Some("p1")),
        )
        .unwrap();
        // Moving today's to tomorrow would make two tomorrow.
        let moved = ledger.decide(
            &plans,
            &tz,
            now,
            Arrival::default(),
            BookingOp::Reschedule {
                id: 1,
                doctor: "rao".into(),
                start: at("2026-12-08 09:30", &tz),
                channel: Channel::Public,
                overbook: false,
            },
        );
        assert_eq!(moved.unwrap_err().code(), "patient-cap-reached");
    }

    #[test]
    fn a_reschedule_keeps_the_old_seat_when_the_new_one_is_taken() {
        let (plans, tz, now) = setup(1);
        let mut ledger = Ledger::default();
        let nine = at("2026-12-07 09:00", &tz);
        let half = at("2026-12-07 09:30", &tz);
        run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(1, nine, Channel::Public, None),
        )
        .unwrap();
        run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(2, half, Channel::Public, None),
        )
        .unwrap();
        let move_to = |start| BookingOp::Reschedule {
            id: 1,
            doctor: "rao".into(),
            start,
            channel: Channel::Public,
            overbook: false,
        };
        let taken = run(&mut ledger, &plans, &tz, now, move_to(half));
        assert_eq!(taken.unwrap_err().code(), "slot-taken");
        assert_eq!(ledger.get(1).unwrap().start, nine);
        run(&mut ledger, &plans, &tz, now, BookingOp::Cancel { id: 2 }).unwrap();
        run(&mut ledger, &plans, &tz, now, move_to(half)).unwrap();
        assert_eq!(ledger.get(1).unwrap().start, half);
        assert_eq!(ledger.taken("rao", nine), 0);
        assert_eq!(ledger.taken("rao", half), 1);
        assert_eq!(
            run(&mut ledger, &plans, &tz, now, move_to(half))
                .unwrap_err()
                .code(),
            "same-slot"
        );
    }

    #[test]
    fn check_in_on_the_day_and_no_show_after_the_late_window() {
        let (plans, tz, now) = setup(1);
        let mut ledger = Ledger::default();
        let nine = at("2026-12-07 09:00", &tz);
        let tomorrow = at("2026-12-08 09:00", &tz);
        run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(1, nine, Channel::Public, None),
        )
        .unwrap();
        run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(2, tomorrow, Channel::Public, None),
        )
        .unwrap();
        let early = run(
            &mut ledger,
            &plans,
            &tz,
            now,
            BookingOp::CheckIn {
                id: 2,
                ticket: TicketId(7),
            },
        );
        assert_eq!(early.unwrap_err().code(), "booking-not-today");
        let arrived = at("2026-12-07 08:50", &tz);
        run(
            &mut ledger,
            &plans,
            &tz,
            arrived,
            BookingOp::CheckIn {
                id: 1,
                ticket: TicketId(5),
            },
        )
        .unwrap();
        assert!(matches!(
            ledger.get(1).unwrap().state,
            BookingState::CheckedIn {
                ticket: TicketId(5),
                ..
            }
        ));
        // A checked-in booking still holds its seat, and cannot be cancelled.
        assert_eq!(ledger.taken("rao", nine), 1);
        assert_eq!(
            run(
                &mut ledger,
                &plans,
                &tz,
                arrived,
                BookingOp::Cancel { id: 1 }
            )
            .unwrap_err()
            .code(),
            "booking-not-open"
        );
        // Tomorrow 09:10: still within 15 minutes late. 09:16: a no-show.
        let still = at("2026-12-08 09:10", &tz);
        assert!(ledger.overdue(still, Arrival::default()).is_empty());
        assert_eq!(
            run(&mut ledger, &plans, &tz, still, BookingOp::NoShow { id: 2 })
                .unwrap_err()
                .code(),
            "not-late-yet"
        );
        let gone = at("2026-12-08 09:16", &tz);
        assert_eq!(ledger.overdue(gone, Arrival::default()), [2]);
        run(&mut ledger, &plans, &tz, gone, BookingOp::NoShow { id: 2 }).unwrap();
        assert_eq!(ledger.get(2).unwrap().state, BookingState::NoShow);
        assert_eq!(ledger.taken("rao", tomorrow), 0);
    }

    #[test]
    fn codes_are_unambiguous_and_typed_codes_are_forgiven() {
        let code = booking_code([0, 1, 2, 3, 250, 255]);
        assert!(is_booking_code(&code), "{code}");
        assert!(!code.contains(['0', 'O', '1', 'I', 'L', '5', 'S', '8', 'B']));
        let (plans, tz, now) = setup(1);
        let mut ledger = Ledger::default();
        let nine = at("2026-12-07 09:00", &tz);
        run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(9, nine, Channel::Public, None),
        )
        .unwrap();
        let typed = format!(
            " {}-{} ",
            code_of(&ledger, 1)[..3].to_lowercase(),
            &code_of(&ledger, 1)[3..]
        );
        assert_eq!(ledger.by_code(&typed).unwrap().id, 1);
        let again = run(
            &mut ledger,
            &plans,
            &tz,
            now,
            book(9, at("2026-12-07 09:30", &tz), Channel::Public, None),
        );
        assert_eq!(again.unwrap_err().code(), "booking-code-in-use");
    }

    fn code_of(ledger: &Ledger, id: u64) -> String {
        ledger.get(id).unwrap().code.clone()
    }

    #[test]
    fn a_replayed_change_that_no_longer_fits_is_skipped() {
        let mut ledger = Ledger::default();
        ledger.apply(&BookingChange::Cancelled {
            id: 9,
            at: Timestamp::UNIX_EPOCH,
        });
        ledger.apply(&BookingChange::NoShow { id: 9 });
        assert_eq!(ledger, Ledger::default());
    }
}
