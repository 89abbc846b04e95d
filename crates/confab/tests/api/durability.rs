//! Acknowledged writes survive `kill -9` of the server.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

use crate::support::process::{start_node, start_node_with};
use crate::support::session_cookie;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("crash.db").display());
    let client = reqwest::Client::new();

    // Load, not abuse: the per-user write rate would stop the writers early.
    let mut server = start_node_with("crash", &url, &["--user-write-rate-per-second", "0"]).await;
    let response = client
        .post(server.url("/api/auth/sign-up"))
        .json(&json!({"email": "k@example.com", "password": "kill nine times"}))
        .send()
        .await
        .expect("sign-up");
    let cookie = format!(
        "neptun-session={}",
        session_cookie(&response).expect("cookie")
    );
    let user: Value = response.json().await.expect("json");
    let user_id = user["user"]["id"].as_i64().expect("id");
    let chat: Value = client
        .post(server.url(&format!("/api/users/{user_id}/chats")))
        .header("cookie", &cookie)
        .json(&json!({"name": "durable"}))
        .send()
        .await
        .expect("chat")
        .json()
        .await
        .expect("json");
    let chat_id = chat["chat"]["id"].as_i64().expect("chat id");

    // Many concurrent writers; the server dies while some are in flight.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let (client, cookie, acknowledged) = (client.clone(), cookie.clone(), acknowledged.clone());
        let url = server.url(&format!("/api/users/{user_id}/chats/{chat_id}/messages"));
        writers.spawn(async move {
            for i in 0.. {
                let sent = client
                    .post(&url)
                    .header("cookie", &cookie)
                    .json(&json!({"message": format!("w{w} m{i}"), "actor": "user"}))
                    .send()
                    .await;
                let Ok(response) = sent else { break };
                if response.status() != StatusCode::OK {
                    break;
                }
                let Ok(body) = response.json::<Value>().await else {
                    break;
                };
                if let Some(id) = body["chatMessage"]["id"].as_i64() {
                    acknowledged.lock().expect("lock").insert(id);
                }
            }
        });
    }
    // Let some writes land, then kill without warning.
    while acknowledged.lock().expect("lock").len() < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill9();
    while writers.join_next().await.is_some() {}
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() >= 200);

    let server = start_node("crash", &url).await;
    let listed: Value = client
        .get(server.url(&format!("/api/users/{user_id}/chats/{chat_id}/messages")))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let stored: BTreeSet<i64> = listed["chatMessages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["id"].as_i64())
        .collect();
    let lost: Vec<&i64> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost after kill -9: {lost:?}",
        lost.len()
    );
}
