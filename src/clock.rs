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
