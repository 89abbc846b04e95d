//! Whose chats an export holds: the user API's only the caller's, the tenant API's
//! all of the tenant's or one user's; `since` keeps the chats changed at or after it.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{export_text, get_text, lines};
use crate::support::{user_error, Auth, Backend, TestApp};
use crate::tenant_support::{assert_tenant_error, create_v1_chat, default_tenant_key, new_tenant};

/// The chat names of an export, in its order.
fn names(text: &str) -> Vec<Value> {
    lines(text)
        .iter()
        .map(|l| l["chat"]["name"].clone())
        .collect()
}

/// A `GET` that must fail; its status and JSON body.
async fn refused(app: &TestApp, path: &str, auth: &Auth) -> (StatusCode, Value) {
    let (status, _, text) = get_text(app, path, auth).await;
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"));
    (status, body)
}

pub(super) async fn user_export_has_only_their_chats_and_since_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let ann = app.sign_up("ann@example.com").await;
    let ben = app.sign_up("ben@example.com").await;
    let older = app.create_chat(&ann, "Ann's older").await;
    app.post_message(&ann, older, "user", "first").await;
    app.create_chat(&ben, "Ben's").await;
    create_v1_chat(
        &app,
        &key,
        json!({"name": "Ann's via the tenant", "user_id": ann.id, "metadata": {"crm": "vip"}}),
    )
    .await;
    create_v1_chat(&app, &key, json!({"name": "Nobody's"})).await;
    let newer = app.create_chat(&ann, "Ann's newer").await;
    app.post_message(&ann, newer, "user", "second").await;

    // The user API: the caller's chats, whoever made them, in the order made.
    let own = format!("/api/users/{}/export", ann.id);
    let text = export_text(&app, &own, &ann.auth).await;
    assert_eq!(
        names(&text),
        ["Ann's older", "Ann's via the tenant", "Ann's newer"]
    );
    assert!(lines(&text).iter().all(|l| l["chat"]["user_id"] == ann.id));
    // The tenant's metadata is its back end's: never in the user's own export.
    assert!(lines(&text).iter().all(|l| l["chat"]["metadata"].is_null()));
    assert!(!text.contains("vip"), "{text}");
    let tenant_view = export_text(&app, &format!("/api/v1/export?user_id={}", ann.id), &key).await;
    assert!(
        tenant_view.contains(r#""metadata":{"crm":"vip"}"#),
        "{tenant_view}"
    );
    // `user_id` in the query does not widen it.
    let widened = format!("{own}?user_id={}", ben.id);
    assert_eq!(export_text(&app, &widened, &ann.auth).await, text);
    let bens = export_text(&app, &format!("/api/users/{}/export", ben.id), &ben.auth).await;
    assert_eq!(names(&bens), ["Ben's"]);

    // Someone else's, or nobody's: refused as the other user routes refuse.
    assert_eq!(
        refused(&app, &own, &ben.auth).await,
        (StatusCode::NOT_FOUND, user_error(404, "User not found"))
    );
    let (status, _) = refused(&app, &own, &Auth::None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = refused(&app, "/api/users/abc/export", &ann.auth).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // `since`: inclusive of the chat changed at that very microsecond.
    let ann_lines = lines(&text);
    let newest = ann_lines[2]["chat"]["updated_at"].as_str().expect("time");
    let since = export_text(&app, &format!("{own}?since={newest}"), &ann.auth).await;
    assert_eq!(names(&since), ["Ann's newer"]);
    assert_eq!(since, format!("{}\n", text.lines().nth(2).expect("line")));
    let future = export_text(
        &app,
        &format!("{own}?since=2999-01-01T00:00:00Z"),
        &ann.auth,
    )
    .await;
    assert_eq!(future, "");
    let past = export_text(
        &app,
        &format!("{own}?since=2000-01-01T00:00:00Z"),
        &ann.auth,
    )
    .await;
    assert_eq!(past, text);
    for bad in ["yesterday", "2024-13-01T00:00:00Z", ""] {
        let (status, body) = refused(&app, &format!("{own}?since={bad}"), &ann.auth).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["statusCode"], 400, "{body}");
    }

    // The tenant API: every chat, or one user's.
    let all = export_text(&app, "/api/v1/export", &key).await;
    assert_eq!(
        names(&all),
        [
            "Ann's older",
            "Ben's",
            "Ann's via the tenant",
            "Nobody's",
            "Ann's newer"
        ]
    );
    let anns = export_text(&app, &format!("/api/v1/export?user_id={}", ann.id), &key).await;
    // The same lines, but for the metadata only the tenant sees.
    assert_eq!(
        anns.replace(r#""metadata":{"crm":"vip"}"#, r#""metadata":null"#),
        text
    );
    let since = format!("/api/v1/export?user_id={}&since={newest}", ann.id);
    assert_eq!(
        names(&export_text(&app, &since, &key).await),
        ["Ann's newer"]
    );

    // A user of another tenant is no user of this one.
    let (_, other_key) = new_tenant(&app, "other").await;
    let (status, body) = refused(
        &app,
        &format!("/api/v1/export?user_id={}", ann.id),
        &other_key,
    )
    .await;
    assert_tenant_error((status, body), StatusCode::NOT_FOUND, "user_not_found");
    assert_eq!(export_text(&app, "/api/v1/export", &other_key).await, "");
    for bad in ["abc", "0", "-1", "1.5", ""] {
        let answer = refused(&app, &format!("/api/v1/export?user_id={bad}"), &key).await;
        assert_tenant_error(answer, StatusCode::BAD_REQUEST, "invalid_user_id");
    }
    let answer = refused(&app, "/api/v1/export?since=soon", &key).await;
    assert_tenant_error(answer, StatusCode::BAD_REQUEST, "invalid_since");
    let answer = refused(&app, "/api/v1/export", &Auth::None).await;
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED, "{}", answer.1);
}
