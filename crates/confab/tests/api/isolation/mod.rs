//! Access control as one table: every route of both APIs and both WebSocket upgrades ×
//! every kind of caller, each cell with the status it must get. The victim is Bob (a
//! user of the default tenant) and his tenant's key; afterwards his data must be exactly
//! as before.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use confab::domain::{Email, Password, Timestamp};
use confab::store::NewSession;

use crate::support::{session_cookie, Auth, Backend, TestApp, TestUser};

mod cells;
mod routes;

use cells::{
    check_cell, cross_site_expect, fresh_user, on_fresh_chat, run_cell, search_hits, Target,
};
use routes::{routes, Creds, Route};

crate::per_backend!(access_matrix_of_every_route_and_caller);

/// The columns of the matrix, in order.
const CALLERS: [&str; 8] = [
    "no credentials",
    "garbage credentials",
    "expired session",
    "revoked session",
    "revoked key",
    "other user",
    "other tenant",
    "owner",
];
pub(super) const OWNER: usize = 7;
/// The last column: the owner's credentials from another site's page (`Origin`).
const FOREIGN: &str = "owner, from another site";

/// Everyone the matrix needs.
pub(super) struct Cast {
    bob: TestUser,
    ann: TestUser,
    zed: TestUser,
    /// Bob's tenant's key, and the same tenant's revoked one.
    key: Auth,
    revoked_key: Auth,
    /// Another tenant's key.
    other_key: Auth,
    expired: Auth,
    revoked: Auth,
}

impl Cast {
    fn credential(&self, creds: Creds, column: usize) -> Auth {
        match (column, creds) {
            (0, _) => Auth::None,
            (1, Creds::Cookie) => Auth::Cookie("not-a-session-token".into()),
            (1, Creds::Key) => Auth::Key("cfb_0123456789ab_not-a-real-secret".into()),
            (2, _) => self.expired.clone(),
            (3, _) => self.revoked.clone(),
            (4, _) => self.revoked_key.clone(),
            (5, _) => self.ann.auth.clone(),
            (6, Creds::Cookie) => self.zed.auth.clone(),
            (6, Creds::Key) => self.other_key.clone(),
            (_, Creds::Cookie) => self.bob.auth.clone(),
            (_, Creds::Key) => self.key.clone(),
        }
    }

    /// The user id a column names in `{u}`.
    fn user_id(&self, route: &Route, column: usize) -> i64 {
        match column {
            5 if route.others_use_own_id => self.ann.id,
            6 if route.others_use_own_id => self.zed.id,
            _ => self.bob.id,
        }
    }
}

/// A chat of Bob's, by both of its names, a message of it off the active branch, and a
/// share link of it.
#[derive(Clone)]
pub(super) struct Chat {
    id: i64,
    uuid: String,
    message: i64,
    share: String,
}

/// Bob's chat with an exchange in it (a code block makes a file) whose answer was edited:
/// two branches, the edited one current. Switching to the first answer, or editing it,
/// would change what Bob sees.
pub(super) async fn bobs_chat(app: &TestApp, bob: &TestUser, name: &str) -> Chat {
    let id = app.create_chat(bob, name).await;
    app.post_message(bob, id, "user", "bob's question").await;
    let first = app
        .post_message(bob, id, "assistant", "```sh\nbob's answer\n```")
        .await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/users/{}/chats/{id}/messages/{first}", bob.id),
            &bob.auth,
            Some(json!({"message": "```sh\nbob's better answer\n```"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, listed) = app
        .get(&format!("/api/users/{}/chats", bob.id), &bob.auth)
        .await;
    let uuid = listed["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .find(|chat| chat["id"] == id)
        .and_then(|chat| chat["uuid"].as_str())
        .expect("uuid")
        .to_owned();
    let (status, shared) = app
        .post(
            &format!("/api/users/{}/chats/{id}/share", bob.id),
            &bob.auth,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shared}");
    Chat {
        id,
        uuid,
        message: first,
        share: shared["share_id"].as_str().expect("share id").to_owned(),
    }
}

/// Moves Bob's chat to the trash.
pub(super) async fn trash_chat(app: &TestApp, bob: &TestUser, chat: &Chat) {
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/users/{}/chats/{}", bob.id, chat.id),
            &bob.auth,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Everything of Bob's and his tenant's, through both APIs, to prove no cell changed it:
/// chats (with their current leaves), the active path, files, and the whole tree.
async fn victim_data(app: &TestApp, cast: &Cast, chat: &Chat) -> Value {
    let bob = &cast.bob;
    let mut seen = Vec::new();
    for path in [
        format!("/api/users/{}/chats?order_by=id:asc&archived=all", bob.id),
        format!("/api/users/{}/trash", bob.id),
        format!("/api/shared/{}", chat.share),
        format!("/api/users/{}/chats/{}/messages", bob.id, chat.id),
        format!("/api/users/{}/chats/{}/files", bob.id, chat.id),
        format!("/api/users/{}/chats/{}/tree", bob.id, chat.id),
    ] {
        let (status, body) = app.get(&path, &bob.auth).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        seen.push(body);
    }
    for path in [
        format!("/api/v1/chats/{}", chat.uuid),
        format!("/api/v1/chats/{}/messages?limit=100", chat.uuid),
        format!("/api/v1/chats/{}/tree", chat.uuid),
        "/api/v1/chats?limit=100&archived=all".to_owned(),
        "/api/v1/trash?limit=100".to_owned(),
    ] {
        let (status, mut body) = app.get(&path, &cast.key).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        if let Some(object) = body.as_object_mut() {
            object.remove("active_connections");
        }
        seen.push(body);
    }
    json!(seen)
}

async fn access_matrix_of_every_route_and_caller(backend: Backend) {
    // The matrix signs up and logs in more often than the auth throttles allow one client.
    let double = crate::support::llm_double::LlmDouble::start().await;
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.auth_ip_attempts = 0;
        config.abuse.auth_account_failures = 0;
        config.abuse.shared_ip_reads_per_minute = 0;
        config.abuse.user_write_rate_per_second = 0;
        config.lifecycle.trash_days = 7;
        config.llm.llm_base_url = Some(double.base_url());
    })
    .await;
    let store = app.store();
    let bob = app.sign_up("bob@example.com").await;
    let ann = app.sign_up("ann@example.com").await;
    let default_tenant = store.default_tenant().await.expect("tenant");
    let (_, key) = confab::cli::issue_key(store.as_ref(), default_tenant.id, "bob's")
        .await
        .expect("key");
    let (revoked_id, revoked_key) =
        confab::cli::issue_key(store.as_ref(), default_tenant.id, "old")
            .await
            .expect("key");
    store
        .revoke_api_key(revoked_id, Timestamp::now())
        .await
        .expect("revoke");
    let other_tenant = store.create_tenant("elsewhere").await.expect("tenant");
    let (_, other_key) = confab::cli::issue_key(store.as_ref(), other_tenant.id, "theirs")
        .await
        .expect("key");

    // Zed lives in the other tenant (only the command line and the store make such users).
    let hash = confab::auth::password::hash(
        Password::parse_new("correct horse battery").expect("password"),
    )
    .await
    .expect("hash");
    let zed_record = store
        .create_user(
            other_tenant.id,
            &Email::parse("zed@example.com").expect("email"),
            &hash,
        )
        .await
        .expect("zed");
    let (zed_token, zed_hash) = confab::auth::session::new_token();
    store
        .create_session(NewSession {
            token_hash: zed_hash,
            user_id: zed_record.id,
            expires_at: Timestamp::now().plus_seconds(3600),
        })
        .await
        .expect("zed's session");
    let zed = TestUser {
        id: zed_record.id,
        email: "zed@example.com".into(),
        auth: Auth::Cookie(zed_token),
    };

    // Bob's sessions that must no longer work: one expired, one logged out.
    let (expired_token, expired_hash) = confab::auth::session::new_token();
    store
        .create_session(NewSession {
            token_hash: expired_hash,
            user_id: bob.id,
            expires_at: Timestamp::now().plus_seconds(-1),
        })
        .await
        .expect("expired session");
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "bob@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .expect("login");
    let revoked = Auth::Cookie(session_cookie(&response).expect("cookie"));
    let (status, _) = app
        .call(Method::POST, "/api/auth/logout", &revoked, None)
        .await;
    assert_eq!(status, StatusCode::OK);

    let cast = Cast {
        bob,
        ann,
        zed,
        key: Auth::Key(key),
        revoked_key: Auth::Key(revoked_key),
        other_key: Auth::Key(other_key),
        expired: Auth::Cookie(expired_token),
        revoked,
    };
    let victim = bobs_chat(&app, &cast.bob, "bob's").await;
    let trashed = bobs_chat(&app, &cast.bob, "bob's trashed").await;
    trash_chat(&app, &cast.bob, &trashed).await;
    let routes = routes();
    let before = victim_data(&app, &cast, &victim).await;

    let mut cells = 0;
    let mut n = 0;
    let mut failures = Vec::new();
    // Everyone but the owner, against Bob's chat.
    for route in &routes {
        for (column, caller) in CALLERS.iter().enumerate().take(OWNER) {
            n += 1;
            let auth = cast.credential(route.creds, column);
            let fresh = fresh_user(&app, route, n).await;
            let target = Target {
                user: cast.user_id(route, column),
                chat: if route.trashed { &trashed } else { &victim },
                fresh_user: fresh.unwrap_or(0),
            };
            let (status, body) = run_cell(&app, route, &auth, &target, n).await;
            if let Some(fresh) = fresh {
                assert!(
                    store.get_user(default_tenant.id, fresh).await.is_ok(),
                    "{} as {caller} erased a user",
                    route.path
                );
            }
            check_cell(
                route,
                caller,
                route.expect[column],
                status,
                &body,
                &mut failures,
            );
            if (column == 6
                && status == 200
                && (route.path.starts_with("/api/v1/chats?")
                    || route.path.starts_with("/api/v1/trash")))
                || (status == 200 && route.text)
            {
                assert!(
                    !body.to_string().contains(&victim.uuid),
                    "{} as {caller} lists or exports the victim's chat: {body}",
                    route.path
                );
            }
            if status == 200 && route.path.contains("/search?") {
                assert_eq!(
                    search_hits(route, &body),
                    0,
                    "{} as {caller} finds Bob's messages: {body}",
                    route.path
                );
            }
            cells += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "cells that failed:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        victim_data(&app, &cast, &victim).await,
        before,
        "no cell changed anything of Bob's"
    );

    // Ids that are not positive integers are 400 for the owner too, on either API.
    for (path, auth) in [
        ("/api/users/abc/chats".to_owned(), &cast.bob.auth),
        ("/api/users/0/chats".to_owned(), &cast.bob.auth),
        ("/api/users/-4/chats".to_owned(), &cast.bob.auth),
        (
            format!("/api/users/{}/chats/1.5/messages", cast.bob.id),
            &cast.bob.auth,
        ),
        (
            format!("/api/users/{}/chats/0/files", cast.bob.id),
            &cast.bob.auth,
        ),
        (
            format!("/api/users/{}/chats/-1/tree", cast.bob.id),
            &cast.bob.auth,
        ),
        ("/api/v1/chats/not-a-uuid/tree".to_owned(), &cast.key),
        ("/api/v1/chats/42/messages".to_owned(), &cast.key),
        ("/api/v1/chats/not-a-uuid".to_owned(), &cast.key),
    ] {
        let (status, body) = app.get(&path, auth).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} -> {body}");
    }
    // From another site's page, with the owner's credentials: every cookie-authenticated
    // write and upgrade is refused (SPEC §11); reads, and anything a key authenticates,
    // answer as for the owner. Each route on a fresh chat, before the owner's own pass
    // (which ends with Bob erasing himself).
    for route in &routes {
        n += 1;
        let auth = cast
            .credential(route.creds, OWNER)
            .sent_from(Some("https://evil.example"));
        let status = on_fresh_chat(&app, &cast, &victim, route, &auth, n).await;
        check_cell(
            route,
            FOREIGN,
            cross_site_expect(route),
            status.0,
            &status.1,
            &mut failures,
        );
        cells += 1;
    }
    // The owner, each route on a fresh chat of his (some of them delete it; those of the
    // trash find it there).
    for route in &routes {
        n += 1;
        let auth = cast.credential(route.creds, OWNER);
        let (status, body) = on_fresh_chat(&app, &cast, &victim, route, &auth, n).await;
        check_cell(
            route,
            CALLERS[OWNER],
            route.expect[OWNER],
            status,
            &body,
            &mut failures,
        );
        if status == 200 && route.path.contains("/search?") {
            // His fresh chat's "bob's question" at least.
            assert!(
                search_hits(route, &body) > 0,
                "{} as the owner finds his messages: {body}",
                route.path
            );
        }
        cells += 1;
    }
    assert!(
        failures.is_empty(),
        "cells that failed:\n{}",
        failures.join("\n")
    );

    println!(
        "access matrix: {} routes x {} callers = {cells} cells",
        routes.len(),
        CALLERS.len() + 1
    );
    assert_eq!(
        double.bodies().len(),
        3,
        "only the owner's generate requests (one per API, and the key's from another site) \
         reached the provider"
    );
    assert_eq!(routes.len(), 63);
    assert_eq!(cells, 63 * 9, "every cell of the matrix ran");
}
