//! Every user-API route: its success path and each documented error.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{session_cookie, user_error, Auth, Backend, TestApp};

crate::per_backend!(
    sign_up_login_logout_and_check,
    sign_up_refuses_bad_input_and_taken_emails,
    login_answers_the_same_for_unknown_email_and_wrong_password,
    cookie_is_secure_when_configured_or_behind_tls,
    chats_can_be_created_listed_ordered_renamed_and_deleted,
    bulk_delete_touches_only_the_callers_chats,
    messages_single_and_batch_come_back_in_order_with_files,
    files_route_lists_code_blocks_of_assistant_messages,
    deleting_a_chat_takes_its_messages_and_files,
    message_lists_are_never_stale,
    chat_lists_are_never_stale,
);

async fn sign_up_login_logout_and_check(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .client
        .post(app.url("/api/auth/sign-up"))
        .json(&json!({"email": "Ann@Example.com", "password": "correct horse"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(set_cookie.contains("Path=/"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    let token = session_cookie(&response).expect("cookie");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["user"]["email"], "Ann@Example.com");
    assert!(body["user"]["id"].as_i64().is_some_and(|id| id > 0));
    assert!(body["user"].get("password_hash").is_none());
    let auth = Auth::Cookie(token);

    let (status, _) = app.call(Method::HEAD, "/api/auth/check", &auth, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call(Method::HEAD, "/api/auth/check", &Auth::None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let response = app
        .client
        .post(app.url("/api/auth/logout"))
        .header(
            "cookie",
            match &auth {
                Auth::Cookie(t) => format!("neptun-session={t}"),
                _ => unreachable!(),
            },
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .contains("Max-Age=0"));
    assert_eq!(response.json::<Value>().await.expect("json"), json!(true));
    let (status, _) = app.call(Method::HEAD, "/api/auth/check", &auth, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "logout revokes the session server-side"
    );

    // Login is case-insensitive on the email and issues a new session.
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "ann@EXAMPLE.com", "password": "correct horse"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let fresh = Auth::Cookie(session_cookie(&response).expect("cookie"));
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["user"]["email"], "Ann@Example.com");
    let (status, _) = app
        .call(Method::HEAD, "/api/auth/check", &fresh, None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn sign_up_refuses_bad_input_and_taken_emails(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.sign_up("bob@example.com").await;
    let cases = [
        (
            json!({"email": "BOB@example.com", "password": "another password"}),
            409,
        ),
        (
            json!({"email": "not-an-email", "password": "long enough pw"}),
            400,
        ),
        (
            json!({"email": "carl@example.com", "password": "short"}),
            400,
        ),
        (json!({"email": "carl@example.com"}), 400),
        (json!({"email": 7, "password": "long enough pw"}), 400),
    ];
    for (body, expected) in cases {
        let (status, answer) = app
            .post("/api/auth/sign-up", &Auth::None, body.clone())
            .await;
        assert_eq!(status.as_u16(), expected, "{body} -> {answer}");
        assert_eq!(answer["statusCode"], expected, "{answer}");
        assert!(
            answer["data"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
    let (status, body) = app
        .post(
            "/api/auth/sign-up",
            &Auth::None,
            json!({"email": "BOB@example.com", "password": "another password"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::CONFLICT,
            user_error(409, "Email is already registered")
        )
    );
}

async fn login_answers_the_same_for_unknown_email_and_wrong_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.sign_up("dora@example.com").await;
    let wrong_password = app
        .post(
            "/api/auth/login",
            &Auth::None,
            json!({"email": "dora@example.com", "password": "wrong password"}),
        )
        .await;
    let unknown_email = app
        .post(
            "/api/auth/login",
            &Auth::None,
            json!({"email": "nobody@example.com", "password": "wrong password"}),
        )
        .await;
    assert_eq!(wrong_password.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password, unknown_email);
    assert_eq!(
        wrong_password.1,
        user_error(401, "Invalid email or password")
    );
}

async fn cookie_is_secure_when_configured_or_behind_tls(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.cookie_secure = true).await;
    let response = app
        .client
        .post(app.url("/api/auth/sign-up"))
        .json(&json!({"email": "eve@example.com", "password": "correct horse"}))
        .send()
        .await
        .expect("sent");
    assert!(response.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .ends_with("; Secure"));

    // A proxy's word counts only when it is trusted (see forwarded_proto.rs).
    let app = TestApp::spawn_with(backend, |c| c.abuse.trust_forwarded_for = true).await;
    let response = app
        .client
        .post(app.url("/api/auth/sign-up"))
        .header("x-forwarded-proto", "https")
        .json(&json!({"email": "eve@example.com", "password": "correct horse"}))
        .send()
        .await
        .expect("sent");
    assert!(response.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .ends_with("; Secure"));
}

async fn chats_can_be_created_listed_ordered_renamed_and_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("fay@example.com").await;
    let base = format!("/api/users/{}/chats", user.id);

    let (status, body) = app
        .post(
            &base,
            &user.auth,
            json!({"name": "  Zeta  ", "model": "gpt-4o"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let chat = &body["chat"];
    assert_eq!(chat["name"], "Zeta", "names are trimmed");
    assert_eq!(chat["model"], "gpt-4o");
    assert_eq!(chat["neptun_user_id"], user.id);
    assert!(chat["uuid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(chat["created_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    let zeta = chat["id"].as_i64().expect("id");
    let alpha = app.create_chat(&user, "Alpha").await;
    let mid = app.create_chat(&user, "Mid").await;

    for bad in [
        json!({"name": "   "}),
        json!({"name": ""}),
        json!({"model": "x"}),
        json!({"name": 5}),
    ] {
        let (status, body) = app.post(&base, &user.auth, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} -> {body}");
    }

    let ids = |body: &Value| -> Vec<i64> {
        body["chats"]
            .as_array()
            .expect("chats")
            .iter()
            .map(|c| c["id"].as_i64().expect("id"))
            .collect()
    };
    let (status, body) = app.get(&base, &user.auth).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ids(&body),
        [mid, alpha, zeta],
        "default: most recently updated first"
    );
    let (_, body) = app
        .get(&format!("{base}?order_by=name:asc"), &user.auth)
        .await;
    assert_eq!(ids(&body), [alpha, mid, zeta]);
    let (_, body) = app
        .get(
            &format!("{base}?order_by=created_at:asc,name:desc"),
            &user.auth,
        )
        .await;
    assert_eq!(ids(&body), [zeta, alpha, mid]);
    let (status, body) = app
        .get(&format!("{base}?order_by=password:asc"), &user.auth)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Renaming moves the chat to the top of the default order.
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("{base}/{zeta}"),
            &user.auth,
            Some(json!({"name": "Omega"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["chat"]["name"], "Omega");
    assert_ne!(body["chat"]["updated_at"], body["chat"]["created_at"]);
    let (_, body) = app.get(&base, &user.auth).await;
    assert_eq!(ids(&body), [zeta, mid, alpha]);
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("{base}/{zeta}"),
            &user.auth,
            Some(json!({"name": " "})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("{base}/999999"),
            &user.auth,
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, user_error(404, "Chat not found"))
    );

    // Seed 001: delete answers `true`, then the exact 404 body.
    let (status, body) = app.delete(&format!("{base}/{zeta}"), &user.auth).await;
    assert_eq!((status, body), (StatusCode::OK, json!(true)));
    let (status, body) = app.delete(&format!("{base}/{zeta}"), &user.auth).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"statusCode": 404, "statusMessage": "Not Found", "data": {"message": "Chat not found"}})
    );
    let (_, body) = app.get(&base, &user.auth).await;
    assert_eq!(ids(&body), [mid, alpha]);
}

async fn bulk_delete_touches_only_the_callers_chats(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ann = app.sign_up("ann@example.com").await;
    let bob = app.sign_up("bob@example.com").await;
    let a1 = app.create_chat(&ann, "a1").await;
    let a2 = app.create_chat(&ann, "a2").await;
    let a3 = app.create_chat(&ann, "a3").await;
    let b1 = app.create_chat(&bob, "b1").await;
    app.post_message(&bob, b1, "user", "bob's secret").await;

    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/users/{}/chats", ann.id),
            &ann.auth,
            Some(json!({"chat_ids": [a1, a3, b1, 987654]})),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!(true)));
    let (_, body) = app
        .get(&format!("/api/users/{}/chats", ann.id), &ann.auth)
        .await;
    let left: Vec<i64> = body["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(left, [a2]);
    assert_eq!(
        app.message_ids(&bob, b1).await.len(),
        1,
        "bob's chat is untouched"
    );

    for bad in [
        json!({"chat_ids": [0]}),
        json!({"chat_ids": ["x"]}),
        json!({}),
        json!({"chat_ids": [-3]}),
    ] {
        let (status, body) = app
            .call(
                Method::DELETE,
                &format!("/api/users/{}/chats", ann.id),
                &ann.auth,
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} -> {body}");
    }
}

async fn messages_single_and_batch_come_back_in_order_with_files(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("gus@example.com").await;
    let chat = app.create_chat(&user, "code").await;
    let path = format!("/api/users/{}/chats/{chat}/messages", user.id);

    let (status, body) = app
        .post(
            &path,
            &user.auth,
            json!({"message": "How do I print? 👋🏽", "actor": "user"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = &body["chatMessage"];
    assert_eq!(first["actor"], "user");
    assert_eq!(first["message"], "How do I print? 👋🏽");
    assert_eq!(first["chat_conversation_id"], chat);
    assert_eq!(first["files"], json!([]));

    let reply = "Like this:\n\n```python title=\"hello.py\"\nprint('Hello')\n```\n\nor\n\n~~~rust\nfn main() {}\n~~~\n";
    let (status, body) = app
        .post(
            &path,
            &user.auth,
            json!({"messages": [
                {"content": reply, "role": "assistant"},
                {"content": "thanks", "role": "user"},
                {"message": "system note", "actor": "system"},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let batch = body["chatMessages"].as_array().expect("chatMessages");
    assert_eq!(batch.len(), 3);
    let files = batch[0]["files"].as_array().expect("files");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["title"], "hello.py");
    assert_eq!(files[0]["language"], "python");
    assert_eq!(files[0]["extension"], "py");
    assert_eq!(files[0]["text"], "print('Hello')\n");
    assert_eq!(files[0]["neptun_user_id"], user.id);
    assert_eq!(files[0]["chat_conversation_id"], chat);
    assert_eq!(files[0]["chat_conversation_message_id"], batch[0]["id"]);
    assert_eq!(files[1]["title"], "snippet-2.rs");
    assert_eq!(batch[1]["files"], json!([]), "user messages carry no files");

    let (status, body) = app.get(&path, &user.auth).await;
    assert_eq!(status, StatusCode::OK);
    let listed = body["chatMessages"].as_array().expect("chatMessages");
    let actors: Vec<&str> = listed
        .iter()
        .map(|m| m["actor"].as_str().expect("actor"))
        .collect();
    assert_eq!(actors, ["user", "assistant", "user", "system"]);
    assert_eq!(listed[0], *first);
    assert_eq!(listed[1], batch[0]);
    let ids: Vec<i64> = listed
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "chronological: {ids:?}"
    );
    let stamps: Vec<&str> = listed
        .iter()
        .map(|m| m["created_at"].as_str().expect("ts"))
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[0] <= w[1]),
        "chronological: {stamps:?}"
    );

    let (status, body) = app
        .get(
            &format!("/api/users/{}/chats/424242/messages", user.id),
            &user.auth,
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, user_error(404, "Chat not found"))
    );
    let (status, _) = app
        .post(
            &format!("/api/users/{}/chats/424242/messages", user.id),
            &user.auth,
            json!({"message": "x", "actor": "user"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn files_route_lists_code_blocks_of_assistant_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("hal@example.com").await;
    let chat = app.create_chat(&user, "files").await;
    app.post_message(
        &user,
        chat,
        "user",
        "```python\nnot a file: user message\n```",
    )
    .await;
    let id = app
        .post_message(
            &user,
            chat,
            "assistant",
            "```ts\nlet a = 1\n```\n```\nplain\n```",
        )
        .await;
    let (status, body) = app
        .get(
            &format!("/api/users/{}/chats/{chat}/files", user.id),
            &user.auth,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let files = body["chatFiles"].as_array().expect("chatFiles");
    let summary: Vec<(String, String, String)> = files
        .iter()
        .map(|f| {
            (
                f["title"].as_str().unwrap_or_default().into(),
                f["language"].as_str().unwrap_or_default().into(),
                f["extension"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "snippet-1.ts".to_string(),
                "ts".to_string(),
                "ts".to_string()
            ),
            (
                "snippet-2.txt".to_string(),
                "text".to_string(),
                "txt".to_string()
            ),
        ]
    );
    assert!(files
        .iter()
        .all(|f| f["chat_conversation_message_id"] == id));
    let (status, _) = app
        .get(
            &format!("/api/users/{}/chats/31337/files", user.id),
            &user.auth,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn deleting_a_chat_takes_its_messages_and_files(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("ivy@example.com").await;
    let chat = app.create_chat(&user, "doomed").await;
    let keep = app.create_chat(&user, "kept").await;
    app.post_message(&user, chat, "assistant", "```rust\nfn a() {}\n```")
        .await;
    app.post_message(&user, keep, "assistant", "```rust\nfn b() {}\n```")
        .await;
    let (status, _) = app
        .delete(&format!("/api/users/{}/chats/{chat}", user.id), &user.auth)
        .await;
    assert_eq!(status, StatusCode::OK);
    // Through the store: nothing of the chat is left, the other chat is whole.
    let store = app.store();
    let gone = confab::store::ChatRef::User {
        user_id: user.id,
        chat_id: chat,
    };
    assert!(matches!(
        store.list_messages(&gone).await,
        Err(confab::store::StoreError::NotFound)
    ));
    let kept = confab::store::ChatRef::User {
        user_id: user.id,
        chat_id: keep,
    };
    let messages = store.list_messages(&kept).await.expect("kept chat");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].files.len(), 1);
}

/// Reads between writes (through both APIs) always show the latest state, whether or not
/// the server answers from its cache of serialised lists.
async fn message_lists_are_never_stale(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("cache@example.com").await;
    let (status, body) = app
        .post(
            &format!("/api/users/{}/chats", user.id),
            &user.auth,
            json!({"name": "cached"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let chat = body["chat"]["id"].as_i64().expect("id");
    let uuid = body["chat"]["uuid"].as_str().expect("uuid").to_owned();
    let store = app.store();
    let tenant = store.default_tenant().await.expect("tenant");
    let (_, key) = confab::cli::issue_key(store.as_ref(), tenant.id, "cache")
        .await
        .expect("key");
    let key = Auth::Key(key);
    let mut expected: Vec<i64> = Vec::new();
    for round in 0..24 {
        // Read twice: the second read is the one a cache would answer.
        assert_eq!(
            app.message_ids(&user, chat).await,
            expected,
            "round {round}"
        );
        assert_eq!(
            app.message_ids(&user, chat).await,
            expected,
            "round {round}"
        );
        match round % 4 {
            0 => expected.push(
                app.post_message(&user, chat, "user", &format!("q{round}"))
                    .await,
            ),
            1 => {
                let (status, body) = app
                    .post(
                        &format!("/api/v1/chats/{uuid}/messages"),
                        &key,
                        json!({"message": format!("a{round}"), "actor": "assistant"}),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                expected.push(body["data"][0]["id"].as_i64().expect("id"));
            }
            2 => {
                let (status, _) = app
                    .delete(&format!("/api/v1/chats/{uuid}/messages/last"), &key)
                    .await;
                assert_eq!(status, StatusCode::OK);
                let keep = expected.len().saturating_sub(2);
                expected.truncate(keep);
            }
            _ => {
                expected.push(
                    app.post_message(&user, chat, "user", &format!("u{round}"))
                        .await,
                );
                expected.push(
                    app.post_message(&user, chat, "assistant", &format!("r{round}"))
                        .await,
                );
            }
        }
    }
    assert_eq!(app.message_ids(&user, chat).await, expected);
}

/// A listed page of chats as `(id, name, pinned, current message)`, the id read by `id`
/// (a number on the user API, a UUID on the tenant API).
fn listed_chats<K>(
    chats: &serde_json::Value,
    id: impl Fn(&serde_json::Value) -> K,
) -> Vec<(K, String, bool, Option<i64>)> {
    chats
        .as_array()
        .expect("chats")
        .iter()
        .map(|c| {
            (
                id(&c["id"]),
                c["name"].as_str().expect("name").to_owned(),
                c["pinned"].as_bool().expect("pinned"),
                c["current_message_id"].as_i64(),
            )
        })
        .collect()
}

/// The user's chat list and the tenant's, read twice after every kind of change (through
/// both APIs), always show the latest state, whether or not the server answers from its
/// caches: (id, name, pinned, current message) of each listed chat, newest first.
async fn chat_lists_are_never_stale(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("list-cache@example.com").await;
    let key = crate::tenant_support::default_tenant_key(&app).await;
    let list = format!("/api/users/{}/chats?archived=all", user.id);
    // id -> (uuid, name, pinned, current message)
    let mut expected: std::collections::BTreeMap<i64, (String, String, bool, Option<i64>)> =
        std::collections::BTreeMap::new();
    for round in 0..30 {
        let shown: Vec<(i64, String, bool, Option<i64>)> = expected
            .iter()
            .rev()
            .map(|(id, (_, name, pinned, current))| (*id, name.clone(), *pinned, *current))
            .collect();
        for _ in 0..2 {
            let (status, body) = app.get(&list, &user.auth).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let listed = listed_chats(&body["chats"], |id| id.as_i64().expect("id"));
            assert_eq!(listed, shown, "round {round}");
        }
        // The tenant API's list, whole and its first page of two, cached by page.
        let tenant_shown: Vec<(String, String, bool, Option<i64>)> = expected
            .values()
            .rev()
            .map(|(uuid, name, pinned, current)| (uuid.clone(), name.clone(), *pinned, *current))
            .collect();
        for (query, shown) in [
            ("archived=all", &tenant_shown[..]),
            (
                "archived=all&limit=2",
                &tenant_shown[..tenant_shown.len().min(2)],
            ),
        ] {
            for _ in 0..2 {
                let (status, body) = app.get(&format!("/api/v1/chats?{query}"), &key).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                let listed = listed_chats(&body["data"], |id| id.as_str().expect("id").to_owned());
                assert_eq!(listed, shown, "round {round}, {query}");
            }
        }
        let oldest = expected.keys().next().copied();
        let newest = expected.keys().next_back().copied();
        match (round % 5, oldest, newest) {
            (0, _, _) | (_, None, _) => {
                let name = format!("chat {round}");
                let (status, body) = app
                    .post(
                        &format!("/api/users/{}/chats", user.id),
                        &user.auth,
                        json!({ "name": name }),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                let id = body["chat"]["id"].as_i64().expect("id");
                let uuid = body["chat"]["uuid"].as_str().expect("uuid").to_owned();
                expected.insert(id, (uuid, name, false, None));
            }
            (1, _, Some(id)) => {
                let entry = expected.get_mut(&id).expect("chat");
                entry.1 = format!("renamed {round}");
                let (status, body) = app
                    .call(
                        Method::PATCH,
                        &format!("/api/v1/chats/{}", entry.0),
                        &key,
                        Some(json!({ "name": entry.1 })),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
            (2, Some(id), _) => {
                let entry = expected.get_mut(&id).expect("chat");
                entry.2 = !entry.2;
                let (status, body) = app
                    .call(
                        Method::PATCH,
                        &format!("/api/users/{}/chats/{id}", user.id),
                        &user.auth,
                        Some(json!({ "pinned": entry.2 })),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
            (3, _, Some(id)) => {
                let uuid = expected[&id].0.clone();
                let (status, body) = app
                    .post(
                        &format!("/api/v1/chats/{uuid}/messages"),
                        &key,
                        json!({"message": format!("m{round}"), "actor": "user"}),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                let message = body["data"][0]["id"].as_i64().expect("id");
                expected.get_mut(&id).expect("chat").3 = Some(message);
            }
            (_, Some(id), _) => {
                let uuid = expected.remove(&id).expect("chat").0;
                let (status, body) = app.delete(&format!("/api/v1/chats/{uuid}"), &key).await;
                assert!(status.is_success(), "{status} {body}");
            }
        }
    }
}
