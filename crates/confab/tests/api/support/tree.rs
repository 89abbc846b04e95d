//! A chat's message tree as the tests model it (SPEC §6): every message with its parent
//! and actor, and the current leaf. The pure logic the model, crash and concurrency
//! tests predict answers with: active path, siblings, subtrees, the newest leaf a switch
//! lands on, and delete-last over the active path taking subtrees along.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One message: its parent (`None` for a first message), actor, and what else a test
/// keeps of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node<T> {
    pub parent: Option<i64>,
    pub actor: &'static str,
    pub data: T,
}

/// Every message of a chat by id (ids grow: a parent comes before its children), and
/// the leaf of the active branch (`None` while the active path is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree<T> {
    pub messages: BTreeMap<i64, Node<T>>,
    pub current: Option<i64>,
}

/// What delete-last removes from the active path (SPEC §2 over the path): the trailing
/// user messages, and the (user side, assistant side) exchange before them if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePlan {
    pub trailing: Vec<i64>,
    pub exchange: Option<(i64, i64)>,
}

impl DeletePlan {
    /// The path messages the plan deletes, sorted (their subtrees go with them).
    pub fn ids(&self) -> Vec<i64> {
        let mut ids = self.trailing.clone();
        ids.extend(self.exchange.iter().flat_map(|(u, a)| [*u, *a]));
        ids.sort_unstable();
        ids
    }
}

/// The actor as a `'static` name (what a server's answer says), if it is one of the
/// three.
pub fn actor(name: &str) -> Option<&'static str> {
    ["user", "assistant", "system"]
        .into_iter()
        .find(|known| *known == name)
}

/// The ids a delete-last answer reports (the path messages of either body shape), sorted.
pub fn reported_deleted(body: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = ["maybeUserMessageToDelete", "maybeAssistantMessageToDelete"]
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
    ids
}

impl<T> Default for Tree<T> {
    fn default() -> Self {
        Tree {
            messages: BTreeMap::new(),
            current: None,
        }
    }
}

impl<T> Tree<T> {
    pub fn get(&self, id: i64) -> Option<&Node<T>> {
        self.messages.get(&id)
    }

    pub fn contains(&self, id: i64) -> bool {
        self.messages.contains_key(&id)
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The chain from a root down to `leaf`, oldest first; `None` when it names a
    /// message that is not there or runs in a cycle.
    pub fn path_to(&self, leaf: Option<i64>) -> Option<Vec<i64>> {
        let mut path = Vec::new();
        let mut next = leaf;
        while let Some(id) = next {
            if path.len() > self.messages.len() {
                return None;
            }
            path.push(id);
            next = self.messages.get(&id)?.parent;
        }
        path.reverse();
        Some(path)
    }

    /// The active path: a root to the current leaf (empty if that chain is broken).
    pub fn path(&self) -> Vec<i64> {
        self.path_to(self.current).unwrap_or_default()
    }

    /// The children of `parent` (the roots for `None`), ascending: what `sibling_ids`
    /// of each of them must say.
    pub fn sibling_ids(&self, parent: Option<i64>) -> Vec<i64> {
        self.messages
            .iter()
            .filter(|(_, m)| m.parent == parent)
            .map(|(id, _)| *id)
            .collect()
    }

    /// `root` and everything under it.
    pub fn subtree(&self, root: i64) -> BTreeSet<i64> {
        let mut ids = BTreeSet::from([root]);
        // Children come after their parents in id order: one pass finds them all.
        for (id, message) in self.messages.range(root..) {
            if message.parent.is_some_and(|p| ids.contains(&p)) {
                ids.insert(*id);
            }
        }
        ids
    }

    /// Where a switch to `id` puts the current leaf: the newest leaf of its subtree, its
    /// highest id (a child is always newer than its parent). `None` if `id` is not here.
    pub fn newest_leaf(&self, id: i64) -> Option<i64> {
        self.contains(id)
            .then(|| self.subtree(id).last().copied())
            .flatten()
    }

    /// Adds a new message (posted or edited); it becomes the current leaf.
    pub fn add(&mut self, id: i64, node: Node<T>) {
        self.messages.insert(id, node);
        self.current = Some(id);
    }

    /// SPEC §2's delete-last over the active path; `None` when the path is empty.
    pub fn plan_delete_last(&self) -> Option<DeletePlan> {
        let path = self.path();
        if path.is_empty() {
            return None;
        }
        let is_user = |id: &i64| self.messages.get(id).is_some_and(|m| m.actor == "user");
        let trailing = path.iter().rev().take_while(|id| is_user(id)).count();
        let rest = &path[..path.len() - trailing];
        Some(DeletePlan {
            trailing: path[path.len() - trailing..].to_vec(),
            exchange: (rest.len() >= 2).then(|| (rest[rest.len() - 2], rest[rest.len() - 1])),
        })
    }

    /// Applies a delete-last: the planned path messages go with their subtrees; the last
    /// remaining message of the old path is current (or nothing). Returns every id gone.
    pub fn delete_last(&mut self, plan: &DeletePlan) -> BTreeSet<i64> {
        let path = self.path();
        let mut gone = BTreeSet::new();
        for id in plan.ids() {
            gone.extend(self.subtree(id));
        }
        self.messages.retain(|id, _| !gone.contains(id));
        self.current = path.into_iter().rev().find(|id| !gone.contains(id));
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 user → 2 assistant → 3 user → 4 assistant, with 5 (an edit of 3) and 6 under
    /// it, and 7 a second answer to 3; current is 4.
    fn branched() -> Tree<()> {
        let mut tree = Tree::default();
        for (id, parent, actor) in [
            (1, None, "user"),
            (2, Some(1), "assistant"),
            (3, Some(2), "user"),
            (4, Some(3), "assistant"),
            (5, Some(2), "user"),
            (6, Some(5), "assistant"),
            (7, Some(3), "assistant"),
        ] {
            let data = ();
            tree.messages.insert(
                id,
                Node {
                    parent,
                    actor,
                    data,
                },
            );
        }
        tree.current = Some(4);
        tree
    }

    #[test]
    fn the_tree_model_walks_paths_siblings_and_subtrees() {
        let tree = branched();
        assert_eq!(tree.path(), [1, 2, 3, 4]);
        assert_eq!(tree.path_to(Some(6)), Some(vec![1, 2, 5, 6]));
        assert_eq!(tree.path_to(Some(99)), None);
        assert_eq!(tree.sibling_ids(Some(2)), [3, 5]);
        assert_eq!(tree.sibling_ids(Some(3)), [4, 7]);
        assert_eq!(tree.sibling_ids(None), [1]);
        assert_eq!(tree.subtree(3), BTreeSet::from([3, 4, 7]));
        assert_eq!(tree.newest_leaf(2), Some(7));
        assert_eq!(tree.newest_leaf(5), Some(6));
        assert_eq!(tree.newest_leaf(4), Some(4));
        assert_eq!(tree.newest_leaf(99), None);

        let mut cycle = branched();
        if let Some(root) = cycle.messages.get_mut(&1) {
            root.parent = Some(4);
        }
        assert_eq!(cycle.path_to(Some(4)), None);
    }

    #[test]
    fn the_tree_models_delete_last_takes_subtrees_and_keeps_the_old_path() {
        let mut tree = branched();
        let plan = tree.plan_delete_last().expect("a path");
        assert!(plan.trailing.is_empty());
        assert_eq!(plan.exchange, Some((3, 4)));
        assert_eq!(tree.delete_last(&plan), BTreeSet::from([3, 4, 7]));
        // 2 is current although it still has the other branch (5, 6) under it.
        assert_eq!(tree.current, Some(2));
        assert_eq!(tree.path(), [1, 2]);
        assert_eq!(tree.len(), 4);

        // The rest of the path is one lone exchange: it goes, and 5, 6 with it.
        let plan = tree.plan_delete_last().expect("a path");
        assert_eq!(plan.ids(), [1, 2]);
        tree.delete_last(&plan);
        assert_eq!(tree.current, None);
        assert!(tree.is_empty());
        assert_eq!(tree.plan_delete_last(), None);
    }

    #[test]
    fn the_tree_models_delete_last_on_trailing_user_messages() {
        let mut tree = branched();
        for (id, parent) in [(8, 4), (9, 8)] {
            let node = Node {
                parent: Some(parent),
                actor: "user",
                data: (),
            };
            tree.add(id, node);
        }
        let plan = tree.plan_delete_last().expect("a path");
        assert_eq!(plan.trailing, [8, 9]);
        assert_eq!(plan.ids(), [3, 4, 8, 9]);
        tree.delete_last(&plan);
        assert_eq!(tree.current, Some(2));
        // A lone assistant message on the path: nothing to delete.
        let mut lone = Tree::default();
        let node = Node {
            parent: None,
            actor: "assistant",
            data: (),
        };
        lone.add(1, node);
        let plan = lone.plan_delete_last().expect("a path");
        assert_eq!(plan.ids(), Vec::<i64>::new());
        assert!(lone.delete_last(&plan).is_empty());
        assert_eq!(lone.current, Some(1));
    }
}
