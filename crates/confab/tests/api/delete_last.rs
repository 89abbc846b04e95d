//! Delete-last (seed 000, SPEC §2): every documented case, and its behaviour under
//! concurrent calls.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;

use crate::support::{Backend, TestApp, TestUser};

crate::per_backend!(
    empty_chat_answers_the_seed_400_body,
    a_normal_pair_is_deleted,
    only_trailing_user_messages_are_cleaned_up,
    trailing_user_messages_after_a_pair_go_with_the_pair,
    a_lone_message,
    deleted_messages_take_their_files,
    concurrent_deletes_and_posts_behave_like_some_serial_order,
);

async fn setup(app: &TestApp, actors: &[&str]) -> (TestUser, i64, Vec<i64>) {
    let user = app.sign_up("del@example.com").await;
    let chat = app.create_chat(&user, "chat").await;
    let mut ids = Vec::new();
    for (i, actor) in actors.iter().enumerate() {
        ids.push(
            app.post_message(&user, chat, actor, &format!("{actor} #{i}"))
                .await,
        );
    }
    (user, chat, ids)
}

async fn delete_last(app: &TestApp, user: &TestUser, chat: i64) -> (StatusCode, Value) {
    app.delete(
        &format!("/api/users/{}/chats/{chat}/messages/last", user.id),
        &user.auth,
    )
    .await
}

async fn empty_chat_answers_the_seed_400_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, chat, _) = setup(&app, &[]).await;
    let (status, body) = delete_last(&app, &user, chat).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"statusCode": 400, "statusMessage": "Bad Request.", "data": "No messages found, for chat."})
    );
}

async fn a_normal_pair_is_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, chat, ids) = setup(&app, &["user", "assistant", "user", "assistant"]).await;
    let (status, body) = delete_last(&app, &user, chat).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let object = body.as_object().expect("object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["maybeAssistantMessageToDelete", "maybeUserMessageToDelete"]
    );
    let assistant = &body["maybeAssistantMessageToDelete"];
    assert_eq!(assistant["id"], ids[3]);
    assert_eq!(assistant["actor"], "assistant");
    assert_eq!(assistant["message"], "assistant #3");
    assert_eq!(assistant["chat_conversation_id"], chat);
    assert!(assistant["created_at"].is_string());
    assert_eq!(body["maybeUserMessageToDelete"]["id"], ids[2]);
    assert_eq!(body["maybeUserMessageToDelete"]["actor"], "user");
    assert_eq!(app.message_ids(&user, chat).await, ids[..2]);
}

async fn only_trailing_user_messages_are_cleaned_up(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, chat, ids) = setup(&app, &["user", "user", "user"]).await;
    let (status, body) = delete_last(&app, &user, chat).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"deletedSuccessfully": ids, "failedToDelete": []})
    );
    assert!(app.message_ids(&user, chat).await.is_empty());
    // Also when a single non-user message stands before them: fewer than two remain.
    let (user2, chat2, ids2) = {
        let user = app.sign_up("del2@example.com").await;
        let chat = app.create_chat(&user, "c").await;
        let a = app.post_message(&user, chat, "system", "setup").await;
        let b = app.post_message(&user, chat, "user", "q1").await;
        let c = app.post_message(&user, chat, "user", "q2").await;
        (user, chat, vec![a, b, c])
    };
    let (status, body) = delete_last(&app, &user2, chat2).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"deletedSuccessfully": [ids2[1], ids2[2]], "failedToDelete": []})
    );
    assert_eq!(app.message_ids(&user2, chat2).await, [ids2[0]]);
}

async fn trailing_user_messages_after_a_pair_go_with_the_pair(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, chat, ids) = setup(&app, &["system", "user", "assistant", "user", "user"]).await;
    let (status, body) = delete_last(&app, &user, chat).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["maybeAssistantMessageToDelete"]["id"], ids[2]);
    assert_eq!(body["maybeUserMessageToDelete"]["id"], ids[1]);
    assert_eq!(body["deletedSuccessfully"], json!([ids[3], ids[4]]));
    assert_eq!(body["failedToDelete"], json!([]));
    assert_eq!(app.message_ids(&user, chat).await, [ids[0]]);
}

async fn a_lone_message(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, chat, ids) = setup(&app, &["user"]).await;
    let (status, body) = delete_last(&app, &user, chat).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"deletedSuccessfully": ids, "failedToDelete": []})
        )
    );
    assert!(app.message_ids(&user, chat).await.is_empty());

    // A lone assistant message: no trailing user run and fewer than two messages, so
    // (SPEC §2 step 3) nothing is deleted and the lists are empty.
    let other = app.sign_up("lone@example.com").await;
    let chat = app.create_chat(&other, "c").await;
    let id = app.post_message(&other, chat, "assistant", "hello").await;
    let (status, body) = delete_last(&app, &other, chat).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"deletedSuccessfully": [], "failedToDelete": []})
        )
    );
    assert_eq!(app.message_ids(&other, chat).await, [id]);
}

async fn deleted_messages_take_their_files(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("files@example.com").await;
    let chat = app.create_chat(&user, "c").await;
    app.post_message(&user, chat, "user", "first").await;
    app.post_message(&user, chat, "assistant", "```go\nkept\n```")
        .await;
    app.post_message(&user, chat, "user", "second").await;
    app.post_message(&user, chat, "assistant", "```go\ngone\n```")
        .await;
    let (status, _) = delete_last(&app, &user, chat).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = app
        .get(
            &format!("/api/users/{}/chats/{chat}/files", user.id),
            &user.auth,
        )
        .await;
    let texts: Vec<&str> = body["chatFiles"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["text"].as_str().expect("text"))
        .collect();
    assert_eq!(texts, ["kept\n"]);
}

/// What one concurrent call reported.
#[derive(Debug, Clone)]
enum Observed {
    Posted { id: i64, user: bool },
    Deleted(Vec<i64>),
    Empty,
}

/// The ids delete-last removes from a chronological list of (id, is_user), per SPEC §2.
fn spec_delete_last(state: &[(i64, bool)]) -> Option<Vec<i64>> {
    if state.is_empty() {
        return None;
    }
    let mut t = state.len();
    while t > 0 && state[t - 1].1 {
        t -= 1;
    }
    let from = if t >= 2 { t - 2 } else { t };
    Some(state[from..].iter().map(|(id, _)| *id).collect())
}

/// Searches for a serial order of the observed calls that, applied to `initial`, gives
/// exactly the observed answers and ends in `final_ids`. Posts commit in id order (ids
/// are assigned under the chat's write lock), so only where each delete falls is open.
fn explain_serially(initial: &[(i64, bool)], observed: &[Observed], final_ids: &[i64]) -> bool {
    let mut posts: Vec<(i64, bool)> = observed
        .iter()
        .filter_map(|o| match o {
            Observed::Posted { id, user } => Some((*id, *user)),
            _ => None,
        })
        .collect();
    posts.sort_unstable();
    let deletes: Vec<Option<Vec<i64>>> = observed
        .iter()
        .filter_map(|o| match o {
            Observed::Deleted(ids) => Some(Some(ids.clone())),
            Observed::Empty => Some(None),
            Observed::Posted { .. } => None,
        })
        .collect();
    let mut budget = 2_000_000u32;
    fn search(
        state: &mut Vec<(i64, bool)>,
        posts: &[(i64, bool)],
        next_post: usize,
        deletes: &[Option<Vec<i64>>],
        used: &mut Vec<bool>,
        final_ids: &[i64],
        budget: &mut u32,
    ) -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        if next_post == posts.len() && used.iter().all(|u| *u) {
            return state
                .iter()
                .map(|(id, _)| *id)
                .eq(final_ids.iter().copied());
        }
        let plan = spec_delete_last(state);
        let mut tried: HashSet<Option<Vec<i64>>> = HashSet::new();
        for i in 0..deletes.len() {
            if used[i] || deletes[i] != plan || !tried.insert(deletes[i].clone()) {
                continue;
            }
            used[i] = true;
            let saved = state.clone();
            if let Some(ids) = &deletes[i] {
                state.retain(|(id, _)| !ids.contains(id));
            }
            if search(state, posts, next_post, deletes, used, final_ids, budget) {
                return true;
            }
            *state = saved;
            used[i] = false;
        }
        if next_post < posts.len() {
            state.push(posts[next_post]);
            if search(
                state,
                posts,
                next_post + 1,
                deletes,
                used,
                final_ids,
                budget,
            ) {
                return true;
            }
            state.pop();
        }
        false
    }
    let mut state = initial.to_vec();
    let mut used = vec![false; deletes.len()];
    search(
        &mut state,
        &posts,
        0,
        &deletes,
        &mut used,
        final_ids,
        &mut budget,
    )
}

async fn concurrent_deletes_and_posts_behave_like_some_serial_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pattern = [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ];
    let (user, chat, ids) = setup(&app, &pattern).await;
    let initial: Vec<(i64, bool)> = ids
        .iter()
        .zip(pattern)
        .map(|(id, a)| (*id, a == "user"))
        .collect();
    let user = std::sync::Arc::new(user);
    let app = std::sync::Arc::new(app);

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (app, user) = (app.clone(), user.clone());
        calls.spawn(async move {
            if i % 2 == 0 {
                let (status, body) = delete_last(&app, &user, chat).await;
                match status {
                    StatusCode::OK => {
                        let mut deleted: Vec<i64> =
                            ["maybeUserMessageToDelete", "maybeAssistantMessageToDelete"]
                                .iter()
                                .filter_map(|k| body[k]["id"].as_i64())
                                .collect();
                        deleted.extend(
                            body["deletedSuccessfully"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(Value::as_i64),
                        );
                        assert_eq!(
                            body["failedToDelete"].as_array().map_or(0, Vec::len),
                            0,
                            "{body}"
                        );
                        deleted.sort_unstable();
                        Observed::Deleted(deleted)
                    }
                    StatusCode::BAD_REQUEST => Observed::Empty,
                    other => panic!("delete-last answered {other}: {body}"),
                }
            } else {
                let actor = if i % 3 == 0 { "assistant" } else { "user" };
                let id = app
                    .post_message(&user, chat, actor, &format!("concurrent {i}"))
                    .await;
                Observed::Posted {
                    id,
                    user: actor == "user",
                }
            }
        });
    }
    let mut observed = Vec::new();
    while let Some(result) = calls.join_next().await {
        observed.push(result.expect("call task"));
    }

    // No message is reported by two calls.
    let mut reported = HashSet::new();
    for o in &observed {
        if let Observed::Deleted(ids) = o {
            for id in ids {
                assert!(
                    reported.insert(*id),
                    "message {id} reported deleted twice: {observed:?}"
                );
            }
        }
    }
    // Reported-deleted messages are gone; every other acknowledged message is there.
    let final_ids = app.message_ids(&user, chat).await;
    let mut expected: Vec<i64> = initial.iter().map(|(id, _)| *id).collect();
    expected.extend(observed.iter().filter_map(|o| match o {
        Observed::Posted { id, .. } => Some(*id),
        _ => None,
    }));
    expected.retain(|id| !reported.contains(id));
    expected.sort_unstable();
    assert_eq!(final_ids, expected, "observed: {observed:?}");
    // And the answers are exactly what some serial order of the calls gives.
    assert!(
        explain_serially(&initial, &observed, &final_ids),
        "no serial order explains {observed:?} from {initial:?} to {final_ids:?}"
    );
}

#[test]
fn the_serial_checker_rejects_impossible_histories() {
    let initial = [(1, true), (2, false)];
    // A delete that reports only the assistant message of a pair cannot happen.
    assert!(!explain_serially(
        &initial,
        &[Observed::Deleted(vec![2])],
        &[1]
    ));
    // The real answer is accepted.
    assert!(explain_serially(
        &initial,
        &[Observed::Deleted(vec![1, 2])],
        &[]
    ));
    // Two deletes of the same state cannot both report it.
    assert!(!explain_serially(
        &initial,
        &[Observed::Deleted(vec![1, 2]), Observed::Deleted(vec![1, 2])],
        &[]
    ));
    // A post then a delete of the trailing user message.
    assert!(explain_serially(
        &initial,
        &[
            Observed::Posted { id: 3, user: true },
            Observed::Deleted(vec![1, 2, 3])
        ],
        &[]
    ));
    // The delete ran before the post: only that order explains it, and the final state
    // must be the one it leaves.
    let history = [
        Observed::Posted { id: 3, user: false },
        Observed::Deleted(vec![1, 2]),
    ];
    assert!(explain_serially(&initial, &history, &[3]));
    assert!(!explain_serially(&initial, &history, &[]));
}
