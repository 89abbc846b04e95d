//! After a restart: each worker's chats against their models, the one request that was in
//! flight settled as wholly applied or not at all.

use reqwest::{Method, StatusCode};

use super::api::{send, shape_problems, stored_tree, Api, ChatTree, Stored};
use super::worker::{said, Pending, Worker};

/// The ids in `stored` that the acknowledged tree does not know: what a request in
/// flight created, if it landed.
fn new_ids(before: &ChatTree, stored: &ChatTree) -> Vec<i64> {
    stored
        .messages
        .keys()
        .filter(|id| !before.contains(**id))
        .copied()
        .collect()
}

/// The tree had the request in flight landed, given what is stored (which tells the ids
/// new messages got); `None` if it cannot have landed.
fn landed(before: &ChatTree, pending: &Pending, stored: &ChatTree) -> Option<ChatTree> {
    let mut after = before.clone();
    match pending {
        Pending::DeleteChat => return None,
        Pending::DeleteLast => {
            let plan = before.plan_delete_last()?;
            after.delete_last(&plan);
        }
        Pending::Switch(to) => after.current = Some(before.newest_leaf(*to)?),
        Pending::Append { parent, batch } => {
            // A batch lands whole, chained under its parent, with fresh ids.
            let ids = new_ids(before, stored);
            if ids.len() != batch.len() {
                return None;
            }
            let mut under = parent.or(before.current);
            for ((actor, text), id) in batch.iter().zip(ids) {
                after.add(id, said(under, actor, text));
                under = Some(id);
            }
        }
        Pending::Edit { of, text } => {
            let ids = new_ids(before, stored);
            let original = before.get(*of)?;
            let [id] = ids[..] else { return None };
            after.add(id, said(original.parent, original.actor, text));
        }
    }
    Some(after)
}

/// Compares a worker's chats after the restart with their models, settles the request
/// that was in flight, and returns how many acknowledged messages were checked.
pub async fn verify_worker(
    client: &reqwest::Client,
    base: &str,
    worker: &mut Worker,
    problems: &mut Vec<String>,
) -> u64 {
    let mut checked = 0;
    let api: Api = worker.api.clone();
    for gone in &worker.deleted {
        match stored_tree(client, base, &api, gone).await {
            Ok(None) => {}
            Ok(Some(_)) => problems.push(format!("deleted chat {gone} came back")),
            Err(e) => problems.push(e),
        }
    }
    let mut observed: Vec<Result<Option<Stored>, String>> = Vec::new();
    for chat in &worker.chats {
        observed.push(stored_tree(client, base, &api, &chat.route_id).await);
    }
    // Bulk deletes are one transaction: the chats named together go together.
    for (i, chat) in worker.chats.iter().enumerate() {
        for peer in &chat.bulk_peers {
            if let Some(j) = worker.chats.iter().position(|c| &c.route_id == peer) {
                if let (Ok(a), Ok(b)) = (&observed[i], &observed[j]) {
                    if a.is_none() != b.is_none() {
                        problems.push(format!(
                            "bulk delete of {} and {peer} was applied to one of them only",
                            chat.route_id
                        ));
                    }
                }
            }
        }
    }
    let mut kept = Vec::new();
    for (mut chat, seen) in std::mem::take(&mut worker.chats).into_iter().zip(observed) {
        let seen = match seen {
            Ok(seen) => seen,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let pending = chat.pending.take();
        chat.bulk_peers.clear();
        worker.in_flight += u64::from(pending.is_some());
        let Some(seen) = seen else {
            if matches!(pending, Some(Pending::DeleteChat)) {
                worker.landed += 1;
                worker.deleted.push(chat.route_id);
            } else {
                problems.push(format!(
                    "chat {} with {} acknowledged messages is gone",
                    chat.route_id,
                    chat.tree.len()
                ));
            }
            continue;
        };
        problems.extend(shape_problems(&chat.route_id, &seen));
        checked += chat.tree.len() as u64;
        // Nothing acknowledged lost, no edit or branch undone, no leaf half moved: the
        // stored tree is the acknowledged one, or that with the request in flight applied.
        let after = pending
            .as_ref()
            .and_then(|pending| landed(&chat.tree, pending, &seen.tree));
        if seen.tree != chat.tree {
            if after.as_ref() == Some(&seen.tree) {
                worker.landed += 1;
            } else {
                problems.push(format!(
                    "chat {}: stored {}\n  acknowledged {}\n  in flight {pending:?}",
                    chat.route_id,
                    summary(&seen.tree),
                    summary(&chat.tree),
                ));
            }
        }
        chat.tree = seen.tree;
        kept.push(chat);
    }
    worker.chats = kept;
    for chat in &worker.chats {
        problems.extend(unsearchable(client, base, &api, &chat.tree).await);
    }
    checked
}

/// The messages of `tree` that search does not find by their tag (`w1-m7`: every text
/// holds its worker's unique tag), after the restart: the index survived with the rows.
async fn unsearchable(
    client: &reqwest::Client,
    base: &str,
    api: &Api,
    tree: &ChatTree,
) -> Vec<String> {
    let route = match api {
        Api::User { user_id, .. } => format!("/api/users/{user_id}/search"),
        Api::Tenant { .. } => "/api/v1/search".to_owned(),
    };
    let list = match api {
        Api::User { .. } => "results",
        Api::Tenant { .. } => "data",
    };
    let mut problems = Vec::new();
    for (id, message) in &tree.messages {
        let Some(tag) = message.data.text.split_whitespace().find(|w| {
            w.starts_with('w')
                && w.contains("-m")
                && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        }) else {
            continue;
        };
        let path = format!("{route}?limit=100&q=%22{}%22", tag.replace('-', "+"));
        match send(client, base, api, Method::GET, &path, None).await {
            Some((StatusCode::OK, body)) => {
                let found = body[list]
                    .as_array()
                    .is_some_and(|hits| hits.iter().any(|h| h["message_id"] == *id));
                if !found {
                    problems.push(format!(
                        "message {id} ({tag}) is not found by search: {body}"
                    ));
                }
            }
            other => problems.push(format!("search {path}: {other:?}")),
        }
    }
    problems
}

/// A tree in one line: `id<parent:actor:files` per message, and the current leaf.
pub fn summary(tree: &ChatTree) -> String {
    let messages: Vec<String> = tree
        .messages
        .iter()
        .map(|(id, m)| {
            let parent = m.parent.map_or("root".to_owned(), |p| p.to_string());
            format!("{id}<{parent}:{}:{}f", m.actor, m.data.files)
        })
        .collect();
    format!("[{}] current {:?}", messages.join(" "), tree.current)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 user → 2 assistant → 3 user, current 3.
    fn chain() -> ChatTree {
        let mut tree = ChatTree::default();
        tree.add(1, said(None, "user", "q"));
        tree.add(2, said(Some(1), "assistant", "a"));
        tree.add(3, said(Some(2), "user", "q2"));
        tree
    }

    #[test]
    fn a_request_in_flight_lands_whole_or_not_at_all() {
        let before = chain();
        let append = Pending::Append {
            parent: Some(1),
            batch: vec![("assistant", "b".into()), ("user", "c".into())],
        };
        let mut whole = before.clone();
        whole.add(4, said(Some(1), "assistant", "b"));
        whole.add(5, said(Some(4), "user", "c"));
        assert_eq!(landed(&before, &append, &whole), Some(whole.clone()));
        let mut half = before.clone();
        half.add(4, said(Some(1), "assistant", "b"));
        assert_eq!(landed(&before, &append, &half), None);

        // An edit: the sibling and the leaf move together, or it did not land.
        let edit = Pending::Edit {
            of: 3,
            text: "q2'".into(),
        };
        let mut edited = before.clone();
        edited.add(4, said(Some(2), "user", "q2'"));
        assert_eq!(landed(&before, &edit, &edited), Some(edited.clone()));
        let mut half_moved = edited.clone();
        half_moved.current = Some(3);
        assert_ne!(
            landed(&before, &edit, &half_moved),
            Some(half_moved.clone())
        );

        // A switch lands on the newest leaf under its message.
        let switch = Pending::Switch(2);
        let mut switched = edited.clone();
        switched.current = Some(3);
        let after = landed(&switched, &switch, &switched);
        assert_eq!(after.and_then(|t| t.current), Some(4));

        // A delete-last takes the exchange with the subtrees under it.
        let after = landed(&edited, &Pending::DeleteLast, &edited);
        assert_eq!(after.map(|t| t.len()), Some(0));
    }

    #[test]
    fn stored_trees_of_a_bad_shape_are_caught() {
        let tree = chain();
        let good = Stored {
            tree: tree.clone(),
            listed: vec![1, 2, 3],
        };
        assert!(shape_problems("c", &good).is_empty());
        let wrong_path = Stored {
            tree: tree.clone(),
            listed: vec![1, 2],
        };
        assert_eq!(shape_problems("c", &wrong_path).len(), 1);
        let mut stray = tree.clone();
        stray.add(9, said(Some(77), "user", "x"));
        stray.current = Some(3);
        let stray = Stored {
            tree: stray,
            listed: vec![1, 2, 3],
        };
        assert_eq!(shape_problems("c", &stray).len(), 1);
        let mut cycle = tree.clone();
        if let Some(root) = cycle.messages.get_mut(&1) {
            root.parent = Some(3);
        }
        let cycle = Stored {
            tree: cycle,
            listed: vec![],
        };
        // Three messages on the cycle, and the listed path cannot be its chain.
        assert_eq!(shape_problems("c", &cycle).len(), 4);
        let mut leafless = tree;
        leafless.current = None;
        let leafless = Stored {
            tree: leafless,
            listed: vec![],
        };
        assert_eq!(shape_problems("c", &leafless).len(), 1);
    }
}
