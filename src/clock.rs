//! Wall-clock time as the database records it: whole seconds (and, for retry times,
//! milliseconds) since the Unix epoch.

/// Seconds since the epoch.
pub fn now() -> i64 {
    now_ms() / 1000
}

/// Milliseconds since the epoch: retry times need sub-second precision.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The calendar date `YYYY-MM-DD` of a day number (days since 1970-01-01).
pub fn civil(days: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC), for reports people read.
pub fn iso8601(secs: i64) -> String {
    let rem = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        civil(secs.div_euclid(86_400)),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn day_numbers_become_calendar_dates() {
        assert_eq!(super::civil(0), "1970-01-01");
        assert_eq!(super::civil(19_723), "2024-01-01");
        assert_eq!(super::civil(19_782), "2024-02-29");
        assert_eq!(super::civil(20_000), "2024-10-04");
        assert_eq!(super::civil(-1), "1969-12-31");
    }

    #[test]
    fn iso8601_is_the_utc_calendar_time() {
        assert_eq!(super::iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::iso8601(1_796_601_599), "2026-12-06T23:59:59Z");
    }
}
