//! The download worker. Items are claimed atomically, heart-beaten while they run, retried
//! with exponential backoff and jitter on transient failures, and reclaimed when a crash
//! left them running. A package is listed only after its blob is fully stored, so killing
//! the process at any moment loses no finished work and exposes nothing partial.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::{now, now_ms};
use crate::config::{Config, WorkerConfig};
use crate::db::Pool;
use crate::db::jobs::{self, ItemRow};
use crate::db::modules::Recorded;
use crate::domain::{
    ItemStatus, ModuleAddress, PackageId, PackageSource, Platform, ProviderAddress, Version,
};
use crate::fetch::{FetchObserver, FetchRequest, Fetched, Fetcher, Sums};
use crate::module_fetch::{ModuleError, ModuleFetcher};
use crate::upstream::UpstreamError;
use crate::upstream::client::DownloadObserver;

enum Failure {
    Retry(String, Option<Duration>),
    Fatal(String),
    /// The item was cancelled or reclaimed while running: leave its row alone.
    Abandoned,
}

impl From<UpstreamError> for Failure {
    fn from(e: UpstreamError) -> Self {
        match e {
            UpstreamError::Transient {
                message,
                retry_after,
            } => Failure::Retry(message, retry_after),
            UpstreamError::Permanent(m) | UpstreamError::NotFound(m) => Failure::Fatal(m),
            UpstreamError::Cancelled => Failure::Abandoned,
        }
    }
}

pub struct Worker {
    db: Pool,
    /// This worker's lease id: the items it claims are leased to it, and heartbeat, finish
    /// and retry succeed only while the lease is still its own.
    owner: String,
    fetcher: Arc<Fetcher>,
    modules: Arc<ModuleFetcher>,
    config: WorkerConfig,
    tmp_dir: PathBuf,
    wake: Notify,
}

/// What one item fetches.
enum Work {
    Package(PackageId),
    Module(ModuleAddress, Version),
}

impl std::fmt::Display for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Work::Package(id) => id.fmt(f),
            Work::Module(a, v) => write!(f, "module {a} {v}"),
        }
    }
}

/// A running worker; dropping the handle does not stop it, `shutdown` does.
pub struct WorkerHandle {
    worker: Arc<Worker>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Wakes the worker now (a job was just enqueued).
    pub fn wake(&self) {
        self.worker.wake.notify_one();
    }

    /// A handle on the worker's wake-up, for the listener that hears of new work on other
    /// replicas.
    pub fn waker(&self) -> Arc<Worker> {
        self.worker.clone()
    }

    /// Stops claiming items and aborts running attempts; their leases are given back, so
    /// another replica's worker (or the next start) takes them at once.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

impl Worker {
    pub fn new(
        config: &Config,
        db: Pool,
        fetcher: Arc<Fetcher>,
        modules: Arc<ModuleFetcher>,
    ) -> Self {
        Self {
            db,
            owner: crate::db::owner_id(),
            fetcher,
            modules,
            config: config.worker.clone(),
            tmp_dir: config.data_dir.join("tmp").join("downloads"),
            wake: Notify::new(),
        }
    }

    /// Wakes the worker now (new work was announced).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Starts the worker loop on the current runtime.
    pub fn spawn(self) -> WorkerHandle {
        let worker = Arc::new(self);
        let stop = CancellationToken::new();
        let task = tokio::spawn(worker.clone().run(stop.clone()));
        WorkerHandle { worker, stop, task }
    }

    async fn run(self: Arc<Self>, stop: CancellationToken) {
        if let Err(e) = self.recover().await {
            tracing::error!(error = %e, "worker recovery failed; not starting");
            return;
        }
        tracing::info!(
            concurrency = self.config.concurrency,
            "download worker started"
        );
        let mut running: JoinSet<()> = JoinSet::new();
        let mut last_reclaim = now();
        loop {
            while running.len() < self.config.concurrency {
                match jobs::claim_next(&self.db, &self.owner).await {
                    Ok(Some(item)) => {
                        let me = self.clone();
                        running.spawn(async move { me.process(item).await });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot claim job items");
                        break;
                    }
                }
            }
            if now() - last_reclaim >= (self.config.stale_after_seconds / 2).max(1) as i64 {
                last_reclaim = now();
                match jobs::reclaim_stale(&self.db, self.config.stale_after_seconds as i64).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(items = n, "reclaimed items whose heartbeat stopped"),
                    Err(e) => tracing::error!(error = %e, "cannot reclaim stale items"),
                }
            }
            // With every slot busy, a finishing item (join_next) is what makes room.
            let sleep = if running.len() >= self.config.concurrency {
                Duration::from_millis(self.config.poll_interval_ms.max(10))
            } else {
                self.until_next_due().await
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
        // Abort what runs and give the leases back: another worker takes the items at once.
        running.shutdown().await;
        match jobs::release(&self.db, &self.owner).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(items = n, "gave back the leases of interrupted items"),
            Err(e) => tracing::warn!(error = %e, "cannot give back leases; they expire instead"),
        }
        tracing::info!("download worker stopped");
    }

    async fn until_next_due(&self) -> Duration {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(10));
        match jobs::next_due(&self.db).await {
            Ok(Some(due_ms)) => Duration::from_millis((due_ms - now_ms()).max(0) as u64).min(poll),
            _ => poll,
        }
    }

    /// At start: items whose lease holder stopped heart-beating are queued again (live
    /// leases, held by other replicas' workers, are left alone) and this process's partial
    /// downloads are deleted.
    async fn recover(&self) -> anyhow::Result<()> {
        let n = jobs::reclaim_stale(&self.db, self.config.stale_after_seconds as i64).await?;
        if n > 0 {
            tracing::warn!(items = n, "re-queued items whose worker stopped");
        }
        if self.tmp_dir.exists() {
            tokio::fs::remove_dir_all(&self.tmp_dir).await?;
        }
        tokio::fs::create_dir_all(&self.tmp_dir).await?;
        Ok(())
    }

    fn backoff(&self, attempts: i64, retry_after: Option<Duration>) -> Duration {
        backoff_delay(&self.config, attempts, retry_after)
    }

    #[tracing::instrument(skip_all, fields(item = item.id, job = item.job_id, package = tracing::field::Empty))]
    async fn process(self: Arc<Self>, item: ItemRow) {
        let pool = &self.db;
        let work = match work_of(&item) {
            Ok(work) => work,
            Err(e) => {
                let _ = jobs::finish_item(pool, item.id, &self.owner, ItemStatus::Failed, Some(&e))
                    .await;
                return;
            }
        };
        tracing::Span::current().record("package", tracing::field::display(&work));
        // The heartbeat runs for the whole attempt (metadata, download, hashing, upload), so
        // a long store is never mistaken for a dead worker.
        let progress = Arc::new(Progress::default());
        let lost = CancellationToken::new();
        let result = tokio::select! {
            r = self.attempt(&item, &work, &progress, &lost) => r,
            _ = self.heartbeat(item.id, &progress, &lost) => Err(Failure::Abandoned),
        };
        let outcome = match result {
            Ok(Fetched::Stored) => {
                jobs::finish_item(pool, item.id, &self.owner, ItemStatus::Succeeded, None).await
            }
            Ok(Fetched::AlreadyStored) => {
                jobs::finish_item(
                    pool,
                    item.id,
                    &self.owner,
                    ItemStatus::Skipped,
                    Some("already stored with matching hashes"),
                )
                .await
            }
            Err(Failure::Abandoned) => Ok(true),
            Err(Failure::Fatal(msg)) => {
                tracing::warn!(error = %msg, "item failed");
                jobs::finish_item(pool, item.id, &self.owner, ItemStatus::Failed, Some(&msg)).await
            }
            Err(Failure::Retry(msg, retry_after)) => {
                if item.attempts >= i64::from(self.config.max_attempts) {
                    let msg = format!("gave up after {} attempts: {msg}", item.attempts);
                    tracing::warn!(error = %msg, "item failed");
                    jobs::finish_item(pool, item.id, &self.owner, ItemStatus::Failed, Some(&msg))
                        .await
                } else {
                    let delay = self.backoff(item.attempts, retry_after);
                    tracing::info!(error = %msg, retry_in_ms = delay.as_millis() as u64, "will retry");
                    let due = now_ms() + delay.as_millis() as i64;
                    jobs::retry_later(pool, item.id, &self.owner, &msg, due).await
                }
            }
        };
        match outcome {
            Ok(true) => {}
            // Reclaimed while this attempt ran (the heartbeat could not reach the database):
            // the item is another worker's now, and this attempt's outcome is discarded.
            Ok(false) => tracing::warn!("the item's lease was lost; its outcome is discarded"),
            Err(e) => {
                tracing::error!(error = %e, "cannot record the item's outcome; it will be redone")
            }
        }
    }

    async fn attempt(
        &self,
        item: &ItemRow,
        work: &Work,
        progress: &Arc<Progress>,
        lost: &CancellationToken,
    ) -> Result<Fetched, Failure> {
        let id = match work {
            Work::Package(id) => id,
            Work::Module(a, v) => return self.attempt_module(item, a, v, lost).await,
        };
        let spool = self
            .tmp_dir
            .join(format!("item-{}-{}.zip", item.id, uuid::Uuid::new_v4()));
        let _cleanup = RemoveOnDrop(spool.clone());
        let fetched = self
            .fetcher
            .fetch(FetchRequest {
                id,
                spool: &spool,
                source: PackageSource::Job,
                detail: format!("job {}", item.job_id),
                sums: Sums::Fresh,
                observer: progress.clone(),
                cancel: lost,
            })
            .await;
        match fetched {
            // The heartbeat found the item cancelled or reclaimed: leave its row alone.
            Err(_) if lost.is_cancelled() => Err(Failure::Abandoned),
            Ok(Fetched::Stored) => {
                // The whole archive, as the item's final progress.
                let size = progress.done.load(Ordering::Relaxed);
                let _ = jobs::heartbeat(&self.db, item.id, &self.owner, size, Some(size)).await;
                Ok(Fetched::Stored)
            }
            other => Ok(other?),
        }
    }

    /// Fetches a module version. A version stored before whose origin now has other content
    /// (a moved tag) fails the item with both hashes named: the stored one stays.
    async fn attempt_module(
        &self,
        item: &ItemRow,
        a: &ModuleAddress,
        version: &Version,
        lost: &CancellationToken,
    ) -> Result<Fetched, Failure> {
        let by = format!("job {}", item.job_id);
        match self
            .modules
            .fetch(a, version, PackageSource::Job, Some(&by), lost)
            .await
        {
            Err(_) if lost.is_cancelled() => Err(Failure::Abandoned),
            Ok(f) => match f.recorded {
                Recorded::Added => Ok(Fetched::Stored),
                Recorded::AlreadyPresent => Ok(Fetched::AlreadyStored),
                Recorded::Conflict { stored_h1, .. } => Err(Failure::Fatal(format!(
                    "module {a} {version} changed at its origin ({}{}): the stored version ({stored_h1}) stays; the difference is recorded with it",
                    f.location,
                    f.commit
                        .map(|c| format!(" at commit {c}"))
                        .unwrap_or_default(),
                ))),
            },
            Err(ModuleError::Upstream(e)) => Err(e.into()),
            Err(e) if e.is_transient() => Err(Failure::Retry(e.to_string(), None)),
            Err(e) => Err(Failure::Fatal(e.to_string())),
        }
    }

    /// Beats every second while an attempt runs, publishing download progress; returns (and
    /// fires `lost`) when the item is no longer ours: cancelled, or reclaimed as stale.
    async fn heartbeat(&self, item_id: i64, progress: &Progress, lost: &CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            let total = progress.total.load(Ordering::Relaxed);
            let done = progress.done.load(Ordering::Relaxed);
            let beat = jobs::heartbeat(
                &self.db,
                item_id,
                &self.owner,
                done,
                (total > 0).then_some(total),
            );
            match beat.await {
                Ok(true) => {}
                Ok(false) => {
                    lost.cancel();
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
            }
        }
    }
}

/// Download progress shared between an attempt and its heartbeat.
#[derive(Default)]
struct Progress {
    done: AtomicU64,
    total: AtomicU64,
}

impl DownloadObserver for Progress {
    fn started(&self, total: Option<u64>) {
        self.total.store(total.unwrap_or(0), Ordering::Relaxed);
    }

    fn written(&self, bytes: u64) {
        self.done.store(bytes, Ordering::Relaxed);
    }
}

impl FetchObserver for Progress {}

/// Delay before the next attempt: exponential in the attempts made, capped, with jitter
/// (between half and all of the delay) so many failing items do not retry in lockstep; a
/// longer `Retry-After` from the upstream wins.
fn backoff_delay(config: &WorkerConfig, attempts: i64, retry_after: Option<Duration>) -> Duration {
    let exp = attempts.clamp(1, 20) as u32 - 1;
    let base = config
        .backoff_base_ms
        .saturating_mul(1u64 << exp)
        .min(config.backoff_max_ms);
    let jittered = base / 2 + fastrand::u64(0..=base / 2);
    let delay = Duration::from_millis(jittered);
    retry_after.map_or(delay, |ra| ra.max(delay))
}

fn work_of(item: &ItemRow) -> Result<Work, String> {
    if item.kind == "module" {
        return Ok(Work::Module(
            ModuleAddress::new(
                &item.hostname,
                &item.namespace,
                &item.provider_type,
                &item.os,
            )
            .map_err(|e| e.to_string())?,
            Version::parse(&item.version).map_err(|e| e.to_string())?,
        ));
    }
    Ok(Work::Package(PackageId {
        address: ProviderAddress::new(&item.hostname, &item.namespace, &item.provider_type)
            .map_err(|e| e.to_string())?,
        version: Version::parse(&item.version).map_err(|e| e.to_string())?,
        platform: Platform::new(&item.os, &item.arch).map_err(|e| e.to_string())?,
    }))
}

/// Deletes a temp file however the attempt ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_jittered_and_honours_retry_after() {
        let config = WorkerConfig {
            backoff_base_ms: 1_000,
            backoff_max_ms: 10_000,
            ..Default::default()
        };
        for _ in 0..200 {
            let ms = |attempts| backoff_delay(&config, attempts, None).as_millis() as u64;
            let first = ms(1);
            assert!((500..=1_000).contains(&first), "{first}");
            let third = ms(3);
            assert!((2_000..=4_000).contains(&third), "{third}");
            let capped = ms(12);
            assert!((5_000..=10_000).contains(&capped), "{capped}");
        }
        let delays: std::collections::HashSet<u128> = (0..50)
            .map(|_| backoff_delay(&config, 4, None).as_millis())
            .collect();
        assert!(delays.len() > 1, "delays are jittered");
        let ra = backoff_delay(&config, 1, Some(Duration::from_secs(30)));
        assert_eq!(ra, Duration::from_secs(30), "a longer Retry-After wins");
    }
}
