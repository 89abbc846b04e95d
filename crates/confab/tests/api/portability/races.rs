//! Imports at the same time: the same file twice into one tenant stores each
//! conversation once; one export into two tenants at once gives each every chat (only
//! one keeps the uuids); a node runs two imports at once and refuses a third (503).

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::{export_text, import, import_ok, report, tenant_chats, CHATGPT};
use crate::support::{retry_after, Auth, Backend, TestApp};
use crate::tenant_support::{
    assert_tenant_error, create_v1_chat, eventually, new_tenant, post_v1_message,
};

/// An import whose body sends nothing until `release` fires, then `[]`.
fn stalled_import(
    app: &TestApp,
    key: &Auth,
    release: oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<(StatusCode, Option<String>, Value)> {
    // A client of its own: a pooled connection the server has let go of could not be
    // retried with a body that is a stream.
    let client = reqwest::Client::new();
    let request = key
        .apply(client.post(app.url("/api/v1/import?format=chatgpt")))
        .header("content-type", "application/json");
    let body = futures_util::stream::unfold(Some(release), |state| async move {
        let release = state?;
        let _ = release.await;
        Some((Ok::<_, std::io::Error>(Bytes::from_static(b"[]")), None))
    });
    let request = request.body(reqwest::Body::wrap_stream(body));
    tokio::spawn(async move {
        let response = request.send().await.expect("import sent");
        let status = response.status();
        (
            status,
            retry_after(&response),
            response.json().await.expect("import answer"),
        )
    })
}

pub(super) async fn concurrent_imports_store_each_conversation_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = new_tenant(&app, "racing").await;
    let (first, second) = tokio::join!(
        import(
            &app,
            &key,
            "format=chatgpt",
            "application/json",
            CHATGPT.into()
        ),
        import(
            &app,
            &key,
            "format=chatgpt",
            "application/json",
            CHATGPT.into()
        ),
    );
    assert_eq!((first.0, second.0), (StatusCode::OK, StatusCode::OK));
    let sum = |field: &str| {
        [&first.1, &second.1]
            .iter()
            .map(|r| r[field].as_u64().expect("a count"))
            .sum::<u64>()
    };
    assert_eq!(
        (
            sum("chats_imported"),
            sum("messages_imported"),
            sum("skipped_duplicates")
        ),
        (3, 15, 3),
        "{} {}",
        first.1,
        second.1
    );
    assert_eq!(first.1["errors"], second.1["errors"]);
    assert_eq!(tenant_chats(&app, &key).await.len(), 3);

    // Three imports held open: two take the node's slots, the last to come is told to
    // come back later at once; the two finish once their bodies do.
    let mut releases = Vec::new();
    let mut stalled = Vec::new();
    for _ in 0..3 {
        let (release, released) = oneshot::channel();
        releases.push(release);
        stalled.push(stalled_import(&app, &key, released));
    }
    eventually("one import is refused", || async {
        stalled.iter().any(|import| import.is_finished())
    })
    .await;
    let (refused, held): (Vec<_>, Vec<_>) =
        stalled.into_iter().partition(|import| import.is_finished());
    assert_eq!((refused.len(), held.len()), (1, 2));
    for refused in refused {
        let (status, retry_after, body) = refused.await.expect("import task");
        assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s > 0)));
        assert_tenant_error(
            (status, body),
            StatusCode::SERVICE_UNAVAILABLE,
            "import_busy",
        );
    }
    for release in releases {
        let _ = release.send(());
    }
    for import in held {
        let (status, _, body) = import.await.expect("import task");
        assert_eq!((status, body), (StatusCode::OK, report(0, 0, 0, &[])));
    }
    let answer = import(
        &app,
        &key,
        "format=chatgpt",
        "application/json",
        CHATGPT.into(),
    )
    .await;
    let errors = answer.1["errors"].clone();
    assert_eq!(
        answer,
        (
            StatusCode::OK,
            json!({"chats_imported": 0, "messages_imported": 0, "skipped_duplicates": 3, "errors": errors})
        )
    );
}

/// Two tenants of a server where the export's uuids are free import it at once: one
/// keeps each uuid, the other gets a new one; neither loses a chat to the other's
/// insert.
pub(super) async fn two_tenants_importing_one_export_at_once_each_get_all(backend: Backend) {
    const CHATS: u64 = 40;
    let source = TestApp::spawn(backend).await;
    let (_, source_key) = new_tenant(&source, "source").await;
    for n in 0..CHATS {
        let chat = create_v1_chat(&source, &source_key, json!({"name": format!("chat {n}")})).await;
        let uuid = chat["id"].as_str().expect("uuid");
        post_v1_message(&source, &source_key, uuid, "user", &format!("hello {n}")).await;
    }
    let exported = export_text(&source, "/api/v1/export", &source_key).await;
    source.stop().await;

    let app = TestApp::spawn(backend).await;
    let (_, a) = new_tenant(&app, "a").await;
    let (_, b) = new_tenant(&app, "b").await;
    let ndjson = "application/x-ndjson";
    let (first, second) = tokio::join!(
        import_ok(&app, &a, "format=confab", ndjson, exported.clone().into()),
        import_ok(&app, &b, "format=confab", ndjson, exported.clone().into()),
    );
    assert_eq!(
        (first, second),
        (report(CHATS, CHATS, 0, &[]), report(CHATS, CHATS, 0, &[]))
    );
    let uuids = |chats: Vec<Value>| -> std::collections::BTreeSet<String> {
        chats
            .iter()
            .map(|c| c["id"].as_str().expect("uuid").to_owned())
            .collect()
    };
    let (in_a, in_b) = (
        uuids(tenant_chats(&app, &a).await),
        uuids(tenant_chats(&app, &b).await),
    );
    assert_eq!((in_a.len(), in_b.len()), (CHATS as usize, CHATS as usize));
    assert!(in_a.is_disjoint(&in_b), "a uuid is in both tenants");
}
