//! Search is consistent with writes under concurrency: a message is found as soon as
//! its POST answered, and gone as soon as its delete answered, while other tasks write
//! and delete in the same tables.

use rand::Rng as _;
use reqwest::StatusCode;
use std::sync::Arc;

use super::*;
use crate::support::{Backend, TestApp, TestUser};
use crate::tenant_support::default_tenant_key;

crate::per_backend!(writes_are_searchable_as_soon_as_they_answer);

const TASKS: usize = 4;
const ROUNDS: usize = 12;

/// A fresh word no other message has: letters and digits only.
fn unique_word(task: usize, round: usize) -> String {
    format!(
        "w{task}r{round}x{:012x}",
        rand::thread_rng().gen::<u64>() & 0xffff_ffff_ffff
    )
}

/// One writer: posts exchanges into its own chat and deletes the last one every few
/// rounds, checking the search after each answer.
async fn writer(
    app: Arc<TestApp>,
    user: Arc<TestUser>,
    key: Arc<crate::support::Auth>,
    task: usize,
) -> (usize, Vec<i64>) {
    let chat = app.create_chat(&user, &format!("writer {task}")).await;
    let mut checked = 0;
    let mut live: Vec<(i64, String)> = Vec::new();
    for round in 0..ROUNDS {
        let word = unique_word(task, round);
        let actor = if round % 2 == 0 { "user" } else { "assistant" };
        let id = app
            .post_message(
                &user,
                chat,
                actor,
                &format!("message {word} of task {task}"),
            )
            .await;
        // Found at once, through either API.
        let hits = user_hits(&app, &user, &word).await;
        assert_eq!(
            message_ids(&hits),
            [id],
            "task {task}: {word} right after its POST"
        );
        let hits = tenant_hits(&app, &key, &[("q", &word)]).await;
        assert_eq!(message_ids(&hits), [id], "task {task}: {word} by key");
        live.push((id, word));
        checked += 1;

        if round % 3 == 2 {
            let (status, body) = app
                .delete(
                    &format!("/api/users/{}/chats/{chat}/messages/last", user.id),
                    &user.auth,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let deleted = crate::support::tree::reported_deleted(&body);
            assert!(!deleted.is_empty(), "delete-last deleted something: {body}");
            for (id, word) in live.iter().filter(|(id, _)| deleted.contains(id)) {
                let hits = user_hits(&app, &user, word).await;
                assert!(
                    hits.is_empty(),
                    "task {task}: deleted {id} ({word}) still found: {hits:?}"
                );
                let hits = tenant_hits(&app, &key, &[("q", word)]).await;
                assert!(
                    hits.is_empty(),
                    "task {task}: deleted {id} ({word}) found by key"
                );
                checked += 1;
            }
            live.retain(|(id, _)| !deleted.contains(id));
        }
    }
    // What was never deleted is all still there, by prefix of this task's words.
    let prefix = format!("w{task}r*");
    let mut ids = message_ids(
        &walk(
            &app,
            Api::User,
            &format!("/api/users/{}/search", user.id),
            &[("q", &prefix)],
            &user.auth,
            7,
        )
        .await,
    );
    ids.sort_unstable();
    let mut expected: Vec<i64> = live.iter().map(|(id, _)| *id).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected, "task {task}: the survivors");
    (checked, expected)
}

async fn writes_are_searchable_as_soon_as_they_answer(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let key = Arc::new(default_tenant_key(&app).await);
    // Two users, two writers each: the same tables, different chats.
    let users = [
        Arc::new(app.sign_up("writer-a@example.com").await),
        Arc::new(app.sign_up("writer-b@example.com").await),
    ];
    let mut handles = Vec::new();
    for task in 0..TASKS {
        handles.push(tokio::spawn(writer(
            app.clone(),
            users[task % 2].clone(),
            key.clone(),
            task,
        )));
    }
    // A reader searching all along must never fail.
    let reader = {
        let (app, key) = (app.clone(), key.clone());
        tokio::spawn(async move {
            let mut reads = 0;
            for _ in 0..40 {
                let page = page(
                    &app,
                    Api::Tenant,
                    &tenant_path(&[("q", "message"), ("limit", "50")]),
                    &key,
                )
                .await;
                assert!(page.hits.len() <= 50);
                reads += 1;
            }
            reads
        })
    };
    let mut checked = 0;
    let mut survivors: [Vec<i64>; 2] = [Vec::new(), Vec::new()];
    for (task, handle) in handles.into_iter().enumerate() {
        let (count, ids) = handle.await.expect("writer task");
        checked += count;
        survivors[task % 2].extend(ids);
    }
    assert_eq!(reader.await.expect("reader task"), 40);
    assert!(
        checked >= TASKS * ROUNDS,
        "every post was checked: {checked}"
    );
    // Each user finds exactly the survivors of their own writers, none of the other's.
    for (user, expected) in users.iter().zip(survivors.iter_mut()) {
        expected.sort_unstable();
        assert!(!expected.is_empty(), "some messages survived");
        let mut ids = message_ids(&user_hits(&app, user, "task").await);
        ids.sort_unstable();
        assert_eq!(&ids, expected, "user {}", user.email);
    }
}
