//! Cross-site request forgery with the session cookie: WebSocket upgrades and logout
//! from another site's page are refused; the server's own pages, `--cors-origin`,
//! API keys and clients that send no `Origin` (curl) are not.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{user_error, Auth, Backend, TestApp};
use crate::tenant_support::*;

crate::per_backend!(
    cookie_upgrades_from_foreign_origins_are_refused,
    logout_cannot_be_forged_cross_site,
);

const EVIL: &str = "https://evil.example";
const APP: &str = "https://app.example";

/// Upgrades `path` with `auth` and, if given, an `Origin` header.
async fn upgrade(
    app: &TestApp,
    path: &str,
    auth: &Auth,
    origin: Option<&str>,
) -> Result<Ws, (u16, Value)> {
    try_ws(app, path, &auth.sent_from(origin)).await
}

async fn cookie_upgrades_from_foreign_origins_are_refused(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.cors_origins = vec![APP.to_owned()];
    })
    .await;
    let (key, user, chat_id, uuid) = user_with_chat(&app, "ann@example.com").await;
    let user_route = format!("/api/users/{}/chats/{chat_id}/ws", user.id);
    let tenant_route = format!("/api/v1/chats/{uuid}/ws");
    let own = format!("http://{}", app.address);

    for route in [&user_route, &tenant_route] {
        for foreign in [
            EVIL,
            "null",
            "http://127.0.0.1",
            "https://evil.example:443",
            &own.replace("http:", "https:"),
        ] {
            let (status, body) = upgrade(&app, route, &user.auth, Some(foreign))
                .await
                .err()
                .unwrap_or_else(|| panic!("{route} upgraded from {foreign}"));
            assert_eq!(status, 403, "{route} from {foreign}: {body}");
            if route == &tenant_route {
                assert_tenant_error(
                    (StatusCode::FORBIDDEN, body),
                    StatusCode::FORBIDDEN,
                    "forbidden_origin",
                );
            } else {
                assert_eq!(body["statusCode"], 403, "{body}");
                assert_eq!(body["statusMessage"], "Forbidden", "{body}");
            }
        }
        // The server's own pages, an allowed origin, and clients without `Origin`.
        for origin in [
            Some(own.as_str()),
            Some(APP),
            Some("HTTPS://APP.EXAMPLE"),
            None,
        ] {
            let socket = upgrade(&app, route, &user.auth, origin)
                .await
                .unwrap_or_else(|(status, body)| {
                    panic!("{route} from {origin:?}: {status} {body}")
                });
            close_ws(socket).await;
        }
    }
    // A browser cannot send `X-API-Key` for another site: keys are not origin-bound.
    let socket = upgrade(&app, &tenant_route, &key, Some(EVIL))
        .await
        .unwrap_or_else(|(status, body)| panic!("key upgrade refused: {status} {body}"));
    close_ws(socket).await;
    assert_eq!(active_connections(&app, &key, &uuid).await, 0);
}

/// Sends a logout with the given extra headers and body; returns the status and JSON.
async fn logout(
    app: &TestApp,
    auth: &Auth,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = auth.apply(app.client.post(app.url("/api/auth/logout")));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    let response = request.send().await.expect("logout sent");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Extra request headers, by name.
type Headers<'a> = Vec<(&'a str, &'a str)>;

/// Whether the session still signs requests in.
async fn signed_in(app: &TestApp, auth: &Auth) -> bool {
    let request = auth.apply(app.client.head(app.url("/api/auth/check")));
    request.send().await.expect("check sent").status() == StatusCode::OK
}

async fn logout_cannot_be_forged_cross_site(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.cors_origins = vec![APP.to_owned()];
    })
    .await;
    let user = app.sign_up("bo@example.com").await;
    let own = format!("http://{}", app.address);

    let forged: Vec<(Headers<'_>, Option<&str>, u16)> = vec![
        // fetch() from another site, with or without a body.
        (vec![("origin", EVIL)], None, 403),
        (
            vec![("origin", EVIL), ("content-type", "text/plain")],
            Some("x"),
            403,
        ),
        (
            vec![("origin", EVIL), ("content-type", "application/json")],
            Some("{}"),
            403,
        ),
        (vec![("origin", "null")], None, 403),
        // A plain HTML form, even from a browser that sends no `Origin`.
        (
            vec![("content-type", "application/x-www-form-urlencoded")],
            Some(""),
            415,
        ),
        (
            vec![("content-type", "multipart/form-data; boundary=x")],
            Some("--x--"),
            415,
        ),
        (vec![("content-type", "text/plain")], Some("x"), 415),
        (
            vec![
                ("origin", &own),
                ("content-type", "text/plain;charset=UTF-8"),
            ],
            Some("x"),
            415,
        ),
    ];
    for (headers, body, status) in forged {
        let (got, answer) = logout(&app, &user.auth, &headers, body).await;
        assert_eq!(got.as_u16(), status, "{headers:?}: {answer}");
        let message = answer["data"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(answer, user_error(status, &message), "{headers:?}");
        assert!(
            signed_in(&app, &user.auth).await,
            "{headers:?} logged the user out"
        );
    }

    // The server's own page, with JSON or no body.
    let (status, body) = logout(
        &app,
        &user.auth,
        &[("origin", &own), ("content-type", "application/json")],
        Some("{}"),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!(true)));
    assert!(!signed_in(&app, &user.auth).await);
    // An allowed origin.
    let second = app.sign_up("cy@example.com").await;
    let (status, body) = logout(&app, &second.auth, &[("origin", APP)], None).await;
    assert_eq!((status, body), (StatusCode::OK, json!(true)));
    assert!(!signed_in(&app, &second.auth).await);
    // curl -X POST with the cookie: no Origin, no body.
    let third = app.sign_up("di@example.com").await;
    let (status, body) = logout(&app, &third.auth, &[], None).await;
    assert_eq!((status, body), (StatusCode::OK, json!(true)));
    assert!(!signed_in(&app, &third.auth).await);
}
