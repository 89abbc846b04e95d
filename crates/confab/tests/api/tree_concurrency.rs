//! The message tree under concurrent writes: on one chat, at once, 20 delete-lasts, 20
//! posts, 10 edits and 10 branch switches through both APIs. The outcome must be what
//! some serial order of the same calls gives: the answers, the tree and the current leaf
//! at the end.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use crate::support::{Auth, Backend, TestApp};
use crate::tenant_support::{default_tenant_key, first_chat_uuid};

crate::per_backend!(concurrent_tree_operations_behave_like_some_serial_order);

/// A message as the serial replay needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Node {
    parent: Option<i64>,
    user: bool,
}

/// A chat's tree and current leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    tree: BTreeMap<i64, Node>,
    current: Option<i64>,
}

impl State {
    /// The chain from a root to `leaf`, oldest first; `None` if it breaks off or loops.
    fn path_to(&self, leaf: Option<i64>) -> Option<Vec<i64>> {
        let mut path = Vec::new();
        let mut next = leaf;
        while let Some(id) = next {
            if path.len() > self.tree.len() {
                return None; // a cycle
            }
            path.push(id);
            next = self.tree.get(&id)?.parent;
        }
        path.reverse();
        Some(path)
    }

    fn path(&self) -> Vec<i64> {
        self.path_to(self.current).unwrap_or_default()
    }

    fn subtree(&self, root: i64) -> BTreeSet<i64> {
        let mut ids = BTreeSet::from([root]);
        // A child is newer than its parent: one pass in id order finds them all.
        for (id, node) in &self.tree {
            if node.parent.is_some_and(|p| ids.contains(&p)) {
                ids.insert(*id);
            }
        }
        ids
    }

    /// SPEC §2's delete-last over the active path: the path ids it deletes (sorted), or
    /// `None` when the path is empty.
    fn plan_delete_last(&self) -> Option<Vec<i64>> {
        let path = self.path();
        if path.is_empty() {
            return None;
        }
        let is_user = |id: &i64| self.tree.get(id).is_some_and(|n| n.user);
        let trailing = path.iter().rev().take_while(|id| is_user(id)).count();
        let rest = path.len() - trailing;
        let from = if rest >= 2 { rest - 2 } else { rest };
        let mut ids = path[from..].to_vec();
        ids.sort_unstable();
        Some(ids)
    }

    fn add(&mut self, id: i64, node: Node) {
        self.tree.insert(id, node);
        self.current = Some(id);
    }
}

/// What one concurrent call reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Seen {
    /// A post: its new id and parent; `asked` is the `parent_id` it named, if any.
    Posted {
        id: i64,
        parent: Option<i64>,
        asked: Option<i64>,
        user: bool,
    },
    /// A post naming a parent that is no message of the chat (any more): 400.
    ParentRefused(i64),
    /// An edit of `target`: the new sibling's id and parent.
    Edited {
        target: i64,
        id: i64,
        parent: Option<i64>,
    },
    /// An edit of a message that is gone: 404.
    EditMissed(i64),
    /// A switch to `target`, answering this active path.
    Switched { target: i64, path: Vec<i64> },
    /// A switch to a message that is gone: 400.
    SwitchRefused(i64),
    /// A delete-last reporting these (path) ids, sorted.
    Deleted(Vec<i64>),
    /// A delete-last on an empty path: 400.
    Empty,
}

/// Replays one call on `state`: the state after it, or `None` if the call cannot have
/// answered what it did from there.
fn replay(state: &State, seen: &Seen) -> Option<State> {
    let mut next = state.clone();
    match seen {
        Seen::Posted {
            id,
            parent,
            asked,
            user,
        } => {
            let under = match asked {
                Some(asked) if state.tree.contains_key(asked) => Some(*asked),
                Some(_) => return None,
                None => state.current,
            };
            (*parent == under).then(|| {
                next.add(
                    *id,
                    Node {
                        parent: *parent,
                        user: *user,
                    },
                );
                next
            })
        }
        Seen::Edited { target, id, parent } => {
            let original = state.tree.get(target)?;
            (original.parent == *parent).then(|| {
                next.add(
                    *id,
                    Node {
                        parent: *parent,
                        user: original.user,
                    },
                );
                next
            })
        }
        Seen::Switched { target, path } => {
            let leaf = state.subtree(*target).last().copied();
            (state.tree.contains_key(target) && state.path_to(leaf).as_ref() == Some(path)).then(
                || {
                    next.current = leaf;
                    next
                },
            )
        }
        Seen::Deleted(ids) => {
            let old_path = state.path();
            (state.plan_delete_last().as_ref() == Some(ids)).then(|| {
                let mut gone = BTreeSet::new();
                for id in ids {
                    gone.extend(state.subtree(*id));
                }
                next.tree.retain(|id, _| !gone.contains(id));
                next.current = old_path.into_iter().rev().find(|id| !gone.contains(id));
                next
            })
        }
        Seen::Empty => state.path().is_empty().then_some(next),
        // Refusals change nothing: the named message is gone (for good) at that moment.
        Seen::ParentRefused(target) | Seen::EditMissed(target) | Seen::SwitchRefused(target) => {
            (!state.tree.contains_key(target)).then_some(next)
        }
    }
}

/// Searches for a serial order of the observed calls that, replayed from `start`, gives
/// every observed answer and ends in `end`. Posts and edits commit in id order (ids are
/// assigned under the chat's write lock), so only where the other calls fall is open;
/// a call that changes nothing is placed at the first moment it fits (placing it there
/// never rules anything out).
fn explain_serially(start: &State, observed: &[Seen], end: &State) -> bool {
    let mut creators: Vec<&Seen> = observed
        .iter()
        .filter(|s| matches!(s, Seen::Posted { .. } | Seen::Edited { .. }))
        .collect();
    creators.sort_by_key(|s| match s {
        Seen::Posted { id, .. } | Seen::Edited { id, .. } => *id,
        _ => 0,
    });
    let others: Vec<&Seen> = observed
        .iter()
        .filter(|s| !matches!(s, Seen::Posted { .. } | Seen::Edited { .. }))
        .collect();

    /// Where a search stands: the next creator, the other calls placed, the tree
    /// (id, parent) and the current leaf.
    type Place = (usize, Vec<bool>, Vec<(i64, Option<i64>)>, Option<i64>);
    struct Search<'a> {
        creators: Vec<&'a Seen>,
        others: Vec<&'a Seen>,
        end: &'a State,
        budget: u32,
        /// Places already searched in vain.
        dead: HashSet<Place>,
    }
    impl Search<'_> {
        fn go(&mut self, state: &State, next: usize, used: &mut Vec<bool>) -> bool {
            if self.budget == 0 {
                return false;
            }
            self.budget -= 1;
            // Calls that leave this state as it is: place them now.
            let mut placed_here = Vec::new();
            for (i, seen) in self.others.iter().enumerate() {
                if !used[i] && replay(state, seen).as_ref() == Some(state) {
                    used[i] = true;
                    placed_here.push(i);
                }
            }
            let found = self.branch(state, next, used);
            for i in placed_here {
                used[i] = false;
            }
            found
        }

        fn branch(&mut self, state: &State, next: usize, used: &mut Vec<bool>) -> bool {
            if next == self.creators.len() && used.iter().all(|u| *u) {
                return state == self.end;
            }
            let key = (
                next,
                used.clone(),
                state.tree.iter().map(|(id, n)| (*id, n.parent)).collect(),
                state.current,
            );
            if self.dead.contains(&key) {
                return false;
            }
            if let Some(after) = self.creators.get(next).and_then(|seen| replay(state, seen)) {
                if self.go(&after, next + 1, used) {
                    return true;
                }
            }
            let mut tried: HashSet<&Seen> = HashSet::new();
            for i in 0..self.others.len() {
                if used[i] || !tried.insert(self.others[i]) {
                    continue;
                }
                if let Some(after) = replay(state, self.others[i]) {
                    used[i] = true;
                    let found = self.go(&after, next, used);
                    used[i] = false;
                    if found {
                        return true;
                    }
                }
            }
            self.dead.insert(key);
            false
        }
    }

    let mut search = Search {
        creators,
        others,
        end,
        budget: 1_000_000,
        dead: HashSet::new(),
    };
    let mut used = vec![false; search.others.len()];
    search.go(start, 0, &mut used)
}

/// The chat's tree through `GET .../tree`, checked for shape: every parent in the chat,
/// no cycle, `sibling_ids` right, the current leaf a message of the chat.
async fn read_tree(app: &TestApp, path: &str, auth: &Auth, list_key: &str) -> State {
    let (status, body) = app.get(&format!("{path}/tree"), auth).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let messages = body[list_key].as_array().expect("the tree's messages");
    let mut state = State {
        tree: BTreeMap::new(),
        current: body["current_message_id"].as_i64(),
    };
    for message in messages {
        let id = message["id"].as_i64().expect("id");
        let node = Node {
            parent: message["parent_id"].as_i64(),
            user: message["actor"] == "user",
        };
        assert!(
            node.parent.is_some() || message["parent_id"].is_null(),
            "{message}"
        );
        assert!(state.tree.insert(id, node).is_none(), "{id} listed twice");
    }
    for (id, node) in &state.tree {
        if let Some(parent) = node.parent {
            assert!(
                state.tree.contains_key(&parent),
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
        let siblings: Vec<i64> = state
            .tree
            .iter()
            .filter(|(_, n)| n.parent == parent)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(message["sibling_ids"], json!(siblings), "{message}");
    }
    match state.current {
        Some(current) => assert!(
            state.tree.contains_key(&current),
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
                    user,
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
                    &format!("{path}/current?limit=100"),
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
                    let mut ids: Vec<i64> =
                        ["maybeUserMessageToDelete", "maybeAssistantMessageToDelete"]
                            .iter()
                            .filter_map(|k| body[k]["id"].as_i64())
                            .chain(
                                body["deletedSuccessfully"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .filter_map(Value::as_i64),
                            )
                            .collect();
                    ids.sort_unstable();
                    Seen::Deleted(ids)
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
                    .tree
                    .keys()
                    .nth((i * 5) % start.tree.len())
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
                assert!(!end.tree.contains_key(id), "{id} reported deleted is back");
            }
        }
    }
    // The current leaf: a message of the chat, null exactly when the chat is empty.
    assert_eq!(end.current.is_none(), end.tree.is_empty(), "{end:?}");
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
    assert_eq!(body["message_count"], json!(end.tree.len()), "{body}");
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
        end.tree.len(),
        end.path().len()
    );
    assert!(
        explain_serially(&start, &observed, &end),
        "no serial order explains {observed:?}\n from {start:?}\n to {end:?}"
    );
}

#[cfg(test)]
mod serial_checker {
    use super::*;

    /// 1 user → 2 assistant → 3 user, and 4 (an edit of 3); current 3.
    fn start() -> State {
        let node = |parent, user| Node { parent, user };
        State {
            tree: BTreeMap::from([
                (1, node(None, true)),
                (2, node(Some(1), false)),
                (3, node(Some(2), true)),
                (4, node(Some(2), true)),
            ]),
            current: Some(3),
        }
    }

    fn without(state: &State, ids: &[i64], current: Option<i64>) -> State {
        let mut state = state.clone();
        state.tree.retain(|id, _| !ids.contains(id));
        state.current = current;
        state
    }

    #[test]
    fn the_tree_serial_checker_accepts_real_histories() {
        let start = start();
        // Delete-last takes 3 (a trailing user message) and the exchange 1, 2 — and 4
        // with them.
        let deleted = Seen::Deleted(vec![1, 2, 3]);
        assert!(explain_serially(
            &start,
            std::slice::from_ref(&deleted),
            &without(&start, &[1, 2, 3, 4], None)
        ));
        // A post under the current leaf, then a switch to 4's branch.
        let mut end = start.clone();
        end.add(
            5,
            Node {
                parent: Some(3),
                user: false,
            },
        );
        end.current = Some(4);
        let history = [
            Seen::Switched {
                target: 4,
                path: vec![1, 2, 4],
            },
            Seen::Posted {
                id: 5,
                parent: Some(3),
                asked: None,
                user: false,
            },
        ];
        assert!(explain_serially(&start, &history, &end));
        // An edit of 3 after the delete: 404, and the tree is empty.
        let history = [deleted, Seen::EditMissed(3)];
        assert!(explain_serially(
            &start,
            &history,
            &without(&start, &[1, 2, 3, 4], None)
        ));
    }

    #[test]
    fn the_tree_serial_checker_rejects_impossible_histories() {
        let start = start();
        // Delete-last cannot report half an exchange, nor leave 4 behind.
        assert!(!explain_serially(
            &start,
            &[Seen::Deleted(vec![3])],
            &without(&start, &[3], Some(2))
        ));
        assert!(!explain_serially(
            &start,
            &[Seen::Deleted(vec![1, 2, 3])],
            &without(&start, &[1, 2, 3], None)
        ));
        // A post without parent_id goes under the current leaf, not elsewhere.
        let mut end = start.clone();
        end.add(
            5,
            Node {
                parent: Some(4),
                user: false,
            },
        );
        let post = Seen::Posted {
            id: 5,
            parent: Some(4),
            asked: None,
            user: false,
        };
        assert!(!explain_serially(&start, std::slice::from_ref(&post), &end));
        // ... unless a switch to 4 came first, which must then answer 4's path.
        let switched = Seen::Switched {
            target: 4,
            path: vec![1, 2, 4],
        };
        assert!(explain_serially(&start, &[post.clone(), switched], &end));
        let wrong = Seen::Switched {
            target: 4,
            path: vec![1, 2, 3],
        };
        assert!(!explain_serially(&start, &[post, wrong], &end));
        // An edit of a message that is still there cannot have missed it.
        assert!(!explain_serially(&start, &[Seen::EditMissed(3)], &start));
        // An edit's sibling has the original's parent.
        let mut end = start.clone();
        end.add(
            5,
            Node {
                parent: Some(3),
                user: true,
            },
        );
        let edit = Seen::Edited {
            target: 3,
            id: 5,
            parent: Some(3),
        };
        assert!(!explain_serially(&start, &[edit], &end));
        // The end state must be the one the order leaves.
        let mut moved = start.clone();
        moved.current = Some(4);
        assert!(!explain_serially(&start, &[], &moved));
    }
}
