//! A forward HTTP proxy on a loopback port, the kind `HTTP_PROXY` points at: it records the
//! absolute URI of every request it relays, then forwards it (without a proxy) and returns
//! the upstream's answer.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

pub struct ForwardProxy {
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
    server: ServerHandle,
}

impl ForwardProxy {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let state = web::Data::new((seen.clone(), client));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .default_service(web::to(relay))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url,
            seen,
            server: handle,
        }
    }

    /// The absolute URIs relayed so far, in order.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        let handle = self.server.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

type State = web::Data<(Arc<Mutex<Vec<String>>>, reqwest::Client)>;

async fn relay(req: HttpRequest, state: State) -> HttpResponse {
    let uri = req.uri().to_string();
    state.0.lock().unwrap().push(uri.clone());
    if req.uri().scheme().is_none() {
        // An origin-form request: the client did not treat this as a proxy.
        return HttpResponse::BadRequest().body("not a proxy request");
    }
    let mut out = state.1.get(&uri);
    for (name, value) in req.headers() {
        if name != "host" && name != "proxy-connection" {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    match out.send().await {
        Ok(res) => {
            let mut answer = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(res.status().as_u16()).unwrap(),
            );
            for (name, value) in res.headers() {
                if name != "transfer-encoding" && name != "content-length" {
                    answer.insert_header((name.as_str(), value.as_bytes()));
                }
            }
            answer.body(res.bytes().await.unwrap_or_default())
        }
        Err(e) => HttpResponse::BadGateway().body(e.to_string()),
    }
}
