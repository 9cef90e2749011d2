//! Download counts per package, counted in memory on the hot path and written to the
//! database in batches (every few seconds, and at shutdown).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::db::{self, Pool};

#[derive(Default)]
pub struct DownloadCounter {
    pending: Mutex<HashMap<i64, u64>>,
}

impl DownloadCounter {
    pub fn count(&self, package_id: i64) {
        *self
            .pending
            .lock()
            .expect("download counter lock")
            .entry(package_id)
            .or_default() += 1;
    }

    /// Writes what was counted since the last flush under today's date (UTC).
    pub async fn flush(&self, pool: &Pool) -> Result<(), db::DbError> {
        let counts: Vec<(i64, u64)> =
            std::mem::take(&mut *self.pending.lock().expect("download counter lock"))
                .into_iter()
                .collect();
        if counts.is_empty() {
            return Ok(());
        }
        db::stats::add_downloads(pool, &today(), &counts).await
    }
}

/// `YYYY-MM-DD` in UTC, `days_ago` days before today.
pub fn day(days_ago: i64) -> String {
    civil(crate::clock::now().div_euclid(86_400) - days_ago)
}

/// The calendar date of a day number (days since 1970-01-01).
fn civil(days: i64) -> String {
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
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

pub fn today() -> String {
    day(0)
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
}
