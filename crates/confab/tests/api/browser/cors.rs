//! CORS: preflights answered and credentials allowed for the origins of
//! `--cors-origin` only; every other origin gets no CORS header, and its preflights
//! are refused in the API's error shape.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::support::{Auth, Backend, TestApp};
use crate::tenant_support::{assert_tenant_error, default_tenant_key};

crate::per_backend!(
    listed_origins_get_preflights_and_credentials,
    other_origins_get_no_cors_headers,
    cookie_writes_from_other_sites_are_refused,
    deleting_a_watched_chat_can_be_checked_first,
);

const APP: &str = "https://app.example";
const EVIL: &str = "https://evil.example";

async fn listed_app(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.cors_origins = vec![APP.to_owned(), "http://localhost:5173".to_owned()];
    })
    .await
}

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("preflight sent")
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn listed_origins_get_preflights_and_credentials(backend: Backend) {
    let app = listed_app(backend).await;
    let user = app.sign_up("ann@example.com").await;
    for (path, method) in [
        (format!("/api/users/{}/chats", user.id), "POST"),
        (format!("/api/users/{}/chats/1", user.id), "PATCH"),
        ("/api/v1/chats".to_owned(), "POST"),
        ("/api/auth/login".to_owned(), "POST"),
    ] {
        let response = preflight(&app, &path, APP, method).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{path}");
        assert_eq!(header(&response, "access-control-allow-origin"), Some(APP));
        assert_eq!(
            header(&response, "access-control-allow-credentials"),
            Some("true")
        );
        let methods = header(&response, "access-control-allow-methods").unwrap_or_default();
        assert!(methods.contains(method), "{methods}");
        let headers = header(&response, "access-control-allow-headers").unwrap_or_default();
        assert!(headers.contains("content-type") && headers.contains("last-event-id"));
        assert_eq!(header(&response, "access-control-max-age"), Some("600"));
    }
    // Actual requests, successful or not, are readable by the listed origin with the
    // cookie, and say which headers it may read.
    let chats = format!("/api/users/{}/chats", user.id);
    for auth in [user.auth.clone(), Auth::None] {
        let response = auth
            .apply(app.client.get(app.url(&chats)))
            .header("origin", "http://localhost:5173")
            .send()
            .await
            .expect("sent");
        let expected = if matches!(auth, Auth::None) { 401 } else { 200 };
        assert_eq!(response.status().as_u16(), expected);
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            Some("http://localhost:5173")
        );
        assert_eq!(
            header(&response, "access-control-allow-credentials"),
            Some("true")
        );
        let exposed = header(&response, "access-control-expose-headers").unwrap_or_default();
        assert!(exposed.contains("retry-after"), "{exposed}");
        assert!(header(&response, "vary").is_some_and(|v| v.contains("origin")));
    }
    // A listed origin may sign up and write with the cookie.
    let response = app
        .client
        .post(app.url("/api/auth/sign-up"))
        .header("origin", APP)
        .json(&json!({"email": "bo@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .expect("sign-up sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(APP));
}

async fn other_origins_get_no_cors_headers(backend: Backend) {
    for (app, listed) in [
        (listed_app(backend).await, true),
        (TestApp::spawn(backend).await, false),
    ] {
        let user = app.sign_up("ann@example.com").await;
        let chats = format!("/api/users/{}/chats", user.id);
        for origin in [EVIL, "null", "https://app.example.evil.example", APP] {
            if origin == APP && listed {
                continue;
            }
            let response = preflight(&app, &chats, origin, "POST").await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
            assert!(header(&response, "access-control-allow-origin").is_none());
            let body: Value = response.json().await.expect("json");
            assert_eq!(body["statusCode"], 403, "{body}");
            let response = preflight(&app, "/api/v1/chats", origin, "POST").await;
            let status = response.status();
            let body: Value = response.json().await.expect("json");
            assert_tenant_error((status, body), StatusCode::FORBIDDEN, "forbidden_origin");

            // An OPTIONS without `Origin` is no preflight: an unknown method (405).
            let response = app
                .client
                .request(Method::OPTIONS, app.url(&chats))
                .header("access-control-request-method", "POST")
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);

            let response = user
                .auth
                .apply(app.client.get(app.url(&chats)))
                .header("origin", origin)
                .send()
                .await
                .expect("sent");
            // Served (a browser keeps the page from reading it), without CORS headers.
            assert_eq!(response.status(), StatusCode::OK);
            assert!(header(&response, "access-control-allow-origin").is_none());
            assert!(header(&response, "access-control-allow-credentials").is_none());
        }
    }
}

/// POSTs `body` to `path` as `auth` from `origin`; returns the status and the body.
async fn post_from(
    app: &TestApp,
    path: &str,
    auth: &Auth,
    origin: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    app.call(Method::POST, path, &auth.sent_from(origin), Some(body))
        .await
}

async fn cookie_writes_from_other_sites_are_refused(backend: Backend) {
    let app = listed_app(backend).await;
    let user = app.sign_up("ann@example.com").await;
    let own = format!("http://{}", app.address);
    let chats = format!("/api/users/{}/chats", user.id);
    let account = json!({"email": "ann@example.com", "password": "correct horse battery"});
    for origin in [EVIL, "null", "https://evil.example:8443"] {
        let (status, body) =
            post_from(&app, &chats, &user.auth, Some(origin), json!({"name": "x"})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{origin}: {body}");
        assert_eq!(body["statusCode"], 403);
        // A forged login or sign-up would sign the victim into the attacker's account.
        let (status, _) = post_from(
            &app,
            "/api/auth/login",
            &Auth::None,
            Some(origin),
            account.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "login from {origin}");
        let fresh = json!({"email": "new@example.com", "password": "correct horse battery"});
        let (status, _) =
            post_from(&app, "/api/auth/sign-up", &Auth::None, Some(origin), fresh).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "sign-up from {origin}");
    }
    let (_, listed) = app.get(&chats, &user.auth).await;
    assert_eq!(
        listed["chats"],
        json!([]),
        "no refused write created a chat"
    );
    // The server's own pages, a listed origin, and clients that send no Origin.
    for origin in [Some(own.as_str()), Some(APP), None] {
        let (status, body) =
            post_from(&app, &chats, &user.auth, origin, json!({"name": "ok"})).await;
        assert_eq!(status, StatusCode::OK, "{origin:?}: {body}");
        let (status, _) = post_from(
            &app,
            "/api/auth/login",
            &Auth::None,
            origin,
            account.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "login from {origin:?}");
    }
    // A key is never attached by a browser on its own: keys are not origin-bound.
    let key = default_tenant_key(&app).await;
    let (status, body) = post_from(
        &app,
        "/api/v1/chats",
        &key,
        Some(EVIL),
        json!({"name": "k"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn deleting_a_watched_chat_can_be_checked_first(backend: Backend) {
    use crate::tenant_support::{next_json, ws};
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&user, "watched").await;
    let path = format!("/api/users/{}/chats/{chat}", user.id);
    let checked = format!("{path}?check_connections=true");
    let mut socket = ws(&app, &format!("{path}/ws"), &user.auth).await;

    let (status, body) = app.delete(&checked, &user.auth).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["statusCode"], 409);
    let message = body["data"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("1 active connection"), "{message}");
    let (status, _) = app.get(&format!("{path}/messages"), &user.auth).await;
    assert_eq!(status, StatusCode::OK, "the chat is still there");

    // Without the flag: deleted, and the watcher is told.
    let (status, body) = app.delete(&path, &user.auth).await;
    assert_eq!((status, body), (StatusCode::OK, json!(true)));
    assert_eq!(next_json(&mut socket).await["type"], "chat.deleted");

    // An unwatched chat is deleted with the flag too.
    let other = app.create_chat(&user, "alone").await;
    let other_path = format!("/api/users/{}/chats/{other}", user.id);
    let (status, body) = app
        .delete(&format!("{other_path}?check_connections=true"), &user.auth)
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!(true)));
    let (status, _) = app
        .delete(&format!("{path}?check_connections=maybe"), &user.auth)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// The variable `--cors-origin` had before its rename is refused at start, not ignored:
/// a web app on that origin would otherwise meet 403s without a word why.
#[test]
fn the_renamed_origins_variable_is_refused_at_start() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "sqlite::memory:",
        ])
        .env("CONFAB_ALLOWED_ORIGINS", APP)
        .env("CONFAB_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("confab runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("CONFAB_CORS_ORIGINS"), "{stderr}");
}
