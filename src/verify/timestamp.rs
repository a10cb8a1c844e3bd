//! RFC 3339 timestamps as they appear in sign-in messages: the text exactly as written (so a
//! parsed message formats back to the same bytes) together with its value.

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A timestamp of a sign-in message: the RFC 3339 text as written and the instant it denotes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp {
    text: String,
    value: OffsetDateTime,
}

impl Timestamp {
    /// Parses an RFC 3339 `date-time`; `None` if `text` is not one.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        // RFC 3339's ABNF separates date and time with `T` (or `t`); the `time` parser takes
        // any byte there, so the separator is checked first. It refuses trailing text.
        if !matches!(text.as_bytes().get(10), Some(b'T' | b't')) {
            return None;
        }
        let value = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        Some(Self {
            text: text.to_owned(),
            value,
        })
    }

    /// The timestamp in the form JavaScript's `Date.toISOString()` writes (what viem, siwe and
    /// the wallet standard put in messages): UTC, milliseconds, `Z`, e.g.
    /// `2026-11-22T12:00:00.000Z`. Sub-millisecond precision is truncated.
    #[must_use]
    pub fn from_datetime(value: OffsetDateTime) -> Self {
        let utc = value.to_offset(UtcOffset::UTC);
        let text = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second(),
            utc.millisecond()
        );
        let value = utc
            .replace_nanosecond(u32::from(utc.millisecond()) * 1_000_000)
            .unwrap_or(utc);
        Self { text, value }
    }

    /// The text as written in the message.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant.
    #[must_use]
    pub fn value(&self) -> OffsetDateTime {
        self.value
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;
    use time::macros::datetime;

    #[test]
    fn parses_rfc3339_and_keeps_the_text() {
        let t = Timestamp::parse("2026-11-22T12:00:00.000Z").unwrap();
        assert_eq!(t.as_str(), "2026-11-22T12:00:00.000Z");
        assert_eq!(t.value(), datetime!(2026-11-22 12:00:00 UTC));
        let t = Timestamp::parse("2026-11-22T14:00:00+02:00").unwrap();
        assert_eq!(t.value(), datetime!(2026-11-22 12:00:00 UTC));
    }

    #[test]
    fn refuses_what_is_not_rfc3339() {
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22 12:00:00Z",
            "2026-11-22x12:00:00Z",
            "2026-11-22T12:00:00",
            "2026-11-22T12:00:00.000Z ",
            "2026-13-22T12:00:00Z",
            "1763812800",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn formats_like_javascript_to_iso_string() {
        let t = Timestamp::from_datetime(datetime!(2026-11-22 14:00:00.123456 +02:00));
        assert_eq!(t.as_str(), "2026-11-22T12:00:00.123Z");
        assert_eq!(Timestamp::parse(t.as_str()).unwrap(), t);
    }
}
