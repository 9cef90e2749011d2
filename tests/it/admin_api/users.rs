//! Users and the masked configuration.

use reqwest::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn the_config_endpoint_masks_every_secret() {
    let app = app_with(|c| {
        c.upstream.insert(
            "registry.example.com".into(),
            UpstreamConfig {
                token: tfmirror::config::Secret::new("upstream-token-value-xyz"),
                ..Default::default()
            },
        );
        c.upstream.insert(
            "basic.example.com".into(),
            UpstreamConfig {
                url: Some("https://deploy:url-password-xyz@basic.example.com/".into()),
                ..Default::default()
            },
        );
        crate::common::s3_config(c);
        c.storage.s3_mut().unwrap().secret_access_key =
            tfmirror::config::Secret::new("s3-secret-value-xyz");
    })
    .await;
    let viewer = token(&app, "victor", VIEWER_PASSWORD).await;
    let (status, config) = get(&app, "/api/v1/config", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    let text = config.to_string();
    for secret in [
        "upstream-token-value-xyz",
        "s3-secret-value-xyz",
        "url-password-xyz",
        JWT_SECRET,
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert_eq!(config["auth"]["jwt_secret"], "********");
    assert_eq!(config["storage"]["s3"]["secret_access_key"], "********");
    assert_eq!(
        config["upstream"]["registry.example.com"]["token"],
        "********"
    );
}

#[tokio::test]
async fn users_can_be_disabled_reset_and_have_their_sessions_revoked() {
    let app = app_with(|_| {}).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let viewer = token(&app, "victor", VIEWER_PASSWORD).await;
    let (_, users) = get(&app, "/api/v1/users", &admin).await;
    let victor = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "victor")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let res = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/users/{victor}/revoke-sessions"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get(&app, "/api/v1/auth/me", &viewer).await.0,
        StatusCode::UNAUTHORIZED
    );

    let res = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/users/{victor}/password"),
        Some(&admin),
        Some(json!({ "password": "the new viewer password" })),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        login(&app, "victor", VIEWER_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let viewer = token(&app, "victor", "the new viewer password").await;

    let res = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/users/{victor}"),
        Some(&admin),
        Some(json!({ "disabled": true })),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        get(&app, "/api/v1/auth/me", &viewer).await.0,
        StatusCode::UNAUTHORIZED,
        "disabling ends sessions"
    );
    assert_eq!(
        login(&app, "victor", "the new viewer password")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let actions = audit_actions(&app).await;
    for a in ["user.revoke_sessions", "user.password_reset", "user.update"] {
        assert!(actions.contains(&a.to_owned()), "{a}: {actions:?}");
    }
}
