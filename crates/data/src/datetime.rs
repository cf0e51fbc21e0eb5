//! Datetime formats: the ones inference tries, and a parser and printer for any `strftime`
//! format, converting to and from milliseconds since the Unix epoch (naive times are UTC).

use std::fmt::Write as _;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, NaiveDateTime};

/// The formats inference tries, in order of preference. Unambiguous ISO forms come first;
/// day-first and month-first forms both stay candidates and the first one that parses every
/// value wins. A format without seconds' fractions is listed before its `%.f` twin, so the
/// fraction only appears in the schema when the data has one.
pub const INFERRED_FORMATS: [&str; 16] = [
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%d/%m/%Y %H:%M",
];

/// The format given to timestamps read from Parquet.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
/// The format given to dates read from Parquet.
pub const DATE_FORMAT: &str = "%Y-%m-%d";

/// A `strftime` format compiled once, to parse and print many values.
#[derive(Debug, Clone)]
pub struct DatetimeFormat {
    pattern: String,
    items: Vec<Item<'static>>,
}

impl DatetimeFormat {
    /// Compiles `pattern`; `None` when it is not a valid `strftime` format.
    pub fn new(pattern: &str) -> Option<Self> {
        let items = StrftimeItems::new(pattern).parse_to_owned().ok()?;
        if items.iter().any(|item| matches!(item, Item::Error)) {
            return None;
        }
        Some(Self {
            pattern: pattern.to_string(),
            items,
        })
    }

    /// The format as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Milliseconds since the epoch of `text`, or `None` when it does not fit the format.
    /// A format without a time of day gives midnight.
    pub fn parse(&self, text: &str) -> Option<i64> {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, text.trim_ascii(), self.items.iter()).ok()?;
        let naive = match parsed.to_naive_datetime_with_offset(0) {
            Ok(datetime) => datetime,
            Err(_) => parsed.to_naive_date().ok()?.and_hms_opt(0, 0, 0)?,
        };
        Some(naive.and_utc().timestamp_millis())
    }

    /// Appends the time `millis` written in this format to `out`.
    pub fn write(&self, millis: i64, out: &mut String) {
        match DateTime::from_timestamp_millis(millis) {
            Some(datetime) => {
                let naive: NaiveDateTime = datetime.naive_utc();
                let _ = write!(out, "{}", naive.format_with_items(self.items.iter()));
            }
            None => {
                let _ = write!(out, "{millis}");
            }
        }
    }

    /// The time `millis` written in this format.
    pub fn format(&self, millis: i64) -> String {
        let mut out = String::new();
        self.write(millis, &mut out);
        out
    }
}

/// A cheap test that rules out most non-datetime cells before any format is tried: a digit
/// first, and only digits and the separators the inferred formats use.
pub fn could_be_datetime(text: &str) -> bool {
    let bytes = text.trim_ascii().as_bytes();
    (6..=35).contains(&bytes.len())
        && bytes[0].is_ascii_digit()
        && bytes.iter().all(|b| {
            b.is_ascii_digit() || matches!(b, b'-' | b'/' | b'.' | b':' | b' ' | b'T' | b'Z')
        })
}

/// The compiled [`INFERRED_FORMATS`].
pub fn inferred_formats() -> Vec<DatetimeFormat> {
    INFERRED_FORMATS
        .iter()
        .filter_map(|pattern| DatetimeFormat::new(pattern))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(pattern: &str) -> DatetimeFormat {
        DatetimeFormat::new(pattern).expect("valid format")
    }

    #[test]
    fn every_inferred_format_compiles() {
        assert_eq!(inferred_formats().len(), INFERRED_FORMATS.len());
    }

    #[test]
    fn parses_dates_and_times_to_epoch_millis() {
        assert_eq!(format("%Y-%m-%d").parse("1970-01-02"), Some(86_400_000));
        assert_eq!(
            format("%Y-%m-%d %H:%M:%S").parse("1970-01-01 00:00:01"),
            Some(1_000)
        );
        assert_eq!(
            format("%Y-%m-%dT%H:%M:%S%.fZ").parse("1970-01-01T00:00:01.5Z"),
            Some(1_500)
        );
        assert_eq!(
            format("%d/%m/%Y").parse("13/01/2020"),
            format("%Y-%m-%d").parse("2020-01-13")
        );
        assert_eq!(format("%m/%d/%Y").parse("13/01/2020"), None);
        assert_eq!(format("%Y-%m-%d").parse("2020-01-01 10:00"), None);
        assert_eq!(
            format("%Y-%m-%d %H:%M:%S").parse("2020-01-01 10:00:00.5"),
            None
        );
    }

    #[test]
    fn writes_back_in_the_same_format() {
        for (pattern, text) in [
            ("%d/%m/%Y", "31/12/1999"),
            ("%Y-%m-%dT%H:%M:%S%.fZ", "2021-03-04T05:06:07.890Z"),
            ("%d.%m.%Y", "01.02.2003"),
        ] {
            let f = format(pattern);
            let millis = f.parse(text).expect(text);
            assert_eq!(f.format(millis), text);
        }
    }

    #[test]
    fn the_prefilter_rejects_words() {
        assert!(could_be_datetime("2020-01-01"));
        assert!(!could_be_datetime("State-gov"));
        assert!(!could_be_datetime("12"));
    }

    #[test]
    fn bad_formats_are_refused() {
        assert!(DatetimeFormat::new("%Q").is_none());
    }
}
