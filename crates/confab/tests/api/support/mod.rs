//! The test harness: a real confab server on a random port, against a real database,
//! driven over real HTTP.

#![allow(dead_code)] // each test module uses a different part of the harness

pub mod database;
pub use ::llm_double;
pub mod old_release;
pub mod process;
pub mod tree;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

use confab::config::Config;
use confab::http::AppState;
use confab::store::Store;
pub use database::TestDatabase;

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// Needs a PostgreSQL server (see [`database`]).
    Postgres,
}

/// A running server with its own fresh database; stopped and removed on drop.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub state: AppState,
    pub database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// Declared last: dropped after the server state that connects to it.
    database: TestDatabase,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with a config adjusted by `tweak` (limits, cookie flags...).
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on(TestDatabase::create(backend).await, tweak).await
    }

    /// Spawns on a database the test prepared (e.g. an older schema with rows in it);
    /// the server migrates it at start.
    pub async fn spawn_on(database: TestDatabase, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let database_url = database.url.clone();
        let mut config = Config::with_database(database_url.clone());
        tweak(&mut config);
        let state = confab::app::state(config).await.expect("server state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(confab::app::serve_state(listener, state.clone(), async {
            let _ = stop.await;
        }));
        TestApp {
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            state,
            database_url,
            shutdown: Some(shutdown),
            server: Some(server),
            database,
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.state.store.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Sends a request; returns the status and the body parsed as JSON (Null if empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        request = auth.apply(request);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.expect("body read");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{status} body is not JSON: {text}"))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> (StatusCode, Value) {
        self.call(Method::GET, path, auth, None).await
    }

    pub async fn post(&self, path: &str, auth: &Auth, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, auth, Some(body)).await
    }

    pub async fn delete(&self, path: &str, auth: &Auth) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, auth, None).await
    }

    /// Signs up a fresh user; returns its id and session cookie.
    pub async fn sign_up(&self, email: &str) -> TestUser {
        let response = self
            .client
            .post(self.url("/api/auth/sign-up"))
            .json(&serde_json::json!({"email": email, "password": "correct horse battery"}))
            .send()
            .await
            .expect("sign-up sent");
        assert_eq!(response.status(), StatusCode::CREATED, "sign-up of {email}");
        let cookie = session_cookie(&response).expect("sign-up sets the session cookie");
        let body: Value = response.json().await.expect("sign-up body");
        TestUser {
            id: body["user"]["id"].as_i64().expect("user id"),
            email: email.to_owned(),
            auth: Auth::Cookie(cookie),
        }
    }

    /// Creates a chat for the user; returns its id.
    pub async fn create_chat(&self, user: &TestUser, name: &str) -> i64 {
        let (status, body) = self
            .post(
                &format!("/api/users/{}/chats", user.id),
                &user.auth,
                serde_json::json!({"name": name, "model": "test-model"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["chat"]["id"].as_i64().expect("chat id")
    }

    /// Posts one message; returns its id.
    pub async fn post_message(&self, user: &TestUser, chat: i64, actor: &str, text: &str) -> i64 {
        let (status, body) = self
            .post(
                &format!("/api/users/{}/chats/{chat}/messages", user.id),
                &user.auth,
                serde_json::json!({"message": text, "actor": actor}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["chatMessage"]["id"].as_i64().expect("message id")
    }

    /// The chat's message ids in the order the API lists them.
    pub async fn message_ids(&self, user: &TestUser, chat: i64) -> Vec<i64> {
        let (status, body) = self
            .get(
                &format!("/api/users/{}/chats/{chat}/messages", user.id),
                &user.auth,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["chatMessages"]
            .as_array()
            .expect("chatMessages")
            .iter()
            .map(|m| m["id"].as_i64().expect("id"))
            .collect()
    }

    /// Stops the server gracefully and hands back its database (for a restart on it).
    pub async fn stop_keeping_database(mut self) -> TestDatabase {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
        let empty = TestDatabase::placeholder();
        std::mem::replace(&mut self.database, empty)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    /// A `Cookie: neptun-session=...` value.
    Cookie(String),
    /// An `X-API-Key` value.
    Key(String),
    /// A credential sent from a page of another site: with this `Origin` header.
    FromOrigin(Box<Auth>, String),
}

impl Auth {
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        self.headers()
            .into_iter()
            .fold(request, |request, (name, value)| {
                request.header(name, value)
            })
    }

    /// This credential sent from a page of `origin`, if one is given.
    pub fn sent_from(&self, origin: Option<&str>) -> Auth {
        match origin {
            Some(origin) => Auth::FromOrigin(Box::new(self.clone()), origin.to_owned()),
            None => self.clone(),
        }
    }

    /// The headers that carry the credential.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Auth::None => Vec::new(),
            Auth::Cookie(token) => vec![("cookie", format!("neptun-session={token}"))],
            Auth::Key(key) => vec![("x-api-key", key.clone())],
            Auth::FromOrigin(auth, origin) => {
                let mut headers = auth.headers();
                headers.push(("origin", origin.clone()));
                headers
            }
        }
    }
}

/// Sends a JSON POST; returns the status, `Retry-After` and the body.
pub async fn post_answer(
    app: &TestApp,
    path: &str,
    auth: &Auth,
    body: Value,
) -> (StatusCode, Option<String>, Value) {
    let response = auth
        .apply(app.client.post(app.url(path)).json(&body))
        .send()
        .await
        .expect("sent");
    let status = response.status();
    let retry_after = retry_after(&response);
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

/// A response's `Retry-After`, as sent.
pub fn retry_after(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub struct TestUser {
    pub id: i64,
    pub email: String,
    pub auth: Auth,
}

/// The session token a response's `Set-Cookie` carries.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("neptun-session="))
        .and_then(|rest| rest.split(';').next())
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
}

/// The error body of the user API.
pub fn user_error(status: u16, message: &str) -> Value {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    serde_json::json!({"statusCode": status, "statusMessage": reason, "data": {"message": message}})
}

/// Runs each listed test function once per database backend: `sqlite::NAME` always,
/// `postgres::NAME` on the server [`database::postgres_url`] finds (it fails when there
/// is none, unless `CONFAB_TEST_SKIP_POSTGRES=1` skips the half on purpose).
#[macro_export]
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::support::database::postgres_url(stringify!($name)).is_none() {
                        return;
                    }
                    super::$name($crate::support::Backend::Postgres).await
                }
            )*
        }
    };
}
