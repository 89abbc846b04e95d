//! Replies across nodes (two `confab serve` processes on one PostgreSQL and one Redis):
//! a reply started on one node is followed, resumed and stopped on the other, and when
//! its node is killed (`kill -9`) the other marks it `interrupted`, text kept.

use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

use super::SseReader;
use crate::multi_node::{call, sign_up, start_nodes_on, two};
use crate::support::database::redis_url;
use crate::support::llm_double::LlmDouble;
use crate::support::process::Node;
use crate::support::Auth;
use crate::tenant_support::{next_json, ws_at};

/// Presence TTL of these tests: a killed node's replies are interrupted within about two.
const TTL_SECONDS: u64 = 2;

async fn nodes_with_double(
    test: &str,
) -> Option<(crate::support::TestDatabase, Node, Node, LlmDouble)> {
    let redis = redis_url(test)?;
    let double = LlmDouble::start().await;
    let args = vec![
        "--llm-base-url".to_owned(),
        double.base_url(),
        "--llm-timeout-seconds".to_owned(),
        "30".to_owned(),
    ];
    let (database, nodes) = start_nodes_on(test, 2, &redis, TTL_SECONDS, args).await?;
    let (a, b) = two(nodes);
    Some((database, a, b, double))
}

async fn start_on(node: &Node, auth: &Auth, chat_path: &str, model: &str) -> (SseReader, i64) {
    let response = auth
        .apply(node.client.post(node.url(&format!("{chat_path}/generate"))))
        .json(&json!({"message": {"content": "go"}, "model": model}))
        .send()
        .await
        .expect("sent");
    let mut sse = SseReader::new(response);
    sse.next().await.expect("user message");
    let reply = sse.next().await.expect("reply");
    (sse, reply.data["id"].as_i64().expect("reply id"))
}

async fn user_chat_on(node: &Node, email: &str) -> (Auth, String) {
    let (user_id, auth) = sign_up(node, email).await;
    let (status, chat) = call(
        node,
        Method::POST,
        &format!("/api/users/{user_id}/chats"),
        &auth,
        Some(json!({"name": "across", "model": "m"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{chat}");
    let chat_id = chat["chat"]["id"].as_i64().expect("chat id");
    (auth, format!("/api/users/{user_id}/chats/{chat_id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_is_followed_resumed_and_stopped_from_another_node() {
    let test = "a_reply_is_followed_resumed_and_stopped_from_another_node";
    let Some((_database, a, b, _double)) = nodes_with_double(test).await else {
        return;
    };
    let (auth, chat) = user_chat_on(&a, "across@example.com").await;
    let chat_id = chat.rsplit('/').next().expect("id").to_owned();
    let user_id = chat.split('/').nth(3).expect("user").to_owned();
    let mut socket_b = ws_at(b.address, &format!("{chat}/ws"), &auth).await;
    let (mut sse, reply) = start_on(&a, &auth, &chat, "count-400-25").await;
    // B's socket sees the deltas A produces.
    let mut delta_on_b = None;
    while delta_on_b.is_none() {
        let frame = next_json(&mut socket_b).await;
        if frame["type"] == json!("message.delta") {
            assert_eq!(frame["chat_id"].to_string(), chat_id);
            delta_on_b = Some(frame);
        }
    }
    // Resume on B from the start: the same deltas as A streams.
    let resume = auth
        .apply(
            b.client
                .get(b.url(&format!("{chat}/messages/{reply}/stream"))),
        )
        .header("last-event-id", "0")
        .send()
        .await
        .expect("sent");
    let mut on_b = SseReader::new(resume);
    let mut from_b = Vec::new();
    for _ in 0..5 {
        from_b.push(on_b.next().await.expect("delta on B"));
    }
    let mut from_a = Vec::new();
    for _ in 0..5 {
        from_a.push(sse.next().await.expect("delta on A"));
    }
    assert_eq!(from_a, from_b, "both nodes stream the same deltas");
    assert_eq!(from_b[0].data["seq"], json!(1));
    // Stop from B: A's task ends the reply, everyone sees it end.
    let (status, stopped) = call(
        &b,
        Method::POST,
        &format!("{chat}/messages/{reply}/stop"),
        &auth,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["chatMessage"]["status"], json!("stopped"));
    let text = stopped["chatMessage"]["message"]
        .as_str()
        .expect("text")
        .to_owned();
    let end_a = sse.until_end().await;
    assert_eq!(
        end_a.last().map(|e| e.data["status"].clone()),
        Some(json!("stopped"))
    );
    let end_b = on_b.until_end().await;
    let mut all_b = from_b.clone();
    all_b.extend(end_b);
    assert_eq!(
        super::joined_deltas(&all_b, 1),
        text,
        "B streamed exactly the stored text"
    );
    let _ = user_id;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_producer_leaves_its_reply_interrupted_with_its_text() {
    let test = "a_killed_producer_leaves_its_reply_interrupted_with_its_text";
    let Some((_database, mut a, b, _double)) = nodes_with_double(test).await else {
        return;
    };
    let (auth, chat) = user_chat_on(&a, "killed@example.com").await;
    let (mut sse, reply) = start_on(&a, &auth, &chat, "count-1000-20").await;
    for _ in 0..40 {
        sse.next().await.expect("delta");
    }
    // Let at least one flush land, then kill the producer without warning.
    tokio::time::sleep(Duration::from_millis(700)).await;
    a.kill9();
    let resume = auth
        .apply(
            b.client
                .get(b.url(&format!("{chat}/messages/{reply}/stream"))),
        )
        .header("last-event-id", "0")
        .send()
        .await
        .expect("sent");
    let mut on_b = SseReader::new(resume);
    let events = on_b.until_end().await;
    let end = events.last().expect("an end");
    assert_eq!(end.event, "message.failed", "{events:?}");
    assert_eq!(end.data["status"], json!("interrupted"));
    let (status, listed) = call(&b, Method::GET, &format!("{chat}/messages"), &auth, None).await;
    assert_eq!(status, StatusCode::OK);
    let stored = &listed["chatMessages"][1];
    assert_eq!(stored["status"], json!("interrupted"));
    let text = stored["message"].as_str().expect("text");
    assert!(
        text.starts_with("w1 w2 w3 "),
        "the persisted text is kept: {text}"
    );
    assert_eq!(
        super::joined_deltas(&events, 1),
        text,
        "the resumer got the persisted text"
    );
}
