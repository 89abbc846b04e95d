//! A proxy's word on the client's scheme (`X-Forwarded-Proto`, `Forwarded: proto=`)
//! marks the session cookie `Secure` only with `--trust-forwarded-for`.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Backend, TestApp};

crate::per_backend!(forwarded_proto_counts_only_when_the_proxy_is_trusted);

/// Whether the sign-up's session cookie carries `Secure`, with the given header.
async fn secure_cookie(app: &TestApp, email: &str, header: (&str, &str)) -> bool {
    let response = app
        .client
        .post(app.url("/api/auth/sign-up"))
        .header(header.0, header.1)
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_owned();
    cookie
        .split(';')
        .any(|attribute| attribute.trim() == "Secure")
}

async fn forwarded_proto_counts_only_when_the_proxy_is_trusted(backend: Backend) {
    let headers = [
        ("x-forwarded-proto", "https"),
        ("forwarded", "for=192.0.2.7;proto=https"),
    ];
    for trusted in [false, true] {
        let app = TestApp::spawn_with(backend, |config| {
            config.abuse.trust_forwarded_for = trusted;
        })
        .await;
        for (i, header) in headers.into_iter().enumerate() {
            let email = format!("user{i}@example.com");
            assert_eq!(
                secure_cookie(&app, &email, header).await,
                trusted,
                "{header:?} (trusted: {trusted})"
            );
        }
        // A trusted proxy saying http leaves it off.
        assert!(!secure_cookie(&app, "plain@example.com", ("forwarded", "proto=http")).await);
    }
}
