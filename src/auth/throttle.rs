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
//!
//! The records live in the database (`db::throttle`), so every replica counts the same
//! failures: three replicas give an attacker no more attempts than one.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::AuthConfig;
use crate::db::{self, DbError, Pool, throttle::Record};

/// How much more the username and address limits allow than the pair's.
pub const SPREAD: u32 = 4;

/// One login attempt: who, from where.
#[derive(Debug, Clone)]
pub struct Attempt {
    pair: String,
    user: String,
    addr: String,
}

/// What is counted, as stored: the sha256 of the counted name (bounded, and no user name or
/// address in the table).
fn key(what: &str) -> String {
    hex::encode(Sha256::digest(what.as_bytes()))
}

impl Attempt {
    /// `username` is compared case-insensitively.
    pub fn new(username: &str, client_addr: Option<&str>) -> Self {
        let user = username.to_lowercase();
        let addr = client_addr.unwrap_or("?");
        Self {
            pair: key(&format!("pair:{addr}|{user}")),
            user: key(&format!("user:{user}")),
            addr: key(&format!("addr:{addr}")),
        }
    }

    fn keys(&self) -> [String; 3] {
        [self.pair.clone(), self.user.clone(), self.addr.clone()]
    }

    fn limits(max_failures: u32) -> [u32; 3] {
        let spread = max_failures.saturating_mul(SPREAD);
        [max_failures, spread, spread]
    }
}

/// The policy: limits, lockout growth and the window; the counts are in the database.
pub struct Throttle {
    max_failures: u32,
    max_lockout: Duration,
    window: Duration,
}

impl Throttle {
    pub fn new(config: &AuthConfig) -> Self {
        Self {
            max_failures: config.max_failures.max(1),
            max_lockout: Duration::from_secs(config.lockout_max_seconds.max(1)),
            window: Duration::from_secs(config.failure_window_seconds.max(1)),
        }
    }

    /// How long the caller must wait, if any key of the attempt is locked out.
    pub async fn wait(&self, pool: &Pool, attempt: &Attempt) -> Result<Option<Duration>, DbError> {
        let now = crate::clock::now_ms();
        let until = db::throttle::locked_until(pool, &attempt.keys()).await?;
        Ok(until
            .filter(|u| *u > now)
            .map(|u| Duration::from_millis((u - now) as u64)))
    }

    pub async fn failed(&self, pool: &Pool, attempt: &Attempt) -> Result<(), DbError> {
        let now = crate::clock::now_ms();
        let limits = Attempt::limits(self.max_failures);
        let next = |i: usize, old: Option<Record>| self.next(old, now, limits[i]);
        let forget_before = now - self.window.as_millis() as i64;
        db::throttle::record_failure(pool, &attempt.keys(), forget_before, &next).await
    }

    /// The right password: the pair's and the username's records are cleared.
    pub async fn succeeded(&self, pool: &Pool, attempt: &Attempt) -> Result<(), DbError> {
        db::throttle::clear(pool, &[attempt.pair.clone(), attempt.user.clone()]).await
    }

    /// A key's record after one more failure at `now` (unix milliseconds).
    fn next(&self, old: Option<Record>, now: i64, limit: u32) -> Record {
        let window = self.window.as_millis() as i64;
        let mut r = match old {
            Some(r) if now - r.last_failure_ms < window => r,
            _ => Record {
                failures: 0,
                last_failure_ms: now,
                locked_until_ms: None,
            },
        };
        r.failures += 1;
        r.last_failure_ms = now;
        let limit = i64::from(limit);
        if r.failures >= limit {
            let exp = (r.failures - limit).min(20) as u32;
            let delay = Duration::from_secs(1u64 << exp).min(self.max_lockout);
            r.locked_until_ms = Some(now + delay.as_millis() as i64);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migrated SQLite database in a temporary directory (kept alive by the guard).
    async fn database() -> (Pool, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let pool = db::connect(&dir.path().join("t.db"), &Default::default())
            .await
            .unwrap();
        db::migrate(&pool).await.unwrap();
        (pool, dir)
    }

    fn throttle(window_seconds: u64) -> Throttle {
        Throttle::new(&AuthConfig {
            max_failures: 3,
            lockout_max_seconds: 5,
            failure_window_seconds: window_seconds,
            ..Default::default()
        })
    }

    #[tokio::test]
    async fn lockout_starts_after_the_allowed_failures_and_doubles() {
        let t = throttle(900);
        let (db, _dir) = database().await;
        let alice = Attempt::new("Alice", Some("10.0.0.1"));
        t.failed(&db, &alice).await.unwrap();
        t.failed(&db, &alice).await.unwrap();
        assert!(
            t.wait(&db, &alice).await.unwrap().is_none(),
            "two failures are free"
        );
        t.failed(&db, &alice).await.unwrap();
        let first = t
            .wait(&db, &alice)
            .await
            .unwrap()
            .expect("locked after the third");
        assert!(first <= Duration::from_secs(1));
        t.failed(&db, &alice).await.unwrap();
        let second = t.wait(&db, &alice).await.unwrap().unwrap();
        assert!(second > Duration::from_secs(1) && second <= Duration::from_secs(2));
        for _ in 0..10 {
            t.failed(&db, &alice).await.unwrap();
        }
        assert!(
            t.wait(&db, &alice).await.unwrap().unwrap() <= Duration::from_secs(5),
            "capped"
        );
        assert!(
            t.wait(&db, &Attempt::new("bob", Some("10.0.0.2")))
                .await
                .unwrap()
                .is_none(),
            "per key"
        );
        t.succeeded(&db, &alice).await.unwrap();
        assert!(
            t.wait(&db, &Attempt::new("alice", Some("10.0.0.9")))
                .await
                .unwrap()
                .is_none(),
            "success clears the username"
        );
    }

    #[tokio::test]
    async fn one_address_guessing_does_not_lock_the_owner_out_elsewhere() {
        let t = throttle(900);
        let (db, _dir) = database().await;
        let attacker = Attempt::new("alice", Some("203.0.113.9"));
        for _ in 0..3 {
            t.failed(&db, &attacker).await.unwrap();
        }
        assert!(t.wait(&db, &attacker).await.unwrap().is_some());
        assert!(
            t.wait(&db, &Attempt::new("alice", Some("10.0.0.1")))
                .await
                .unwrap()
                .is_none()
        );
        // Many addresses guessing one account do lock it, at the higher limit.
        for i in 0..12 {
            t.failed(
                &db,
                &Attempt::new("alice", Some(&format!("198.51.100.{i}"))),
            )
            .await
            .unwrap();
        }
        assert!(
            t.wait(&db, &Attempt::new("alice", Some("10.0.0.1")))
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_success_does_not_reset_the_address_and_counts_decay() {
        let t = throttle(1);
        let (db, _dir) = database().await;
        for name in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"] {
            t.failed(&db, &Attempt::new(name, Some("192.0.2.7")))
                .await
                .unwrap();
        }
        let mine = Attempt::new("mallory", Some("192.0.2.7"));
        t.succeeded(&db, &mine).await.unwrap();
        t.failed(&db, &Attempt::new("l", Some("192.0.2.7")))
            .await
            .unwrap();
        assert!(
            t.wait(&db, &mine).await.unwrap().is_some(),
            "12 failures from one address lock it, whatever succeeded in between"
        );
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        t.failed(&db, &Attempt::new("m", Some("192.0.2.7")))
            .await
            .unwrap();
        assert!(
            t.wait(&db, &mine).await.unwrap().is_none(),
            "after a quiet window the count starts again"
        );
    }
}
