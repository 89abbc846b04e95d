//! Running one cell of the matrix and judging its answer.

use reqwest::Method;
use serde_json::{json, Value};

use super::routes::{Creds, Route, Shape};
use super::{bobs_chat, trash_chat, Cast, Chat, OWNER};
use crate::support::{Auth, TestApp};
use crate::tenant_support::{try_ws, PATIENCE};

/// What a cell's placeholders name: the user id in `{u}`, the chat, and the fresh user
/// in `{x}`.
pub(super) struct Target<'a> {
    pub(super) user: i64,
    pub(super) chat: &'a Chat,
    pub(super) fresh_user: i64,
}

fn fill(text: &str, target: &Target, n: usize) -> String {
    let (user, chat) = (target.user, target.chat);
    text.replace("{u}", &user.to_string())
        .replace("{s}", &chat.share)
        .replace("{x}", &target.fresh_user.to_string())
        .replace("\"{c}\"", &chat.id.to_string())
        .replace("{c}", &chat.id.to_string())
        .replace("{uuid}", &chat.uuid)
        .replace("\"{m}\"", &chat.message.to_string())
        .replace("{m}", &chat.message.to_string())
        .replace("{n}", &n.to_string())
}

/// Runs one cell; returns the status and the body.
pub(super) async fn run_cell(
    app: &TestApp,
    route: &Route,
    auth: &Auth,
    target: &Target<'_>,
    n: usize,
) -> (u16, Value) {
    let path = fill(route.path, target, n);
    if route.websocket {
        return match try_ws(app, &path, auth).await {
            Ok(socket) => {
                drop(socket);
                (101, Value::Null)
            }
            Err(refused) => refused,
        };
    }
    let body = route
        .body
        .as_ref()
        .map(|body| serde_json::from_str(&fill(&body.to_string(), target, n)).expect("body json"));
    if route.event_stream {
        // A stream's events are not JSON: its status and content type say it was served.
        let mut request = auth.apply(app.client.request(route.method.clone(), app.url(&path)));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let streamed = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let text = response.text().await.unwrap_or_default();
        if status == 200 {
            assert!(streamed, "{path}: 200 without an event stream");
            return (status, Value::Null);
        }
        return (status, serde_json::from_str(&text).unwrap_or(Value::Null));
    }
    if route.text {
        // An export's lines (or a page) are not one JSON value: a 200 is kept as text.
        let response = auth
            .apply(app.client.request(route.method.clone(), app.url(&path)))
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body read");
        if status == 200 {
            return (status, Value::String(text));
        }
        return (status, serde_json::from_str(&text).unwrap_or(Value::Null));
    }
    let (status, body) = app.call(route.method.clone(), &path, auth, body).await;
    (status.as_u16(), body)
}

/// A user of Bob's tenant made for a route that names one in `{x}` (it may erase them).
pub(super) async fn fresh_user(app: &TestApp, route: &Route, n: usize) -> Option<i64> {
    if !route.path.contains("{x}") {
        return None;
    }
    Some(app.sign_up(&format!("x{n}@example.com")).await.id)
}

/// How many hits a search answer holds (either API's list key).
pub(super) fn search_hits(route: &Route, body: &Value) -> usize {
    let list = match route.shape {
        Shape::User => &body["results"],
        Shape::Tenant => &body["data"],
    };
    list.as_array()
        .unwrap_or_else(|| panic!("{} answers a list of hits: {body}", route.path))
        .len()
}

/// Compares one cell; errors must be in the route's API shape.
pub(super) fn check_cell(
    route: &Route,
    caller: &str,
    expected: u16,
    status: u16,
    body: &Value,
    failures: &mut Vec<String>,
) {
    let label = format!("{} {} as {caller}", route.method, route.path);
    if status != expected {
        failures.push(format!("{label}: expected {expected}, got {status} {body}"));
        return;
    }
    if status >= 400 && !body.is_null() {
        let shaped = match route.shape {
            Shape::User => body["statusCode"] == json!(status),
            Shape::Tenant => body["success"] == json!(false) && body["error"]["code"].is_string(),
        };
        if !shaped {
            failures.push(format!(
                "{label}: {status} body not in the API's shape: {body}"
            ));
        }
    }
}

/// Runs `route` as `auth` on a fresh chat of Bob's (trashed first for routes of the
/// trash), or on `victim` for routes that name no chat.
pub(super) async fn on_fresh_chat(
    app: &TestApp,
    cast: &Cast,
    victim: &Chat,
    route: &Route,
    auth: &Auth,
    n: usize,
) -> (u16, Value) {
    // (The last routes, after Bob erased himself, name no chat.)
    let names_chat = ["{c}", "{uuid}", "{m}", "{s}"]
        .iter()
        .any(|p| route.path.contains(p));
    let chat = if names_chat {
        bobs_chat(app, &cast.bob, "fresh").await
    } else {
        victim.clone()
    };
    if route.trashed {
        trash_chat(app, &cast.bob, &chat).await;
    }
    let target = Target {
        user: cast.bob.id,
        chat: &chat,
        fresh_user: fresh_user(app, route, n).await.unwrap_or(0),
    };
    tokio::time::timeout(PATIENCE, run_cell(app, route, auth, &target, n))
        .await
        .expect("cell answered")
}

/// The foreign-origin column: 403 for a cookie-authenticated write or upgrade (and for
/// sign-up, login and logout, which are cookie routes that write); otherwise what the
/// owner gets.
pub(super) fn cross_site_expect(route: &Route) -> u16 {
    let write = !matches!(route.method, Method::GET | Method::HEAD);
    if route.creds == Creds::Cookie && (write || route.websocket) {
        403
    } else {
        route.expect[OWNER]
    }
}
