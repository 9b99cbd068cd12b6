//! Timestamps: the current time and the ISO-8601 form the Hub's JSON uses.

use time::OffsetDateTime;

/// ISO-8601 UTC with milliseconds and a trailing `Z`, the only form the Python client parses.
pub fn iso(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_has_millis_and_z() {
        let t = OffsetDateTime::from_unix_timestamp(0).unwrap();
        assert_eq!(iso(t), "1970-01-01T00:00:00.000Z");
    }
}
