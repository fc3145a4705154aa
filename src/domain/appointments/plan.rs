//! A doctor's working plan for one service: the weekly periods, breaks, one-day exceptions
//! and the booking settings (slot length, seats, buffers, notice, horizon, cap per patient).
//!
//! Times in a plan are the clinic's wall-clock times; [`super::slots`] turns them into
//! instants in the clinic's time zone.

use std::collections::BTreeMap;

use jiff::civil::{Date, Time, Weekday};
use serde::{Deserialize, Serialize};

use super::PlanError;
use crate::domain::{RoomId, ServiceId};

/// Longest slot, in minutes.
pub const MAX_SLOT_MINUTES: u16 = 240;
/// Most seats in one slot.
pub const MAX_SEATS: u16 = 50;
/// Longest buffer before or after a slot, in minutes.
pub const MAX_BUFFER_MINUTES: u16 = 120;
/// Furthest a booking can be made ahead, in days.
pub const MAX_HORIZON_DAYS: u16 = 366;
/// Most periods (or breaks) on one day.
pub const MAX_PERIODS: usize = 8;

/// A stretch of one day, in wall-clock time: `start` to `end`, `start` before `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Period {
    /// From.
    pub start: Time,
    /// Until (not included).
    pub end: Time,
}

impl Period {
    /// A period from `start` to `end` (hours and minutes).
    pub fn hm(start: (i8, i8), end: (i8, i8)) -> Self {
        Self {
            start: jiff::civil::time(start.0, start.1, 0, 0),
            end: jiff::civil::time(end.0, end.1, 0, 0),
        }
    }

    fn overlaps(&self, other: &Period) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// What is different on one date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DayException {
    /// No bookings that day (leave, a holiday).
    Off {
        /// Shown to staff ("Holi", "leave").
        #[serde(default)]
        reason: String,
    },
    /// These hours instead of the week's (the week's breaks still apply).
    Hours {
        /// The periods of that day.
        periods: Vec<Period>,
    },
}

/// A doctor's plan for one service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The doctor (a staff user's login name).
    pub doctor: String,
    /// What is booked.
    pub service: ServiceId,
    /// Working periods by weekday, Monday first.
    pub weekly: [Vec<Period>; 7],
    /// Breaks by weekday, Monday first: no slot touches one, buffers included.
    #[serde(default)]
    pub breaks: [Vec<Period>; 7],
    /// Dates that differ from the week.
    #[serde(default)]
    pub exceptions: BTreeMap<Date, DayException>,
    /// Length of one slot.
    pub slot_minutes: u16,
    /// Patients per slot.
    pub seats: u16,
    /// Kept free before each slot.
    #[serde(default)]
    pub buffer_before_minutes: u16,
    /// Kept free after each slot.
    #[serde(default)]
    pub buffer_after_minutes: u16,
    /// A slot can be booked until this long before it starts (staff may book later).
    #[serde(default)]
    pub min_notice_minutes: u32,
    /// How many days ahead a slot can be booked (today is day 0).
    pub horizon_days: u16,
    /// Most bookings one patient (by phone number) may hold on one day for this plan; 0: no cap.
    #[serde(default)]
    pub per_patient_per_day: u16,
    /// The room the doctor sits in by weekday, Monday first (`None`: decided on the day).
    #[serde(default)]
    pub rooms: [Option<RoomId>; 7],
    /// The room on one date, overriding the week's.
    #[serde(default)]
    pub room_on: BTreeMap<Date, RoomId>,
}

impl Plan {
    /// A plan with the same hours every weekday from Monday to Saturday, no breaks.
    pub fn weekdays(doctor: &str, service: ServiceId, periods: Vec<Period>) -> Self {
        let mut weekly: [Vec<Period>; 7] = Default::default();
        for day in weekly.iter_mut().take(6) {
            day.clone_from(&periods);
        }
        Self {
            doctor: doctor.to_owned(),
            service,
            weekly,
            breaks: Default::default(),
            exceptions: BTreeMap::new(),
            slot_minutes: 15,
            seats: 1,
            buffer_before_minutes: 0,
            buffer_after_minutes: 0,
            min_notice_minutes: 0,
            horizon_days: 30,
            per_patient_per_day: 1,
            rooms: Default::default(),
            room_on: BTreeMap::new(),
        }
    }

    /// Checks every setting; the first problem found, in words an admin can act on.
    pub fn check(&self) -> Result<(), PlanError> {
        if self.doctor.is_empty() || self.doctor.len() > 64 {
            return Err(PlanError::Invalid(
                "the doctor's login name is missing".into(),
            ));
        }
        if !(5..=MAX_SLOT_MINUTES).contains(&self.slot_minutes) {
            return Err(PlanError::Invalid(format!(
                "a slot lasts 5 to {MAX_SLOT_MINUTES} minutes"
            )));
        }
        if !(1..=MAX_SEATS).contains(&self.seats) {
            return Err(PlanError::Invalid(format!(
                "a slot has 1 to {MAX_SEATS} seats"
            )));
        }
        if self.buffer_before_minutes > MAX_BUFFER_MINUTES
            || self.buffer_after_minutes > MAX_BUFFER_MINUTES
        {
            return Err(PlanError::Invalid(format!(
                "a buffer is at most {MAX_BUFFER_MINUTES} minutes"
            )));
        }
        if !(1..=MAX_HORIZON_DAYS).contains(&self.horizon_days) {
            return Err(PlanError::Invalid(format!(
                "bookings open 1 to {MAX_HORIZON_DAYS} days ahead"
            )));
        }
        if self.min_notice_minutes > 7 * 24 * 60 {
            return Err(PlanError::Invalid(
                "the notice is at most 7 days (10080 minutes)".into(),
            ));
        }
        for (day, periods) in self.weekly.iter().enumerate() {
            check_periods(periods, &format!("{} hours", weekday_name(day)))?;
        }
        for (day, periods) in self.breaks.iter().enumerate() {
            check_periods(periods, &format!("{} breaks", weekday_name(day)))?;
        }
        for (date, exception) in &self.exceptions {
            if let DayException::Hours { periods } = exception {
                check_periods(periods, &format!("hours on {date}"))?;
            }
        }
        Ok(())
    }

    /// The working periods on `date` (none on a day off), before breaks are taken out.
    pub fn periods_on(&self, date: Date) -> &[Period] {
        match self.exceptions.get(&date) {
            Some(DayException::Off { .. }) => &[],
            Some(DayException::Hours { periods }) => periods,
            None => &self.weekly[day_index(date.weekday())],
        }
    }

    /// The breaks on `date`.
    pub fn breaks_on(&self, date: Date) -> &[Period] {
        match self.exceptions.get(&date) {
            Some(DayException::Off { .. }) => &[],
            _ => &self.breaks[day_index(date.weekday())],
        }
    }

    /// The room the doctor sits in on `date`, if the plan says.
    pub fn room_on(&self, date: Date) -> Option<&RoomId> {
        self.room_on
            .get(&date)
            .or(self.rooms[day_index(date.weekday())].as_ref())
    }

    /// Whether this plan and `other` (the same doctor's) have working hours at the same time
    /// on some weekday: one doctor cannot sit two plans at once.
    pub fn overlaps(&self, other: &Plan) -> bool {
        self.doctor == other.doctor
            && self
                .weekly
                .iter()
                .zip(&other.weekly)
                .any(|(a, b)| a.iter().any(|p| b.iter().any(|q| p.overlaps(q))))
    }
}

/// Monday is 0.
pub fn day_index(day: Weekday) -> usize {
    usize::from(day.to_monday_zero_offset().unsigned_abs())
}

fn weekday_name(index: usize) -> &'static str {
    [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
    .get(index)
    .copied()
    .unwrap_or("a day's")
}

fn check_periods(periods: &[Period], what: &str) -> Result<(), PlanError> {
    if periods.len() > MAX_PERIODS {
        return Err(PlanError::Invalid(format!(
            "{what}: at most {MAX_PERIODS} periods"
        )));
    }
    for (i, period) in periods.iter().enumerate() {
        if period.start >= period.end {
            return Err(PlanError::Invalid(format!(
                "{what}: {} – {} ends before it starts",
                hm(period.start),
                hm(period.end)
            )));
        }
        if let Some(other) = periods[..i].iter().find(|p| p.overlaps(period)) {
            return Err(PlanError::Invalid(format!(
                "{what}: {} – {} overlaps {} – {}",
                hm(period.start),
                hm(period.end),
                hm(other.start),
                hm(other.end)
            )));
        }
    }
    Ok(())
}

fn hm(time: Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn general() -> ServiceId {
        ServiceId::parse("general").unwrap()
    }

    #[test]
    fn a_sound_plan_passes_and_each_mistake_is_named() {
        let plan = Plan::weekdays("rao", general(), vec![Period::hm((9, 0), (13, 0))]);
        assert_eq!(plan.check(), Ok(()));

        let mut backwards = plan.clone();
        backwards.weekly[0] = vec![Period::hm((13, 0), (9, 0))];
        let err = backwards.check().unwrap_err().to_string();
        assert!(
            err.contains("Monday hours: 13:00 – 09:00 ends before it starts"),
            "{err}"
        );

        let mut overlapping = plan.clone();
        overlapping.breaks[2] = vec![Period::hm((10, 0), (11, 0)), Period::hm((10, 30), (12, 0))];
        let err = overlapping.check().unwrap_err().to_string();
        assert!(err.contains("Wednesday breaks"), "{err}");

        for broken in [
            Plan {
                slot_minutes: 0,
                ..plan.clone()
            },
            Plan {
                seats: 0,
                ..plan.clone()
            },
            Plan {
                horizon_days: 0,
                ..plan.clone()
            },
            Plan {
                buffer_after_minutes: 500,
                ..plan.clone()
            },
            Plan {
                doctor: String::new(),
                ..plan.clone()
            },
        ] {
            assert!(broken.check().is_err(), "{broken:?}");
        }
    }

    #[test]
    fn exceptions_replace_the_week_for_one_date() {
        let mut plan = Plan::weekdays("rao", general(), vec![Period::hm((9, 0), (13, 0))]);
        plan.breaks[0] = vec![Period::hm((11, 0), (11, 30))];
        let monday = jiff::civil::date(2026, 12, 7);
        let next_monday = jiff::civil::date(2026, 12, 14);
        plan.exceptions.insert(
            monday,
            DayException::Off {
                reason: "leave".into(),
            },
        );
        plan.exceptions.insert(
            next_monday,
            DayException::Hours {
                periods: vec![Period::hm((14, 0), (16, 0))],
            },
        );
        assert!(plan.periods_on(monday).is_empty());
        assert!(plan.breaks_on(monday).is_empty());
        assert_eq!(plan.periods_on(next_monday), [Period::hm((14, 0), (16, 0))]);
        assert_eq!(plan.breaks_on(next_monday), [Period::hm((11, 0), (11, 30))]);
        // Sunday: not in `weekdays`.
        assert!(plan.periods_on(jiff::civil::date(2026, 12, 13)).is_empty());
    }

    #[test]
    fn one_doctor_cannot_sit_two_plans_at_once() {
        let a = Plan::weekdays("rao", general(), vec![Period::hm((9, 0), (13, 0))]);
        let lab = ServiceId::parse("lab").unwrap();
        let b = Plan::weekdays("rao", lab.clone(), vec![Period::hm((12, 0), (14, 0))]);
        let c = Plan::weekdays("rao", lab.clone(), vec![Period::hm((13, 0), (14, 0))]);
        let d = Plan::weekdays("iyer", lab, vec![Period::hm((9, 0), (13, 0))]);
        assert!(a.overlaps(&b));
        assert!(!a.overlaps(&c));
        assert!(!a.overlaps(&d));
    }

    #[test]
    fn the_room_comes_from_the_date_then_the_weekday() {
        let mut plan = Plan::weekdays("rao", general(), vec![Period::hm((9, 0), (13, 0))]);
        let room_1 = RoomId::parse("room-1").unwrap();
        let room_2 = RoomId::parse("room-2").unwrap();
        plan.rooms[0] = Some(room_1.clone());
        let monday = jiff::civil::date(2026, 12, 7);
        assert_eq!(plan.room_on(monday), Some(&room_1));
        plan.room_on.insert(monday, room_2.clone());
        assert_eq!(plan.room_on(monday), Some(&room_2));
        assert_eq!(plan.room_on(jiff::civil::date(2026, 12, 8)), None);
    }
}
