//! How an upstream has been answering lately: request and failure counts in one-minute
//! buckets over the last [`WINDOW_MINUTES`] minutes (a fixed ring: memory does not grow with
//! the number of requests), and when it last failed. A recovered upstream is healthy again
//! once its failures leave the window.

use std::sync::Mutex;

/// The window the dashboard's health is judged on.
pub const WINDOW_MINUTES: u64 = 15;

#[derive(Clone, Copy, Default)]
struct Bucket {
    minute: u64,
    requests: u64,
    failures: u64,
}

#[derive(Default)]
pub struct RecentHealth {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    buckets: [Bucket; WINDOW_MINUTES as usize],
    last_failure_at: Option<i64>,
}

/// The counts of the window, as of `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recent {
    pub requests: u64,
    pub failures: u64,
    pub last_failure_at: Option<i64>,
}

impl RecentHealth {
    /// One answered request (`failed`: no answer, a 5xx or a 429) at `now` (Unix seconds).
    pub fn record(&self, now: i64, failed: bool) {
        let minute = now.max(0) as u64 / 60;
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = &mut inner.buckets[(minute % WINDOW_MINUTES) as usize];
        if bucket.minute != minute {
            *bucket = Bucket {
                minute,
                ..Bucket::default()
            };
        }
        bucket.requests += 1;
        if failed {
            bucket.failures += 1;
            inner.last_failure_at = Some(now);
        }
    }

    pub fn recent(&self, now: i64) -> Recent {
        let minute = now.max(0) as u64 / 60;
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let live = inner
            .buckets
            .iter()
            .filter(|b| b.requests > 0 && b.minute + WINDOW_MINUTES > minute && b.minute <= minute);
        let (requests, failures) = live.fold((0, 0), |(r, f), b| (r + b.requests, f + b.failures));
        Recent {
            requests,
            failures,
            last_failure_at: inner.last_failure_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_leave_the_window_and_a_recovered_upstream_is_clean() {
        let h = RecentHealth::default();
        let t0 = 1_700_000_000;
        for _ in 0..10 {
            h.record(t0, true);
        }
        h.record(t0 + 30, false);
        assert_eq!(
            h.recent(t0 + 60),
            Recent {
                requests: 11,
                failures: 10,
                last_failure_at: Some(t0)
            }
        );
        // Recovered: only successes since, and the failures are older than the window.
        let later = t0 + (WINDOW_MINUTES as i64 + 1) * 60;
        h.record(later, false);
        h.record(later + 1, false);
        assert_eq!(
            h.recent(later + 2),
            Recent {
                requests: 2,
                failures: 0,
                last_failure_at: Some(t0)
            }
        );
        // Nothing at all lately: an idle window.
        let idle = later + (WINDOW_MINUTES as i64 + 1) * 60;
        assert_eq!(h.recent(idle).requests, 0);
    }

    #[test]
    fn a_long_run_of_requests_stays_in_fifteen_buckets() {
        let h = RecentHealth::default();
        let t0 = 1_700_000_000;
        for s in 0..(3 * 3600) {
            h.record(t0 + s, s % 10 == 0);
        }
        let r = h.recent(t0 + 3 * 3600);
        // The last 15 minutes (the current minute is empty: 14 full ones), 1 in 10 failed.
        assert!((14 * 60..=15 * 60).contains(&r.requests), "{r:?}");
        assert!(r.failures.abs_diff(r.requests / 10) <= 1, "{r:?}");
    }
}
