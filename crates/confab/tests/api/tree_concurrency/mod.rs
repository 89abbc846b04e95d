//! The message tree under concurrent writes: on one chat, at once, 20 delete-lasts, 20
//! posts, 10 edits and 10 branch switches through both APIs. The outcome must be what
//! some serial order of the same calls gives: the answers, the tree and the current leaf
//! at the end.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;

use crate::support::tree::{actor, reported_deleted, Node};
use crate::support::{Auth, Backend, TestApp};
use crate::tenant_support::{default_tenant_key, first_chat_uuid};

mod serial;

use serial::{explain_serially, Seen, State};

crate::per_backend!(concurrent_tree_operations_behave_like_some_serial_order);

/// The chat's tree through `GET .../tree`, checked for shape: every parent in the chat,
/// no cycle, `sibling_ids` right, the current leaf a message of the chat.
async fn read_tree(app: &TestApp, path: &str, auth: &Auth, list_key: &str) -> State {
    let (status, body) = app.get(&format!("{path}/tree"), auth).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let messages = body[list_key].as_array().expect("the tree's messages");
    let mut state = State {
        current: body["current_message_id"].as_i64(),
        ..State::default()
    };
    for message in messages {
        let id = message["id"].as_i64().expect("id");
        let node = Node {
            parent: message["parent_id"].as_i64(),
            actor: message["actor"].as_str().and_then(actor).expect("an actor"),
            data: (),
        };
        assert!(
            node.parent.is_some() || message["parent_id"].is_null(),
            "{message}"
        );
        assert!(
            state.messages.insert(id, node).is_none(),
            "{id} listed twice"
        );
    }
    for (id, node) in &state.messages {
        if let Some(parent) = node.parent {
            assert!(
                state.contains(parent),
                "message {id}'s parent {parent} is no message of the chat: {body}"
            );
        }
        assert!(
            state.path_to(Some(*id)).is_some(),
            "message {id} is on a cycle: {body}"
        );
    }
    for message in messages {
        let parent = message["parent_id"].as_i64();
        assert_eq!(
            message["sibling_ids"],
            json!(state.sibling_ids(parent)),
            "{message}"
        );
    }
    match state.current {
        Some(current) => assert!(
            state.contains(current),
            "current {current} is no message of the chat: {body}"
        ),
        None => assert!(body["current_message_id"].is_null(), "{body}"),
    }
    state
}

/// Message ids of a list answer.
fn ids_of(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("a list of messages")
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect()
}

/// One of the concurrent calls, as the test fires it.
#[derive(Debug, Clone, Copy)]
enum Call {
    Post {
        user: bool,
        asked: Option<i64>,
        tenant: bool,
    },
    Edit {
        target: i64,
        tenant: bool,
    },
    Switch {
        target: i64,
        tenant: bool,
    },
    DeleteLast {
        tenant: bool,
    },
}

/// The chat's routes on both APIs.
struct Routes {
    user_path: String,
    user_auth: Auth,
    tenant_path: String,
    key: Auth,
}

impl Routes {
    fn on(&self, tenant: bool) -> (&str, &Auth) {
        if tenant {
            (&self.tenant_path, &self.key)
        } else {
            (&self.user_path, &self.user_auth)
        }
    }
}

async fn fire(app: &TestApp, routes: &Routes, call: Call, n: usize) -> Seen {
    match call {
        Call::Post {
            user,
            asked,
            tenant,
        } => {
            let (path, auth) = routes.on(tenant);
            let actor = if user { "user" } else { "assistant" };
            let mut body = json!({"message": format!("concurrent {n}"), "actor": actor});
            if let Some(asked) = asked {
                body["parent_id"] = json!(asked);
            }
            let (status, answer) = app.post(&format!("{path}/messages"), auth, body).await;
            let message = if tenant {
                &answer["data"][0]
            } else {
                &answer["chatMessage"]
            };
            match (status, asked) {
                (StatusCode::OK | StatusCode::CREATED, _) => Seen::Posted {
                    id: message["id"].as_i64().expect("id"),
                    parent: message["parent_id"].as_i64(),
                    asked,
                    actor,
                },
                (StatusCode::BAD_REQUEST, Some(asked)) => Seen::ParentRefused(asked),
                (other, _) => panic!("post {call:?} answered {other}: {answer}"),
            }
        }
        Call::Edit { target, tenant } => {
            let (path, auth) = routes.on(tenant);
            let (status, answer) = app
                .call(
                    Method::PATCH,
                    &format!("{path}/messages/{target}"),
                    auth,
                    Some(json!({"message": format!("edited {n}")})),
                )
                .await;
            let message = if tenant {
                &answer["data"]
            } else {
                &answer["chatMessage"]
            };
            match status {
                StatusCode::OK => Seen::Edited {
                    target,
                    id: message["id"].as_i64().expect("id"),
                    parent: message["parent_id"].as_i64(),
                },
                StatusCode::NOT_FOUND => Seen::EditMissed(target),
                other => panic!("edit {call:?} answered {other}: {answer}"),
            }
        }
        Call::Switch { target, tenant } => {
            let (path, auth) = routes.on(tenant);
            let (status, answer) = app
                .call(
                    Method::PUT,
                    &format!("{path}/current{}", if tenant { "?limit=100" } else { "" }),
                    auth,
                    Some(json!({ "message_id": target })),
                )
                .await;
            match status {
                StatusCode::OK if tenant => {
                    assert!(answer["next_cursor"].is_null(), "{answer}");
                    Seen::Switched {
                        target,
                        path: ids_of(&answer["data"]),
                    }
                }
                StatusCode::OK => Seen::Switched {
                    target,
                    path: ids_of(&answer["chatMessages"]),
                },
                StatusCode::BAD_REQUEST => Seen::SwitchRefused(target),
                other => panic!("switch {call:?} answered {other}: {answer}"),
            }
        }
        Call::DeleteLast { tenant } => {
            let (path, auth) = routes.on(tenant);
            let (status, body) = app.delete(&format!("{path}/messages/last"), auth).await;
            match status {
                StatusCode::OK => {
                    assert_eq!(body["failedToDelete"].as_array().map_or(0, Vec::len), 0);
                    Seen::Deleted(reported_deleted(&body))
                }
                StatusCode::BAD_REQUEST => Seen::Empty,
                other => panic!("delete-last answered {other}: {body}"),
            }
        }
    }
}

/// A chat with two branches: a 10-message chain whose third message was edited and
/// answered, and a second answer to its sixth; the active branch is the original one.
async fn branched_chat(app: &TestApp, routes: &Routes) -> Vec<i64> {
    let mut ids = Vec::new();
    for n in 0..10 {
        let actor = if n % 2 == 0 { "user" } else { "assistant" };
        let (status, body) = app
            .post(
                &format!("{}/messages", routes.user_path),
                &routes.user_auth,
                json!({"message": format!("start {n}"), "actor": actor}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["chatMessage"]["id"].as_i64().expect("id"));
    }
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("{}/messages/{}", routes.user_path, ids[2]),
            &routes.user_auth,
            Some(json!({"message": "start 2, edited"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &format!("{}/messages", routes.user_path),
            &routes.user_auth,
            json!({"message": "another answer", "actor": "assistant", "parent_id": ids[4]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("{}/current", routes.user_path),
            &routes.user_auth,
            Some(json!({"message_id": ids[9]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids_of(&body["chatMessages"]), ids);
    ids
}

async fn concurrent_tree_operations_behave_like_some_serial_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("racer@example.com").await;
    let chat = app.create_chat(&user, "race").await;
    let uuid = first_chat_uuid(&app, &user).await;
    let routes = Routes {
        user_path: format!("/api/users/{}/chats/{chat}", user.id),
        user_auth: user.auth.clone(),
        tenant_path: format!("/api/v1/chats/{uuid}"),
        key: default_tenant_key(&app).await,
    };
    let chain = branched_chat(&app, &routes).await;
    let start = read_tree(&app, &routes.user_path, &routes.user_auth, "chatMessages").await;
    assert_eq!(start.path(), chain);

    // Edits name messages that have a parent: the chat keeps one root, so its current
    // leaf is null exactly when it is empty (delete-last can empty a path only by
    // emptying the tree).
    let mut calls = Vec::new();
    for i in 0..20 {
        let tenant = i % 2 == 1;
        calls.push(Call::DeleteLast { tenant });
        calls.push(Call::Post {
            user: i % 3 != 1,
            asked: (i % 4 == 0).then(|| chain[(i * 3) % chain.len()]),
            tenant: !tenant,
        });
        if i < 10 {
            calls.push(Call::Edit {
                target: chain[1 + (i * 7) % (chain.len() - 1)],
                tenant,
            });
            calls.push(Call::Switch {
                target: *start
                    .messages
                    .keys()
                    .nth((i * 5) % start.len())
                    .expect("a message"),
                tenant: !tenant,
            });
        }
    }
    let (app, routes) = (Arc::new(app), Arc::new(routes));
    let mut running = tokio::task::JoinSet::new();
    for (n, call) in calls.into_iter().enumerate() {
        let (app, routes) = (app.clone(), routes.clone());
        running.spawn(async move { fire(&app, &routes, call, n).await });
    }
    let mut observed = Vec::new();
    while let Some(result) = running.join_next().await {
        observed.push(result.expect("call task"));
    }

    let end = read_tree(&app, &routes.user_path, &routes.user_auth, "chatMessages").await;
    let tenant_view = read_tree(&app, &routes.tenant_path, &routes.key, "data").await;
    assert_eq!(tenant_view, end, "both APIs show the same tree");

    // No message reported deleted twice; none reported deleted is still there.
    let mut reported = HashSet::new();
    for seen in &observed {
        if let Seen::Deleted(ids) = seen {
            for id in ids {
                assert!(
                    reported.insert(*id),
                    "{id} reported deleted twice: {observed:?}"
                );
                assert!(!end.contains(*id), "{id} reported deleted is back");
            }
        }
    }
    // The current leaf: a message of the chat, null exactly when the chat is empty.
    assert_eq!(end.current.is_none(), end.is_empty(), "{end:?}");
    // The listed path is the chain from the current leaf up to the root, on both APIs.
    let (status, body) = app
        .get(&format!("{}/messages", routes.user_path), &routes.user_auth)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids_of(&body["chatMessages"]), end.path());
    let (status, body) = app
        .get(
            &format!("{}/messages?limit=100", routes.tenant_path),
            &routes.key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids_of(&body["data"]), end.path());
    // The tenant's view of the chat counts the whole tree and names the same leaf.
    let (status, body) = app.get(&routes.tenant_path, &routes.key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message_count"], json!(end.len()), "{body}");
    assert_eq!(body["current_message_id"], json!(end.current), "{body}");

    let kinds = |f: fn(&Seen) -> bool| observed.iter().filter(|s| f(s)).count();
    println!(
        "tree race on {backend:?}: {} posted, {} edited, {} switched, {} deleted, {} refused; \
         {} messages left, {} on the active path",
        kinds(|s| matches!(s, Seen::Posted { .. })),
        kinds(|s| matches!(s, Seen::Edited { .. })),
        kinds(|s| matches!(s, Seen::Switched { .. })),
        kinds(|s| matches!(s, Seen::Deleted(_))),
        kinds(|s| matches!(
            s,
            Seen::Empty | Seen::EditMissed(_) | Seen::SwitchRefused(_) | Seen::ParentRefused(_)
        )),
        end.len(),
        end.path().len()
    );
    assert!(
        explain_serially(&start, &observed, &end),
        "no serial order explains {observed:?}\n from {start:?}\n to {end:?}"
    );
}
