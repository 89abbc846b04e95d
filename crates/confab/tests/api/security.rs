//! Secrets at rest and the session cookie's attributes.
//!
//! The raw database (every byte of the SQLite files, write-ahead log included; every
//! text and binary column of PostgreSQL's `users`, `sessions` and `api_keys`) must hold
//! no password, session token or API key in clear, only their hashes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::{Connection as _, PgConnection, Row as _};

use crate::support::{session_cookie, Auth, Backend, TestApp};
use crate::tenant_support::{default_tenant_key, new_tenant};

crate::per_backend!(no_secret_is_stored_in_clear, session_cookie_attributes);

/// The password `TestApp::sign_up` uses, and one more set at login time.
const SIGN_UP_PASSWORD: &str = "correct horse battery";
const OTHER_PASSWORD: &str = "Tr0ub4dor&3 is not it";

/// Every byte of the SQLite database: the main file, the write-ahead log and its index.
fn sqlite_bytes(database_url: &str) -> Vec<(String, Vec<u8>)> {
    let path = database_url
        .strip_prefix("sqlite://")
        .expect("a sqlite:// URL");
    ["", "-wal", "-shm", "-journal"]
        .iter()
        .filter_map(|suffix| {
            let file = format!("{path}{suffix}");
            std::fs::read(&file).ok().map(|bytes| (file, bytes))
        })
        .collect()
}

/// Every text and binary value of PostgreSQL's `users`, `sessions` and `api_keys`, as
/// bytes, labelled `table.column`.
async fn postgres_values(database_url: &str) -> Vec<(String, Vec<u8>)> {
    let mut connection = PgConnection::connect(database_url)
        .await
        .expect("connect to the test database");
    let columns = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text
           FROM information_schema.columns
          WHERE table_schema = current_schema()
            AND table_name IN ('users', 'sessions', 'api_keys')
          ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut connection)
    .await
    .expect("columns");
    let mut values = Vec::new();
    let mut text_columns = 0;
    for row in columns {
        let (table, column, kind): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let select = match kind.as_str() {
            "bytea" => format!("SELECT \"{column}\" FROM \"{table}\""),
            "text" | "character varying" | "character" | "json" | "jsonb" => {
                format!("SELECT convert_to(\"{column}\"::text, 'UTF8') FROM \"{table}\"")
            }
            _ => continue,
        };
        text_columns += 1;
        let rows: Vec<Option<Vec<u8>>> = sqlx::query_scalar(&select)
            .fetch_all(&mut connection)
            .await
            .unwrap_or_else(|e| panic!("{select}: {e}"));
        for value in rows.into_iter().flatten() {
            values.push((format!("{table}.{column}"), value));
        }
    }
    assert!(
        text_columns >= 8,
        "found the tables' text and binary columns"
    );
    let _ = connection.close().await;
    values
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

async fn no_secret_is_stored_in_clear(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ann = app.sign_up("ann@example.com").await;
    let Auth::Cookie(sign_up_token) = ann.auth.clone() else {
        unreachable!("sign_up returns a cookie")
    };
    // A second account, and a login that opens a second session.
    app.sign_up("bob@example.com").await;
    let (status, _) = app
        .post(
            "/api/auth/sign-up",
            &Auth::None,
            json!({"email": "carl@example.com", "password": OTHER_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "carl@example.com", "password": OTHER_PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::OK);
    let login_token = session_cookie(&response).expect("cookie");
    // API keys: one per tenant, each used once (which records `last_used_at`).
    let (_, tenant_key) = new_tenant(&app, "acme").await;
    let default_key = default_tenant_key(&app).await;
    let mut keys = Vec::new();
    for key in [tenant_key, default_key] {
        let (status, _) = app.get("/api/v1/chats", &key).await;
        assert_eq!(status, StatusCode::OK);
        let Auth::Key(key) = key else {
            unreachable!("keys are keys")
        };
        keys.push(key);
    }

    // Each secret in every form it could be stored in by mistake: as sent, and the
    // random bytes under the encoding.
    let mut secrets: Vec<(String, Vec<u8>)> = vec![
        ("sign-up password".into(), SIGN_UP_PASSWORD.into()),
        ("other password".into(), OTHER_PASSWORD.into()),
    ];
    for (label, token) in [
        ("sign-up session", &sign_up_token),
        ("login session", &login_token),
    ] {
        secrets.push((label.into(), token.as_bytes().to_vec()));
        secrets.push((
            format!("{label} (decoded)"),
            URL_SAFE_NO_PAD.decode(token).expect("base64url token"),
        ));
    }
    for key in &keys {
        // The prefix is hex; the secret is base64url and may itself contain `_`.
        let (_, secret) = key
            .strip_prefix("cfb_")
            .and_then(|rest| rest.split_once('_'))
            .expect("cfb_<prefix>_<secret>");
        secrets.push(("API key".into(), key.as_bytes().to_vec()));
        secrets.push(("API key secret".into(), secret.as_bytes().to_vec()));
        secrets.push((
            "API key secret (decoded)".into(),
            URL_SAFE_NO_PAD.decode(secret).expect("base64url secret"),
        ));
    }

    let stored = match backend {
        Backend::Sqlite => sqlite_bytes(&app.database_url),
        Backend::Postgres => postgres_values(&app.database_url).await,
    };
    // The reading works: the email addresses and the password hashes are there.
    let everything: Vec<u8> = stored.iter().flat_map(|(_, bytes)| bytes.clone()).collect();
    assert!(
        contains(&everything, b"carl@example.com"),
        "the users are in what was read"
    );
    assert!(
        contains(&everything, b"$argon2id$v=19$m=19456,t=2,p=1$"),
        "passwords are argon2id hashes with m=19 MiB, t=2, p=1"
    );
    for (label, secret) in &secrets {
        for (place, bytes) in &stored {
            assert!(
                !contains(bytes, secret),
                "{label} is stored in clear in {place}"
            );
        }
    }
    // Sessions and keys are stored as SHA-256: the hashes are there instead.
    let session_hash = confab::auth::session::hash_token(&login_token);
    let key_hash = confab::auth::api_key::hash_key(&keys[0]);
    assert!(
        contains(&everything, &session_hash),
        "the session's hash is stored"
    );
    assert!(contains(&everything, &key_hash), "the key's hash is stored");
}

/// A `Set-Cookie` value's attributes, lowercased names, in order.
fn attributes(set_cookie: &str) -> (String, Vec<String>) {
    let mut parts = set_cookie.split(';').map(str::trim);
    let pair = parts.next().unwrap_or_default().to_owned();
    (pair, parts.map(str::to_owned).collect())
}

fn set_cookie(response: &reqwest::Response) -> String {
    let values: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    assert_eq!(values.len(), 1, "exactly one cookie is set");
    values[0].to_str().expect("ascii").to_owned()
}

async fn session_cookie_attributes(backend: Backend) {
    for secure in [false, true] {
        let app = TestApp::spawn_with(backend, |config| {
            config.cookie_secure = secure;
            config.session_ttl_hours = 2;
        })
        .await;
        let mut expected = vec![
            "Path=/".to_owned(),
            "Max-Age=7200".to_owned(),
            "HttpOnly".to_owned(),
            "SameSite=Lax".to_owned(),
        ];
        if secure {
            expected.push("Secure".to_owned());
        }
        let credentials = json!({"email": "ann@example.com", "password": SIGN_UP_PASSWORD});
        for (path, status) in [
            ("/api/auth/sign-up", StatusCode::CREATED),
            ("/api/auth/login", StatusCode::OK),
        ] {
            let response = app
                .client
                .post(app.url(path))
                .json(&credentials)
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), status);
            let (pair, attributes) = attributes(&set_cookie(&response));
            let token = pair
                .strip_prefix("neptun-session=")
                .unwrap_or_else(|| panic!("{pair}"));
            assert_eq!(token.len(), 43, "256 random bits, base64url");
            assert_eq!(attributes, expected, "{path} (secure: {secure})");
        }
        // Logout clears it with the same attributes and no lifetime left.
        let token = {
            let response = app
                .client
                .post(app.url("/api/auth/login"))
                .json(&credentials)
                .send()
                .await
                .expect("sent");
            session_cookie(&response).expect("cookie")
        };
        let response = app
            .client
            .request(Method::POST, app.url("/api/auth/logout"))
            .header("cookie", format!("neptun-session={token}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
        let (pair, attributes) = attributes(&set_cookie(&response));
        assert_eq!(pair, "neptun-session=");
        let mut cleared = expected.clone();
        cleared[1] = "Max-Age=0".to_owned();
        assert_eq!(attributes, cleared, "logout (secure: {secure})");
    }
}
