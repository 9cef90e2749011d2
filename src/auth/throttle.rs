//! Login throttling, per username and per client address: after `max_failures` failed
//! attempts, each further one locks the key out for twice as long as the last (1 s, 2 s,
//! 4 s, ... up to `lockout_max_seconds`). A success clears the username's record.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::AuthConfig;

#[derive(Debug, Default)]
struct Record {
    failures: u32,
    locked_until: Option<Instant>,
}

pub struct Throttle {
    max_failures: u32,
    max_lockout: Duration,
    records: Mutex<HashMap<String, Record>>,
}

impl Throttle {
    pub fn new(config: &AuthConfig) -> Self {
        Self {
            max_failures: config.max_failures,
            max_lockout: Duration::from_secs(config.lockout_max_seconds.max(1)),
            records: Mutex::new(HashMap::new()),
        }
    }

    /// How long the caller must wait, if any of `keys` is locked out.
    pub fn wait(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let records = self.records.lock().expect("throttle lock");
        keys.iter()
            .filter_map(|k| records.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        let mut records = self.records.lock().expect("throttle lock");
        if records.len() > 100_000 {
            // Bounded memory under a spray of usernames: forget what is no longer locked.
            records.retain(|_, r| r.locked_until.is_some_and(|u| u > now));
        }
        for key in keys {
            let r = records.entry(key.clone()).or_default();
            r.failures += 1;
            if r.failures >= self.max_failures {
                let exp = (r.failures - self.max_failures).min(20);
                let delay = Duration::from_secs(1u64 << exp).min(self.max_lockout);
                r.locked_until = Some(now + delay);
            }
        }
    }

    pub fn succeeded(&self, key: &str) {
        self.records.lock().expect("throttle lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_starts_after_the_allowed_failures_and_doubles() {
        let t = Throttle::new(&AuthConfig {
            max_failures: 3,
            lockout_max_seconds: 5,
            ..Default::default()
        });
        let keys = vec!["user:alice".to_owned()];
        t.failed(&keys);
        t.failed(&keys);
        assert!(t.wait(&keys).is_none(), "two failures are free");
        t.failed(&keys);
        let first = t.wait(&keys).expect("locked after the third");
        assert!(first <= Duration::from_secs(1));
        t.failed(&keys);
        let second = t.wait(&keys).unwrap();
        assert!(second > Duration::from_secs(1) && second <= Duration::from_secs(2));
        for _ in 0..10 {
            t.failed(&keys);
        }
        assert!(t.wait(&keys).unwrap() <= Duration::from_secs(5), "capped");
        assert!(t.wait(&["user:bob".to_owned()]).is_none(), "per key");
        t.succeeded("user:alice");
        assert!(t.wait(&keys).is_none());
    }
}
