//! The words of a call, from the message files: "Token A 42, please go to Room 2".

use crate::i18n::Catalog;

/// How a number is spoken: its letters apart, then the number without padding (`A042` →
/// `A 42`), so a voice says "A forty-two", not "A zero four two".
pub fn spoken_number(number: &str) -> String {
    let digits_at = number
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(number.len());
    let (letters, digits) = number.split_at(digits_at);
    let digits = digits.trim_start_matches('0');
    let digits = if digits.is_empty() && digits_at < number.len() {
        "0"
    } else {
        digits
    };
    let letters: Vec<String> = letters.chars().map(String::from).collect();
    [letters.join(" "), digits.to_owned()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The announcement of a call (or a recall) of `number` to `room` in `catalog`'s language.
pub fn announcement(catalog: &Catalog, recall: bool, number: &str, room: &str) -> String {
    let key = if recall {
        "announce.recall"
    } else {
        "announce.call"
    };
    catalog.format(key, &[("number", &spoken_number(number)), ("room", room)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_spoken_letter_by_letter_then_as_a_number() {
        for (number, spoken) in [
            ("A042", "A 42"),
            ("A001", "A 1"),
            ("LAB120", "L A B 120"),
            ("B000", "B 0"),
            ("A1000", "A 1000"),
        ] {
            assert_eq!(spoken_number(number), spoken);
        }
    }
}
