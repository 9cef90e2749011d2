//! Changes one replica tells the others about, through PostgreSQL's LISTEN/NOTIFY: new work
//! for the workers, and providers whose cached metadata is stale. On SQLite (one node) there
//! is nobody to tell and [`publish`] does nothing.

use sqlx::postgres::PgListener;

use super::Pool;
use crate::domain::{ModuleAddress, ProviderAddress};

/// The one channel every replica listens on.
pub const CHANNEL: &str = "tfmirror_changes";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A job was created or items were queued again: idle workers should look.
    Jobs,
    /// A provider's packages or version statuses changed: drop its cached documents.
    Provider(ProviderAddress),
    /// A module's versions or their statuses changed.
    Module(ModuleAddress),
}

impl Change {
    fn payload(&self) -> String {
        match self {
            Change::Jobs => "jobs".into(),
            Change::Provider(a) => format!("provider {a}"),
            Change::Module(a) => format!("module {a}"),
        }
    }

    /// The change a payload names; `None` for anything else (a newer replica's message).
    pub fn parse(payload: &str) -> Option<Self> {
        match payload.split_once(' ') {
            None if payload == "jobs" => Some(Change::Jobs),
            Some(("provider", address)) => {
                ProviderAddress::parse(address).ok().map(Change::Provider)
            }
            Some(("module", address)) => ModuleAddress::parse(address).ok().map(Change::Module),
            _ => None,
        }
    }
}

/// Tells every replica (this one included) about a change that is committed. A failure is
/// logged, not returned: the change itself is stored, and the other replicas' caches expire
/// by their TTL anyway.
pub async fn publish(pool: &Pool, change: &Change) {
    let Pool::Postgres(pg) = pool else { return };
    let sent = sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(change.payload())
        .execute(pg)
        .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "cannot notify the other replicas of a change");
    }
}

/// A subscription to [`CHANNEL`] on PostgreSQL; `None` on SQLite.
pub struct Listener {
    inner: PgListener,
}

impl Listener {
    pub async fn connect(pool: &Pool) -> Result<Option<Self>, super::DbError> {
        let Pool::Postgres(pg) = pool else {
            return Ok(None);
        };
        let mut inner = PgListener::connect_with(pg).await?;
        inner.ignore_pool_close_event(true);
        inner.listen(CHANNEL).await?;
        Ok(Some(Self { inner }))
    }

    /// The next change. An error means the connection is gone and notifications may be
    /// missed from now on: connect a new listener (and drop what was cached meanwhile).
    pub async fn recv(&mut self) -> Result<Change, super::DbError> {
        loop {
            match self.inner.try_recv().await? {
                Some(n) => {
                    if let Some(change) = Change::parse(n.payload()) {
                        return Ok(change);
                    }
                }
                None => {
                    return Err(super::DbError::Sqlx(sqlx::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "the listening connection was lost",
                    ))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let a = ProviderAddress::parse("registry.terraform.io/hashicorp/aws").unwrap();
        let m = ModuleAddress::parse("example.com/my_org/vpc/aws").unwrap();
        for c in [Change::Jobs, Change::Provider(a), Change::Module(m)] {
            assert_eq!(Change::parse(&c.payload()), Some(c));
        }
        assert_eq!(Change::parse("provider not/an address/at all/x"), None);
        assert_eq!(Change::parse("something new"), None);
    }
}
