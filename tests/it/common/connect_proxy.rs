//! An HTTPS forward proxy on a loopback port, the kind `HTTPS_PROXY` points at: it answers
//! `CONNECT HOST:PORT`, records the authority, and tunnels the bytes to one fixed target,
//! whatever host was asked for. With a certificate for the public registries' names, a
//! process that believes it talks to `https://registry.terraform.io` talks to a fake.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub struct ConnectProxy {
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
    accept: JoinHandle<()>,
}

impl ConnectProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let accept = tokio::spawn(async move {
            let mut tunnels = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let recorded = recorded.clone();
                tunnels.spawn(async move {
                    let _ = tunnel(client, target, recorded).await;
                });
                while tunnels.try_join_next().is_some() {}
            }
        });
        Self { url, seen, accept }
    }

    /// Every `CONNECT` authority asked for (or the request line of anything else), in order.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn tunnel(
    mut client: TcpStream,
    target: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    // The request head, at most 8 KiB.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 || client.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = line.split_whitespace();
    let (method, authority) = (parts.next(), parts.next());
    let Some(authority) = authority.filter(|_| method == Some("CONNECT")) else {
        seen.lock().unwrap().push(line);
        client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    seen.lock().unwrap().push(authority.to_owned());
    let mut server = TcpStream::connect(target).await?;
    client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}
