//! Single-flight downloads: one upstream download per package however many clients ask at
//! once. The leader spools to a temp file that every follower streams from as it grows; the
//! last byte is held back until the leader says the bytes are verified.
//!
//! The leader runs in its own task behind a [`Landing`] guard: however that task ends
//! (outcome, error, panic, or the runtime dropping it), followers learn the outcome and the
//! package's slot is freed, so no client hangs and no later request joins a dead download.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::watch;

use crate::upstream::client::DownloadObserver;

/// How far a shared download has got.
#[derive(Debug, Clone, Default)]
pub struct FlightState {
    /// The archive's size, once the upstream answered.
    pub total: Option<u64>,
    /// Bytes in the spool file so far.
    pub written: u64,
    /// The whole download hashed to the signed `shasum`: clients may have the last byte.
    pub verified: bool,
    /// `Some(Ok)` once verified and stored; `Some(Err)` when it failed.
    pub outcome: Option<Result<(), String>>,
}

/// One upstream download that any number of clients stream from.
pub struct Flight {
    pub path: PathBuf,
    state: watch::Sender<FlightState>,
}

impl Flight {
    pub fn subscribe(&self) -> watch::Receiver<FlightState> {
        self.state.subscribe()
    }

    /// The bytes are authentic: followers may have the last byte.
    pub fn mark_verified(&self) {
        self.state.send_modify(|s| s.verified = true);
    }
}

impl DownloadObserver for Flight {
    fn started(&self, total: Option<u64>) {
        self.state.send_if_modified(|s| {
            let changed = s.total != total;
            s.total = total;
            changed
        });
    }

    fn written(&self, bytes: u64) {
        self.state.send_modify(|s| s.written = bytes);
    }
}

/// The downloads in progress, by package.
pub struct Flights<K> {
    dir: PathBuf,
    running: Mutex<HashMap<K, Arc<Flight>>>,
}

impl<K: Eq + Hash + Clone + Send + Sync + 'static> Flights<K> {
    /// Spool files go to `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            running: Mutex::new(HashMap::new()),
        }
    }

    /// How many downloads are running.
    pub fn len(&self) -> usize {
        self.running.lock().expect("flights lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Joins the running download of `key`, or starts one: `lead(flight)` is the leader's
    /// work, run in a task of its own, and its result is every follower's outcome.
    pub fn join_or_start<F, Fut>(self: &Arc<Self>, key: &K, lead: F) -> Arc<Flight>
    where
        F: FnOnce(Arc<Flight>) -> Fut,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let mut running = self.running.lock().expect("flights lock");
        if let Some(f) = running.get(key) {
            return f.clone();
        }
        let flight = Arc::new(Flight {
            path: self
                .dir
                .join(format!("{}.zip", uuid::Uuid::new_v4().simple())),
            state: watch::Sender::new(FlightState::default()),
        });
        running.insert(key.clone(), flight.clone());
        drop(running);
        let landing = Landing {
            flights: self.clone(),
            key: key.clone(),
            flight: flight.clone(),
        };
        let work = lead(flight.clone());
        tokio::spawn(async move {
            let landing = landing;
            let result = work.await;
            landing
                .flight
                .state
                .send_modify(|s| s.outcome = Some(result));
        });
        flight
    }
}

/// Ends a flight whichever way its leader's task ends.
struct Landing<K: Eq + Hash> {
    flights: Arc<Flights<K>>,
    key: K,
    flight: Arc<Flight>,
}

impl<K: Eq + Hash> Drop for Landing<K> {
    fn drop(&mut self) {
        // No outcome yet: the leader panicked or its task was dropped.
        self.flight.state.send_if_modified(|s| {
            if s.outcome.is_some() {
                return false;
            }
            s.outcome = Some(Err("the download ended unexpectedly".into()));
            true
        });
        if let Ok(mut running) = self.flights.running.lock()
            && running
                .get(&self.key)
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
        {
            running.remove(&self.key);
        }
        // Followers that opened the file keep reading it; a stored package was moved away.
        let _ = std::fs::remove_file(&self.flight.path);
    }
}

/// Waits until the flight's state satisfies `done`; `None` if the flight vanished.
pub async fn wait_for(
    rx: &mut watch::Receiver<FlightState>,
    done: impl Fn(&FlightState) -> bool,
) -> Option<FlightState> {
    loop {
        {
            let s = rx.borrow_and_update();
            if done(&s) {
                return Some(s.clone());
            }
        }
        rx.changed().await.ok()?;
    }
}

/// The bytes of a growing spool file as they arrive. The last byte waits until the whole
/// download hashed to the signed checksum; a failed verification ends the stream with an
/// error instead, so the client's download fails.
pub fn flight_stream(
    flight: Arc<Flight>,
    rx: watch::Receiver<FlightState>,
    file: std::fs::File,
    total: u64,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    const CHUNK: u64 = 256 * 1024;
    let file = Arc::new(file);
    futures_util::stream::unfold(
        (flight, rx, 0u64, false),
        move |(flight, mut rx, offset, failed)| {
            let file = file.clone();
            async move {
                if failed || offset >= total {
                    return None;
                }
                loop {
                    let (written, verified, outcome) = {
                        let s = rx.borrow_and_update();
                        (s.written, s.verified, s.outcome.clone())
                    };
                    let limit = match &outcome {
                        Some(Err(e)) if !verified => {
                            let err = std::io::Error::other(format!("pull-through failed: {e}"));
                            return Some((Err(err), (flight, rx, offset, true)));
                        }
                        None if !verified => written.min(total.saturating_sub(1)),
                        _ => total,
                    };
                    if offset < limit {
                        let len = (limit - offset).min(CHUNK) as usize;
                        let f = file.clone();
                        let read = tokio::task::spawn_blocking(move || {
                            use std::os::unix::fs::FileExt;
                            let mut buf = vec![0u8; len];
                            f.read_exact_at(&mut buf, offset).map(|_| buf)
                        })
                        .await
                        .map_err(std::io::Error::other)
                        .and_then(|r| r);
                        return Some(match read {
                            Ok(buf) => {
                                let next = offset + buf.len() as u64;
                                (Ok(Bytes::from(buf)), (flight, rx, next, false))
                            }
                            Err(e) => (Err(e), (flight, rx, offset, true)),
                        });
                    }
                    if rx.changed().await.is_err() {
                        let err = std::io::Error::other("pull-through download vanished");
                        return Some((Err(err), (flight, rx, offset, true)));
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    async fn outcome_of(flight: &Flight) -> Result<(), String> {
        let mut rx = flight.subscribe();
        let ended = tokio::time::timeout(
            Duration::from_secs(5),
            wait_for(&mut rx, |s| s.outcome.is_some()),
        )
        .await
        .expect("followers are never left waiting")
        .expect("the flight is still there");
        ended.outcome.unwrap()
    }

    #[tokio::test]
    async fn followers_share_the_leaders_outcome_and_the_slot_is_freed() {
        let dir = tempfile::tempdir().unwrap();
        let flights = Arc::new(Flights::<u32>::new(dir.path().to_owned()));
        let started = Arc::new(AtomicUsize::new(0));
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let s = started.clone();
        let leader = flights.join_or_start(&1, move |_| async move {
            s.fetch_add(1, Ordering::SeqCst);
            let _ = wait.await;
            Ok(())
        });
        let follower = flights.join_or_start(&1, |_| async { unreachable!("joined") });
        assert!(Arc::ptr_eq(&leader, &follower), "one download per key");
        go.send(()).unwrap();
        assert_eq!(outcome_of(&follower).await, Ok(()));
        assert_eq!(started.load(Ordering::SeqCst), 1);
        for _ in 0..100 {
            if flights.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(flights.is_empty(), "a finished flight frees its package");
    }

    #[tokio::test]
    async fn a_panicking_leader_fails_its_followers_and_a_new_request_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let flights = Arc::new(Flights::<u32>::new(dir.path().to_owned()));
        let dead = flights.join_or_start(&7, |_| async { panic!("leader bug") });
        let err = outcome_of(&dead).await.unwrap_err();
        assert!(err.contains("ended unexpectedly"), "{err}");
        assert!(flights.is_empty(), "nobody joins the dead download");
        let fresh = flights.join_or_start(&7, |_| async { Ok(()) });
        assert!(!Arc::ptr_eq(&dead, &fresh), "a new download started");
        assert_eq!(outcome_of(&fresh).await, Ok(()));
    }

    #[test]
    fn a_leader_dropped_with_its_runtime_still_ends_the_flight() {
        let dir = tempfile::tempdir().unwrap();
        let flights = Arc::new(Flights::<u32>::new(dir.path().to_owned()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let flight = rt.block_on(async {
            flights.join_or_start(&3, |_| std::future::pending::<Result<(), String>>())
        });
        std::fs::write(&flight.path, b"partial").unwrap();
        drop(rt);
        let state = flight.subscribe().borrow().clone();
        assert!(
            matches!(&state.outcome, Some(Err(e)) if e.contains("ended unexpectedly")),
            "{state:?}"
        );
        assert!(flights.is_empty());
        assert!(!flight.path.exists(), "the partial spool file is removed");
    }
}
