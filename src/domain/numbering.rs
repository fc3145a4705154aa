//! Token numbers and clinic days.
//!
//! A clinic day starts at a configured local time (04:00 by default) in the clinic's time zone,
//! so a night shift's late tickets stay on the day they belong to. Numbers are `PREFIX` plus a
//! per-prefix counter, zero-padded (`A001`), restarting at 1 each clinic day; the counter only
//! goes up within a day and skips numbers still held by carried-over tickets, so a number is
//! never issued twice.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use super::Timestamp;

/// Maps instants to clinic days.
#[derive(Clone, Debug)]
pub struct ClinicCalendar {
    tz: TimeZone,
    day_starts_at: Time,
}

impl ClinicCalendar {
    /// A calendar in `tz` whose days start at `day_starts_at` local time.
    pub fn new(tz: TimeZone, day_starts_at: Time) -> Self {
        Self { tz, day_starts_at }
    }

    /// The clinic day `at` belongs to.
    pub fn day_of(&self, at: Timestamp) -> Date {
        let local = at.to_zoned(self.tz.clone());
        let date = local.date();
        if local.time() < self.day_starts_at {
            date.yesterday().unwrap_or(date)
        } else {
            date
        }
    }

    /// The time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }
}

/// Formats a token number: `prefix` + `ordinal` zero-padded to `digits` (more digits when the
/// ordinal needs them: `A1000`).
pub fn format_number(prefix: &str, ordinal: u32, digits: usize) -> String {
    format!("{prefix}{ordinal:0digits$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{date, time};

    fn calendar(tz: &str) -> ClinicCalendar {
        ClinicCalendar::new(TimeZone::get(tz).unwrap(), time(4, 0, 0, 0))
    }

    fn instant(tz: &str, y: i16, m: i8, d: i8, h: i8, min: i8) -> Timestamp {
        date(y, m, d)
            .at(h, min, 0, 0)
            .to_zoned(TimeZone::get(tz).unwrap())
            .unwrap()
            .timestamp()
    }

    #[test]
    fn day_starts_at_the_configured_local_time() {
        let cal = calendar("Asia/Kolkata");
        let cases = [
            ((2026, 11, 21, 3, 59), date(2026, 11, 20)),
            ((2026, 11, 21, 4, 0), date(2026, 11, 21)),
            ((2026, 11, 21, 23, 59), date(2026, 11, 21)),
            ((2026, 11, 22, 1, 30), date(2026, 11, 21)),
        ];
        for ((y, m, d, h, min), expected) in cases {
            assert_eq!(
                cal.day_of(instant("Asia/Kolkata", y, m, d, h, min)),
                expected
            );
        }
    }

    #[test]
    fn the_same_instant_is_a_different_day_in_another_zone() {
        let t = instant("UTC", 2026, 11, 21, 22, 0);
        assert_eq!(calendar("UTC").day_of(t), date(2026, 11, 21));
        // 22:00 UTC is 03:30 next day in India: before 04:00, so still the 21st
        assert_eq!(calendar("Asia/Kolkata").day_of(t), date(2026, 11, 21));
        // and 09:00 on the 22nd in Tokyo
        assert_eq!(calendar("Asia/Tokyo").day_of(t), date(2026, 11, 22));
    }

    #[test]
    fn numbers_are_zero_padded_and_grow_past_the_padding() {
        assert_eq!(format_number("A", 1, 3), "A001");
        assert_eq!(format_number("LAB", 42, 3), "LAB042");
        assert_eq!(format_number("A", 1000, 3), "A1000");
        assert_eq!(format_number("B", 7, 2), "B07");
    }
}
