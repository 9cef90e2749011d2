//! Login throttling. Failures are counted, within a sliding window, under three keys:
//!
//! * the pair (client address, username): the tightest limit, `max_failures`. One attacker
//!   guessing one account is slowed at once, while the account's owner, logging in from
//!   elsewhere, is not affected;
//! * the username alone, with a limit `SPREAD` times higher: guessing one account from many
//!   addresses;
//! * the client address alone, `SPREAD` times higher too: one address trying many accounts.
//!
//! Past its limit each further failure locks the key out for twice as long as the last
//! (1 s, 2 s, 4 s, ... up to `lockout_max_seconds`). Attempts made while locked out are not
//! counted, so a single client cannot push the username past its higher limit. A key's count
//! starts again once it has seen no failure for `failure_window_seconds`. A successful login
//! clears its pair and its username (only the right password does that, so nobody can clear
//! another's record), never the address: an attacker with an account of their own cannot
//! launder a spray of guesses through it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::AuthConfig;

/// How much more the username and address limits allow than the pair's.
pub const SPREAD: u32 = 4;

/// Records kept at most; past it, records that no longer lock anything are forgotten first.
const MAX_RECORDS: usize = 100_000;

#[derive(Debug)]
struct Record {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

/// One login attempt: who, from where.
#[derive(Debug, Clone)]
pub struct Attempt {
    pair: String,
    user: String,
    addr: String,
}

impl Attempt {
    /// `username` is compared case-insensitively.
    pub fn new(username: &str, client_addr: Option<&str>) -> Self {
        let user = username.to_lowercase();
        let addr = client_addr.unwrap_or("?");
        Self {
            pair: format!("pair:{addr}|{user}"),
            user: format!("user:{user}"),
            addr: format!("addr:{addr}"),
        }
    }

    fn keys(&self, max_failures: u32) -> [(&str, u32); 3] {
        let spread = max_failures.saturating_mul(SPREAD);
        [
            (&self.pair, max_failures),
            (&self.user, spread),
            (&self.addr, spread),
        ]
    }
}

pub struct Throttle {
    max_failures: u32,
    max_lockout: Duration,
    window: Duration,
    records: Mutex<HashMap<String, Record>>,
}

impl Throttle {
    pub fn new(config: &AuthConfig) -> Self {
        Self {
            max_failures: config.max_failures.max(1),
            max_lockout: Duration::from_secs(config.lockout_max_seconds.max(1)),
            window: Duration::from_secs(config.failure_window_seconds.max(1)),
            records: Mutex::new(HashMap::new()),
        }
    }

    /// How long the caller must wait, if any key of the attempt is locked out.
    pub fn wait(&self, attempt: &Attempt) -> Option<Duration> {
        let now = Instant::now();
        let records = self.records.lock().expect("throttle lock");
        attempt
            .keys(self.max_failures)
            .iter()
            .filter_map(|(k, _)| records.get(*k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    pub fn failed(&self, attempt: &Attempt) {
        let now = Instant::now();
        let mut records = self.records.lock().expect("throttle lock");
        if records.len() > MAX_RECORDS {
            // Bounded memory under a spray of usernames: forget what no longer matters.
            let window = self.window;
            records.retain(|_, r| {
                r.locked_until.is_some_and(|u| u > now) || now - r.last_failure < window
            });
        }
        for (key, limit) in attempt.keys(self.max_failures) {
            let r = records.entry(key.to_owned()).or_insert(Record {
                failures: 0,
                last_failure: now,
                locked_until: None,
            });
            if now - r.last_failure >= self.window {
                r.failures = 0;
                r.locked_until = None;
            }
            r.failures += 1;
            r.last_failure = now;
            if r.failures >= limit {
                let exp = (r.failures - limit).min(20);
                let delay = Duration::from_secs(1u64 << exp).min(self.max_lockout);
                r.locked_until = Some(now + delay);
            }
        }
    }

    /// The right password: the pair's and the username's records are cleared.
    pub fn succeeded(&self, attempt: &Attempt) {
        let mut records = self.records.lock().expect("throttle lock");
        records.remove(&attempt.pair);
        records.remove(&attempt.user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(window_seconds: u64) -> Throttle {
        Throttle::new(&AuthConfig {
            max_failures: 3,
            lockout_max_seconds: 5,
            failure_window_seconds: window_seconds,
            ..Default::default()
        })
    }

    #[test]
    fn lockout_starts_after_the_allowed_failures_and_doubles() {
        let t = throttle(900);
        let alice = Attempt::new("Alice", Some("10.0.0.1"));
        t.failed(&alice);
        t.failed(&alice);
        assert!(t.wait(&alice).is_none(), "two failures are free");
        t.failed(&alice);
        let first = t.wait(&alice).expect("locked after the third");
        assert!(first <= Duration::from_secs(1));
        t.failed(&alice);
        let second = t.wait(&alice).unwrap();
        assert!(second > Duration::from_secs(1) && second <= Duration::from_secs(2));
        for _ in 0..10 {
            t.failed(&alice);
        }
        assert!(t.wait(&alice).unwrap() <= Duration::from_secs(5), "capped");
        assert!(
            t.wait(&Attempt::new("bob", Some("10.0.0.2"))).is_none(),
            "per key"
        );
        t.succeeded(&alice);
        assert!(
            t.wait(&Attempt::new("alice", Some("10.0.0.9"))).is_none(),
            "success clears the username"
        );
    }

    #[test]
    fn one_address_guessing_does_not_lock_the_owner_out_elsewhere() {
        let t = throttle(900);
        let attacker = Attempt::new("alice", Some("203.0.113.9"));
        for _ in 0..3 {
            t.failed(&attacker);
        }
        assert!(t.wait(&attacker).is_some());
        assert!(t.wait(&Attempt::new("alice", Some("10.0.0.1"))).is_none());
        // Many addresses guessing one account do lock it, at the higher limit.
        for i in 0..12 {
            t.failed(&Attempt::new("alice", Some(&format!("198.51.100.{i}"))));
        }
        assert!(t.wait(&Attempt::new("alice", Some("10.0.0.1"))).is_some());
    }

    #[test]
    fn a_success_does_not_reset_the_address_and_counts_decay() {
        let t = throttle(1);
        for name in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"] {
            t.failed(&Attempt::new(name, Some("192.0.2.7")));
        }
        let mine = Attempt::new("mallory", Some("192.0.2.7"));
        t.succeeded(&mine);
        t.failed(&Attempt::new("l", Some("192.0.2.7")));
        assert!(
            t.wait(&mine).is_some(),
            "12 failures from one address lock it, whatever succeeded in between"
        );
        std::thread::sleep(Duration::from_millis(1_100));
        t.failed(&Attempt::new("m", Some("192.0.2.7")));
        assert!(
            t.wait(&mine).is_none(),
            "after a quiet window the count starts again"
        );
    }
}
