//! Accounts made by single sign-on (the browser flow against a real OpenID provider is in
//! `ui_e2e.rs`): created at the first login, their role following the groups at every
//! login, never a way into a local account of the same name, no local password, and a
//! disabled account stays out.

use reqwest::StatusCode;
use tfmirror::db::users::{SsoUser, upsert_sso_user};
use tfmirror::domain::Role;

use crate::common::{Store, TestApp};

const SUBJECT: &str = "https://login.example.test#248289761001";

#[tokio::test]
async fn sso_accounts_follow_their_groups_and_never_take_over_local_ones() {
    let app = TestApp::spawn(Store::Local).await;
    let db = &app.state.db;

    let SsoUser::Ready(first) = upsert_sso_user(db, SUBJECT, "alice", Role::Viewer, 1)
        .await
        .unwrap()
    else {
        panic!("the first login creates the account");
    };
    assert_eq!(first.role, Role::Viewer);
    // Moved to the admin group at the provider: admin at the next login, same account.
    let SsoUser::Ready(again) = upsert_sso_user(db, SUBJECT, "alice", Role::Admin, 2)
        .await
        .unwrap()
    else {
        panic!("the second login finds the account");
    };
    assert_eq!((again.id, again.role), (first.id, Role::Admin));

    // No local password: the name alone does not log in.
    assert_eq!(
        app.login("alice", "!").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("alice", "").await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Another subject claiming a local account's name gets nothing.
    app.create_user("root", "local root password", Role::Admin)
        .await;
    assert!(matches!(
        upsert_sso_user(
            db,
            "https://login.example.test#other",
            "root",
            Role::Admin,
            3
        )
        .await
        .unwrap(),
        SsoUser::NameTaken
    ));
    assert!(
        matches!(
            upsert_sso_user(
                db,
                "https://login.example.test#other",
                "ALICE",
                Role::Admin,
                3
            )
            .await
            .unwrap(),
            SsoUser::NameTaken
        ),
        "names are case-insensitive"
    );

    // Disabled by an admin: stays out whatever the groups say.
    on_db!(db, p => sqlx::query("UPDATE users SET disabled = 1 WHERE id = $1")
        .bind(first.id)
        .execute(p)
        .await.map(drop))
    .unwrap();
    assert!(matches!(
        upsert_sso_user(db, SUBJECT, "alice", Role::Admin, 4)
            .await
            .unwrap(),
        SsoUser::Disabled
    ));
    let users: i64 = on_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(p)
        .await)
    .unwrap();
    assert_eq!(users, 2, "alice and root, nothing else");
}
