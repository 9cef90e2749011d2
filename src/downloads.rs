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
    crate::clock::civil(crate::clock::now().div_euclid(86_400) - days_ago)
}

pub fn today() -> String {
    day(0)
}
