//! A TCP relay on a loopback port in front of a real server (the tests' SeaweedFS) that can
//! slow down or stop what the server sends back: an object store that is slow, or that
//! accepts requests and then says nothing. Requests pass through unchanged.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Relay as fast as the server answers.
    Normal,
    /// Wait this long before relaying each piece (at most 16 KiB) of an answer.
    Delay(Duration),
    /// Relay nothing of any answer, on open connections too, until the pace changes.
    Stall,
}

pub struct SlowLink {
    /// `http://127.0.0.1:PORT`, to use as the server's endpoint.
    pub url: String,
    pace: watch::Sender<Pace>,
    accept: tokio::task::JoinHandle<()>,
}

impl SlowLink {
    /// Relays to `target` (`HOST:PORT`).
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (pace, watching) = watch::channel(Pace::Normal);
        let target = target.to_owned();
        let accept = tokio::spawn(async move {
            // Dropped with the accept loop, which aborts every relayed connection.
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let target = target.clone();
                let pace = watching.clone();
                connections.spawn(async move {
                    if let Ok(server) = TcpStream::connect(&target).await {
                        relay(client, server, pace).await;
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Self { url, pace, accept }
    }

    pub fn set(&self, pace: Pace) {
        self.pace.send_replace(pace);
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, mut pace: watch::Receiver<Pace>) {
    let (mut from_client, mut to_server) = (client.into_split(), server.into_split());
    let (client_read, client_write) = (&mut from_client.0, &mut from_client.1);
    let (server_read, server_write) = (&mut to_server.0, &mut to_server.1);
    let upstream = tokio::io::copy(client_read, server_write);
    let downstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            loop {
                let now = *pace.borrow_and_update();
                match now {
                    Pace::Normal => break,
                    Pace::Delay(d) => {
                        tokio::time::sleep(d).await;
                        break;
                    }
                    Pace::Stall => {
                        if pace.changed().await.is_err() {
                            return;
                        }
                    }
                }
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = upstream => {}
        () = downstream => {}
    }
}
