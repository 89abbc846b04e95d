//! Scenario 8: a branched chat. 10,000 messages: an active path 500 deep and 1,000
//! branches of 9 or 10 messages forking off it (edits and regenerations, as a long-lived
//! chat collects them). Measures GET of the active path (whose cost must not grow with
//! the tree) and a branch switch back and forth between two leaves.

use anyhow::Context as _;
use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::load::{request, Accept};
use crate::scenarios::measured;
use crate::seed::{conversation, Client};
use crate::server::Process;
use crate::{Options, Row};

/// Depth of the active path.
const PATH: usize = 500;
/// Branches forking off it.
const BRANCHES: usize = 1_000;

pub async fn run(options: &Options, server: &Process) -> anyhow::Result<Vec<Row>> {
    eprintln!("scenario 8: a 10,000-message tree, {BRANCHES} branches, {PATH} deep");
    let mut client = Client::sign_up(server.address, "tree@bench.test").await?;
    let chat = client.create_chat("branched").await?;
    let messages_path = format!("/api/users/{}/chats/{chat}/messages", client.user_id);
    client
        .post_batch(chat, &conversation(PATH, 300, 10))
        .await?;
    let path = active_path(&mut client, &messages_path).await?;
    anyhow::ensure!(path.len() == PATH, "the path has {} messages", path.len());

    // Each branch is one batch posted under a message of the path (never its leaf), so
    // it starts a sibling of the path's next message.
    let mut heads = Vec::with_capacity(BRANCHES);
    for branch in 0..BRANCHES {
        let fork = path[branch % (PATH - 1)];
        let length = 9 + branch % 2;
        let items: Vec<Value> = conversation(length, 300, 10)
            .into_iter()
            .map(|(text, role)| json!({"content": text, "role": role}))
            .collect();
        let (status, body) = client
            .call(
                "POST",
                &messages_path,
                Some(&json!({"parent_id": fork, "messages": items})),
            )
            .await?;
        anyhow::ensure!(status == 200, "branch post answered {status}: {body}");
        let ids: Vec<i64> = body["chatMessages"]
            .as_array()
            .context("chatMessages")?
            .iter()
            .filter_map(|m| m["id"].as_i64())
            .collect();
        heads.push(*ids.last().context("an empty branch")?);
    }

    // Back to the original path: its leaf is the newest leaf under itself.
    let current = format!("/api/users/{}/chats/{chat}/current", client.user_id);
    let leaf = path[PATH - 1];
    let (status, _) = client
        .call("PUT", &current, Some(&json!({"message_id": leaf})))
        .await?;
    anyhow::ensure!(status == 200, "switch answered {status}");
    let (status, body) = client
        .connection
        .send(request("GET", &messages_path, Some(&client.cookie), None))
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "GET answered {status}");
    let expected_len = body.len();

    let mut rows = Vec::new();
    let cookie = client.cookie.clone();
    rows.push(
        measured(
            "8a GET active path (500 of 10,000 msgs, 32 conns)",
            server,
            32,
            options.duration,
            Arc::new(move |_, _| request("GET", &messages_path, Some(&cookie), None)),
            Arc::new(move |status, body: &Bytes| {
                status == StatusCode::OK && body.len() == expected_len
            }),
            |_| String::new(),
        )
        .await?,
    );

    // Switches alternate between the path's leaf and a branch's: each one moves the
    // current leaf and answers the whole new active path.
    let (cookie, branch_leaf) = (client.cookie.clone(), heads[BRANCHES / 2]);
    let accept: Accept = Arc::new(|status, _| status == StatusCode::OK);
    rows.push(
        measured(
            "8b PUT current, branch switch (8 conns)",
            server,
            8,
            options.duration,
            Arc::new(move |_, n| {
                let target = if n % 2 == 0 { branch_leaf } else { leaf };
                request(
                    "PUT",
                    &current,
                    Some(&cookie),
                    Some(&json!({"message_id": target})),
                )
            }),
            accept,
            |_| "answers the new active path".to_owned(),
        )
        .await?,
    );
    Ok(rows)
}

/// The ids of the chat's active path, oldest first.
async fn active_path(client: &mut Client, messages_path: &str) -> anyhow::Result<Vec<i64>> {
    let (status, body) = client.call("GET", messages_path, None).await?;
    anyhow::ensure!(status == 200, "GET answered {status}");
    Ok(body["chatMessages"]
        .as_array()
        .context("chatMessages")?
        .iter()
        .filter_map(|m| m["id"].as_i64())
        .collect())
}
