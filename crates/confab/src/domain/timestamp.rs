//! Timestamps: microseconds since the Unix epoch, rendered as RFC 3339 in UTC.
//!
//! Stored as a plain integer in every backend so ordering and equality are exact and
//! identical across SQLite and PostgreSQL; rendered by hand because it is on the hot path
//! of every response (one message list renders hundreds of them).

use serde::{Serialize, Serializer};
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time, in microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        Timestamp(micros)
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Timestamp(self.0.saturating_add(seconds.saturating_mul(1_000_000)))
    }

    /// Parses an RFC 3339 date-time (any offset; finer than microseconds is cut).
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let parsed =
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .ok()?;
        i64::try_from(parsed.unix_timestamp_nanos().div_euclid(1_000))
            .ok()
            .map(Timestamp)
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always 27 bytes for years 0..=9999.
    pub fn to_rfc3339(self) -> String {
        let mut buf = [0u8; 27];
        let len = self.write_rfc3339(&mut buf);
        String::from_utf8_lossy(&buf[..len]).into_owned()
    }

    fn write_rfc3339(self, out: &mut [u8; 27]) -> usize {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let second_of_day = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        // Years outside 0..=9999 cannot be written in RFC 3339; clamp rather than panic.
        let year = year.clamp(0, 9999) as u32;
        let fields: [(usize, u32, usize); 7] = [
            (0, year, 4),
            (5, month, 2),
            (8, day, 2),
            (11, second_of_day / 3600, 2),
            (14, second_of_day / 60 % 60, 2),
            (17, second_of_day % 60, 2),
            (20, micros, 6),
        ];
        out.copy_from_slice(b"0000-00-00T00:00:00.000000Z");
        for (start, mut value, width) in fields {
            for i in (start..start + width).rev() {
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        27
    }
}

/// Days since the epoch to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 27];
        let len = self.write_rfc3339(&mut buf);
        // The buffer only ever holds ASCII digits and separators.
        match std::str::from_utf8(&buf[..len]) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => serializer.serialize_str(""),
        }
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .examples(["2024-03-20T10:00:00.000000Z"])
            .into()
    }
}
impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn renders_known_instants() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            Timestamp(1_710_928_800_000_000).to_rfc3339(),
            "2024-03-20T10:00:00.000000Z"
        );
        assert_eq!(
            Timestamp(951_782_400_123_456).to_rfc3339(),
            "2000-02-29T00:00:00.123456Z"
        );
        assert_eq!(Timestamp(-1).to_rfc3339(), "1969-12-31T23:59:59.999999Z");
    }

    proptest! {
        /// Every rendering parses back, with the `time` crate, to the same instant.
        #[test]
        fn round_trips_through_an_independent_parser(micros in -62_135_596_800_000_000i64..253_402_300_799_999_999i64) {
            let text = Timestamp(micros).to_rfc3339();
            let parsed = time::OffsetDateTime::parse(&text, &Rfc3339).expect("valid RFC 3339");
            let back = parsed.unix_timestamp_nanos() / 1000;
            prop_assert_eq!(back, i128::from(micros));
        }
    }
}
