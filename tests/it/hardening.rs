//! Regression tests for the defects an outside probe found (each failed before its fix): what
//! an anonymous client can make the server hold, show or spend.

use reqwest::StatusCode;

use crate::common::{Store, TestApp};

async fn scrape(app: &TestApp) -> String {
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

/// Methods a client made up become `OTHER`: the series `/metrics` holds do not grow with the
/// number of distinct methods sent.
#[tokio::test]
async fn made_up_methods_cannot_grow_the_metrics() {
    let app = TestApp::spawn(Store::Local).await;
    let send = |i: usize| {
        let method = format!("X{}{i}", "Q".repeat(300));
        let req = app.client.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            app.url("/registry.terraform.io/hashicorp/null/index.json"),
        );
        async move { req.send().await.unwrap().status() }
    };
    for i in 0..10 {
        assert_eq!(send(i).await, StatusCode::METHOD_NOT_ALLOWED);
    }
    scrape(&app).await; // the scrape's own series
    let before = scrape(&app).await;
    for i in 10..210 {
        send(i).await;
    }
    let after = scrape(&app).await;
    assert!(!after.contains("QQQQ"), "a client's method became a label");
    assert!(after.contains("method=\"OTHER\""), "{after}");
    let series = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(
        series(&before),
        series(&after),
        "200 more made-up methods added series"
    );
}

/// A token is read only from the `Authorization` header: a query-string token (which proxies
/// log) authenticates nothing, on the event stream or anywhere else, deletes included.
#[tokio::test]
async fn tokens_in_query_strings_are_not_credentials() {
    let app = TestApp::spawn(Store::Local).await;
    let token = app.admin_token().await;
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/jobs/1/events"),
        (reqwest::Method::DELETE, "/api/v1/tokens/1/events"),
        (reqwest::Method::GET, "/api/v1/stats"),
    ] {
        let res = app
            .client
            .request(
                method.clone(),
                app.url(&format!("{path}?access_token={token}")),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

/// What the admin API answers belongs to one caller: every answer says `no-store`, so no
/// proxy or browser cache keeps users, tokens or configuration.
#[tokio::test]
async fn admin_api_answers_are_never_cached() {
    let app = TestApp::spawn(Store::Local).await;
    app.create_user(
        "root",
        "an admin password 123",
        tfmirror::domain::Role::Admin,
    )
    .await;
    let login = app.login("root", "an admin password 123").await;
    assert_eq!(
        login.headers()["cache-control"],
        "no-store",
        "the login answer holds a token"
    );
    let token = login.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        "/api/v1/users",
        "/api/v1/config",
        "/api/v1/auth/me",
        "/api/v1/tokens",
        "/api/v1/stats",
    ] {
        let res = app
            .client
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
    }
}

async fn api(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let res = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or_default())
}

/// Two admins disabling each other at the same moment: one of them stays active, always.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_admins_disabling_each_other_at_once_leave_an_active_admin() {
    let app = TestApp::spawn(Store::Local).await;
    let password = "a long password 123";
    for round in 0..10 {
        let names = [format!("a{round}"), format!("b{round}")];
        let mut tokens = Vec::new();
        for name in &names {
            app.create_user(name, password, tfmirror::domain::Role::Admin)
                .await;
            let login = app.login(name, password).await;
            let body: serde_json::Value = login.json().await.unwrap();
            tokens.push(body["token"].as_str().unwrap().to_owned());
        }
        // Only this round's two are active admins.
        on_db!(&app.state.db, p => sqlx::query("UPDATE users SET disabled = 1 WHERE username NOT IN ($1, $2)")
            .bind(&names[0])
            .bind(&names[1])
            .execute(p)
            .await.map(drop))
            .unwrap();
        let ids: Vec<i64> =
            on_db!(&app.state.db, p => sqlx::query_scalar("SELECT id FROM users WHERE username IN ($1, $2) ORDER BY username")
                .bind(&names[0])
                .bind(&names[1])
                .fetch_all(p)
                .await)
                .unwrap();
        let disable = |token: String, id: i64| {
            let app = &app;
            async move {
                let path = format!("/api/v1/users/{id}");
                let body = serde_json::json!({ "disabled": true });
                api(app, &token, reqwest::Method::PATCH, &path, body)
                    .await
                    .0
            }
        };
        let (x, y) = tokio::join!(
            disable(tokens[0].clone(), ids[1]),
            disable(tokens[1].clone(), ids[0])
        );
        let active = tfmirror::db::users::count_admins(&app.state.db)
            .await
            .unwrap();
        assert_eq!(
            active, 1,
            "round {round}: one admin is left active ({x}, {y})"
        );
        assert!(
            [x, y].contains(&StatusCode::OK),
            "round {round}: one change went through ({x}, {y})"
        );
    }
}

/// `admin` and `ADMIN` are one account name, for creating and for logging in.
#[tokio::test]
async fn user_names_differ_by_more_than_case() {
    let app = TestApp::spawn(Store::Local).await;
    let root = app.admin_token().await;
    let (status, body) = api(
        &app,
        &root,
        reqwest::Method::POST,
        "/api/v1/users",
        serde_json::json!({"username": "ROOT", "password": "another password 123", "role": "admin"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        app.login("Root", "an admin password 123").await.status(),
        StatusCode::OK
    );
}

/// What can be set can be used: no password longer than a login accepts; and names that reach
/// the logs cannot carry line breaks or terminal escapes.
#[tokio::test]
async fn passwords_and_token_names_that_could_never_work_or_forge_logs_are_refused() {
    let app = TestApp::spawn(Store::Local).await;
    let root = app.admin_token().await;
    let long = "x".repeat(1_000) + &"y".repeat(100);
    let (status, body) = api(
        &app,
        &root,
        reqwest::Method::POST,
        "/api/v1/users",
        serde_json::json!({"username": "longpass", "password": long, "role": "viewer"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("at most 1024"),
        "{body}"
    );
    for name in ["ci\nINFO forged line", "ci\u{1b}[31mred", "tab\there"] {
        let (status, body) = api(
            &app,
            &root,
            reqwest::Method::POST,
            "/api/v1/tokens",
            serde_json::json!({"name": name, "role": "viewer"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {body}");
    }
    let (_, tokens) = api(
        &app,
        &root,
        reqwest::Method::GET,
        "/api/v1/tokens",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(
        tokens.as_array().map(Vec::len),
        Some(0),
        "nothing was created"
    );
}

/// Registry download documents point at this server by path only: `Host`,
/// `X-Forwarded-Host` or `Forwarded` cannot send Terraform to another server for the archive
/// or the checksums.
#[tokio::test]
async fn request_headers_cannot_redirect_registry_downloads() {
    let app = TestApp::spawn(Store::Local).await;
    app.add(
        "registry.terraform.io/hashicorp/null",
        "3.2.1",
        "linux_amd64",
        &crate::common::provider_zip("null"),
    )
    .await;
    let res = app
        .client
        .get(app.url("/v1/providers/hashicorp/null/3.2.1/download/linux/amd64"))
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "http")
        .header("forwarded", "host=evil.example;proto=http")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: serde_json::Value = res.json().await.unwrap();
    for key in ["download_url", "shasums_url", "shasums_signature_url"] {
        let url = doc[key].as_str().unwrap();
        assert!(
            url.starts_with('/') && !url.starts_with("//"),
            "{key}: {url}"
        );
        assert!(!url.contains("evil"), "{key}: {url}");
    }
}

/// Eight different archives uploaded at once for the same package: one is stored, the others
/// are refused as conflicts, and none of the losers' bytes stay behind in the blob store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_that_lose_a_race_leave_no_orphan_blobs() {
    let app = TestApp::spawn(Store::Local).await;
    let zips: Vec<Vec<u8>> = (0..8)
        .map(|i| crate::common::provider_zip(&format!("racer{i}")))
        .collect();
    let outcomes = futures_util::future::join_all(zips.iter().map(|zip| {
        app.add(
            "registry.terraform.io/hashicorp/null",
            "3.2.1",
            "linux_amd64",
            zip,
        )
    }))
    .await;
    let added = outcomes
        .iter()
        .filter(|o| matches!(o, tfmirror::catalog::IngestOutcome::Added(_)))
        .count();
    assert_eq!(added, 1, "{outcomes:?}");
    let blobs = walk_files(&app.dir.path().join("blobs/sha256"));
    assert_eq!(
        blobs.len(),
        1,
        "only the stored package's bytes remain: {blobs:?}"
    );
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A login body trickled a byte at a time is cut off with 408 once it falls behind the
/// minimum rate, instead of holding the connection for as long as the client likes.
#[tokio::test]
async fn a_body_trickled_byte_by_byte_is_answered_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(Store::Local, |c| {
        c.server.body_grace_seconds = 1;
        c.server.min_body_bytes_per_second = 1024;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut rx, mut tx) = conn.into_split();
    tx.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n",
    )
    .await
    .unwrap();
    let trickle = tokio::spawn(async move {
        // 40 bytes over 10 s: far below 1 KiB/s.
        for _ in 0..40 {
            if tx.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(8), async {
        let mut buf = [0u8; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    trickle.abort();
    assert!(read.is_ok(), "no answer while the body trickled in");
    let head = String::from_utf8_lossy(&answer);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
}

/// Concurrent writers on the same rows (here: several admins deleting the same provider at
/// once) wait their turn: each gets 204 or 404, never a 500 from a lost write lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deletes_of_one_provider_never_fail_with_a_server_error() {
    let app = TestApp::spawn(Store::Local).await;
    let token = app.admin_token().await;
    for round in 0..5 {
        for version in ["1.0.0", "1.1.0", "2.0.0"] {
            app.add(
                "registry.terraform.io/hashicorp/null",
                version,
                "linux_amd64",
                &crate::common::provider_zip(&format!("{round}-{version}")),
            )
            .await;
        }
        let deletes = (0..8).map(|_| {
            app.client
                .delete(app.url("/api/v1/providers/registry.terraform.io/hashicorp/null"))
                .bearer_auth(&token)
                .send()
        });
        let statuses: Vec<StatusCode> = futures_util::future::join_all(deletes)
            .await
            .into_iter()
            .map(|r| r.unwrap().status())
            .collect();
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::NO_CONTENT)
                .count(),
            1,
            "round {round}: {statuses:?}"
        );
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::NO_CONTENT || *s == StatusCode::NOT_FOUND),
            "round {round}: {statuses:?}"
        );
    }
}

/// PostgreSQL refuses text with a NUL character that SQLite stores: on either backend such a
/// request is the client's error, never a server fault.
#[tokio::test]
async fn text_with_a_nul_character_is_never_a_server_error() {
    let app = TestApp::spawn(Store::Local).await;
    let admin = app.admin_token().await;
    let login = app.login("ro\u{0}ot", "an admin password 123").await;
    assert!(
        login.status() == StatusCode::UNAUTHORIZED || login.status() == StatusCode::BAD_REQUEST,
        "{}",
        login.status()
    );
    let search = app
        .client
        .get(app.url("/api/v1/providers?q=a%00b"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(!search.status().is_server_error(), "{}", search.status());
    let token = app
        .client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "c\u{0}i", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert!(!token.status().is_server_error(), "{}", token.status());
    // The server is fine afterwards.
    assert_eq!(
        app.login("root", "an admin password 123").await.status(),
        StatusCode::OK
    );
}
