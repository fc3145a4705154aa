//! Slots: a plan's wall-clock hours on one date, turned into instants in the clinic's time zone
//! and cut into slots.
//!
//! The rule, in one place:
//!
//! 1. The day's working periods ([`Plan::periods_on`]: the week's, or the date's exception)
//!    minus its breaks give the *windows*. Each window is turned into instants in the clinic's
//!    zone: a wall-clock time that does not exist (the hour skipped when clocks go forward) is
//!    taken as the first instant after the gap, one that happens twice (clocks going back) as
//!    its first occurrence. So a window over a change is as long as the doctor really works:
//!    an hour shorter in spring, an hour longer in autumn.
//! 2. Each window is cut from its start into blocks of `buffer_before + slot + buffer_after`;
//!    the slot is the middle of its block. A block that does not fit whole is dropped: a slot
//!    or its buffers never reach into a break, a day off or past the end of the hours.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use super::plan::{Period, Plan};

/// One bookable slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    /// When the patient is due.
    pub start: Timestamp,
    /// When the slot ends.
    pub end: Timestamp,
    /// Patients it takes.
    pub seats: u16,
}

/// A stretch of time in instants, `start` to `end` (not included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    /// From.
    pub start: Timestamp,
    /// Until.
    pub end: Timestamp,
}

/// The instant of `time` on `date` in `tz` (see the module's rule for gaps and folds).
pub fn instant(date: Date, time: Time, tz: &TimeZone) -> Option<Timestamp> {
    tz.to_ambiguous_timestamp(date.to_datetime(time))
        .compatible()
        .ok()
}

/// Wall-clock periods minus breaks, in wall-clock time, in order.
fn cut_breaks(periods: &[Period], breaks: &[Period]) -> Vec<Period> {
    let mut open: Vec<Period> = periods.to_vec();
    open.sort();
    for pause in breaks {
        open = open
            .into_iter()
            .flat_map(|p| {
                if pause.end <= p.start || p.end <= pause.start {
                    return vec![p];
                }
                let mut left = Vec::new();
                if p.start < pause.start {
                    left.push(Period {
                        start: p.start,
                        end: pause.start,
                    });
                }
                if pause.end < p.end {
                    left.push(Period {
                        start: pause.end,
                        end: p.end,
                    });
                }
                left
            })
            .collect();
    }
    open
}

impl Plan {
    /// The day's windows in instants: working periods minus breaks.
    pub fn windows_on(&self, date: Date, tz: &TimeZone) -> Vec<Window> {
        cut_breaks(self.periods_on(date), self.breaks_on(date))
            .into_iter()
            .filter_map(|p| {
                let start = instant(date, p.start, tz)?;
                let end = instant(date, p.end, tz)?;
                (start < end).then_some(Window { start, end })
            })
            .collect()
    }

    /// Every slot on `date`, in order, whether booked or not.
    pub fn slots_on(&self, date: Date, tz: &TimeZone) -> Vec<Slot> {
        let before = i64::from(self.buffer_before_minutes) * 60;
        let length = i64::from(self.slot_minutes) * 60;
        let after = i64::from(self.buffer_after_minutes) * 60;
        let block = before + length + after;
        let mut slots = Vec::new();
        if length <= 0 {
            return slots;
        }
        for window in self.windows_on(date, tz) {
            let end = window.end.as_second();
            let mut at = window.start.as_second();
            while at + block <= end {
                let (Ok(start), Ok(stop)) = (
                    Timestamp::from_second(at + before),
                    Timestamp::from_second(at + before + length),
                ) else {
                    break;
                };
                slots.push(Slot {
                    start,
                    end: stop,
                    seats: self.seats,
                });
                at += block;
            }
        }
        slots
    }

    /// The slot that starts at `start`, if this plan has one then.
    pub fn slot_at(&self, start: Timestamp, tz: &TimeZone) -> Option<Slot> {
        let date = start.to_zoned(tz.clone()).date();
        // A slot belongs to the date its window was planned on: a window that starts late on
        // one date cannot end on the next (periods end before midnight), so one date suffices
        // — but the day before is checked too, for zones whose midnight moves.
        [date.yesterday().ok(), Some(date)]
            .into_iter()
            .flatten()
            .flat_map(|d| self.slots_on(d, tz))
            .find(|slot| slot.start == start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ServiceId;
    use crate::domain::appointments::plan::DayException;

    fn plan(periods: Vec<Period>) -> Plan {
        Plan::weekdays("rao", ServiceId::parse("general").unwrap(), periods)
    }

    fn local(tz: &TimeZone, slots: &[Slot]) -> Vec<String> {
        slots
            .iter()
            .map(|s| s.start.to_zoned(tz.clone()).strftime("%H:%M").to_string())
            .collect()
    }

    #[test]
    fn a_morning_is_cut_into_slots_around_a_break() {
        let mut p = plan(vec![Period::hm((9, 0), (11, 0))]);
        p.slot_minutes = 20;
        p.breaks[0] = vec![Period::hm((10, 0), (10, 15))];
        let tz = TimeZone::UTC;
        let monday = jiff::civil::date(2026, 12, 7);
        assert_eq!(
            local(&tz, &p.slots_on(monday, &tz)),
            ["09:00", "09:20", "09:40", "10:15", "10:35"]
        );
    }

    #[test]
    fn buffers_keep_time_free_around_each_slot() {
        let mut p = plan(vec![Period::hm((9, 0), (10, 0))]);
        p.slot_minutes = 15;
        p.buffer_before_minutes = 5;
        p.buffer_after_minutes = 10;
        let tz = TimeZone::UTC;
        let slots = p.slots_on(jiff::civil::date(2026, 12, 7), &tz);
        assert_eq!(local(&tz, &slots), ["09:05", "09:35"]);
        assert_eq!(
            slots[0].end.as_second() - slots[0].start.as_second(),
            15 * 60
        );
    }

    #[test]
    fn india_is_five_and_a_half_hours_ahead() {
        let tz = TimeZone::get("Asia/Kolkata").unwrap();
        let p = plan(vec![Period::hm((9, 0), (9, 30))]);
        let slots = p.slots_on(jiff::civil::date(2026, 12, 7), &tz);
        let utc: Vec<String> = slots.iter().map(|s| s.start.to_string()).collect();
        assert_eq!(utc, ["2026-12-07T03:30:00Z", "2026-12-07T03:45:00Z"]);
        assert_eq!(p.slot_at(slots[1].start, &tz), Some(slots[1]));
        assert_eq!(
            p.slot_at("2026-12-07T03:40:00Z".parse().unwrap(), &tz),
            None
        );
    }

    #[test]
    fn a_night_when_clocks_go_forward_is_an_hour_shorter_and_back_an_hour_longer() {
        let tz = TimeZone::get("Europe/London").unwrap();
        let mut p = plan(vec![]);
        p.weekly[6] = vec![Period::hm((0, 0), (4, 0))];
        p.slot_minutes = 60;
        // 29 March 2026: 01:00 GMT becomes 02:00 BST.
        let spring = p.slots_on(jiff::civil::date(2026, 3, 29), &tz);
        assert_eq!(local(&tz, &spring), ["00:00", "02:00", "03:00"]);
        // 25 October 2026: 02:00 BST becomes 01:00 GMT; 01:00 happens twice.
        let autumn = p.slots_on(jiff::civil::date(2026, 10, 25), &tz);
        assert_eq!(
            local(&tz, &autumn),
            ["00:00", "01:00", "01:00", "02:00", "03:00"]
        );
        for slot in spring.iter().chain(&autumn) {
            assert_eq!(slot.end.as_second() - slot.start.as_second(), 3600);
        }
    }

    #[test]
    fn a_day_off_has_no_slots_and_custom_hours_replace_the_week() {
        let mut p = plan(vec![Period::hm((9, 0), (10, 0))]);
        p.slot_minutes = 30;
        let tz = TimeZone::UTC;
        let monday = jiff::civil::date(2026, 12, 7);
        let tuesday = jiff::civil::date(2026, 12, 8);
        p.exceptions.insert(
            monday,
            DayException::Off {
                reason: String::new(),
            },
        );
        p.exceptions.insert(
            tuesday,
            DayException::Hours {
                periods: vec![Period::hm((15, 0), (16, 0))],
            },
        );
        assert!(p.slots_on(monday, &tz).is_empty());
        assert_eq!(local(&tz, &p.slots_on(tuesday, &tz)), ["15:00", "15:30"]);
    }
}
