//! The model's state and the pure tree logic it predicts answers with: users, chats in
//! their tenants, and each chat's message tree with its current leaf (SPEC §6).

use rand::rngs::StdRng;
use rand::Rng as _;
use std::collections::BTreeSet;

use crate::support::Auth;

/// A code file as the model predicts it: (title, language, extension).
pub type FileSpec = (String, &'static str, &'static str);

#[derive(Debug, Clone)]
pub struct Message {
    pub id: i64,
    /// The message it follows; `None` for a first message (a root).
    pub parent: Option<i64>,
    pub actor: &'static str,
    pub text: String,
    pub files: Vec<FileSpec>,
}

#[derive(Debug, Clone)]
pub struct Chat {
    /// Integer id; learnt from the first answer that shows it.
    pub id: Option<i64>,
    pub uuid: String,
    /// 0: the default tenant (where users live); 1: the other tenant.
    pub tenant: usize,
    pub owner: Option<usize>,
    pub name: String,
    pub model: String,
    /// Every message of the tree, in id order (ids grow, so a parent comes before its
    /// children).
    pub messages: Vec<Message>,
    /// The leaf of the active branch; `None` while the active path is empty.
    pub current: Option<i64>,
}

pub struct User {
    pub id: i64,
    pub email: String,
    pub auth: Auth,
}

pub struct Model {
    pub users: Vec<User>,
    pub chats: Vec<Chat>,
    /// Ids and uuids of deleted chats (every later call on them is a 404).
    pub gone: Vec<(Option<i64>, String)>,
    /// Ids of deleted messages: an edit or switch naming one must be refused.
    pub gone_messages: Vec<i64>,
    pub keys: [Auth; 2],
    /// The largest message id seen: new ones must be larger.
    pub last_message_id: i64,
    pub emails: u64,
}

/// What delete-last removes from the active path (SPEC §2 over the path): the trailing
/// user messages, and the exchange before them if there is one.
#[derive(Debug, Clone)]
pub struct DeletePlan {
    pub trailing: Vec<Message>,
    pub exchange: Option<(Message, Message)>,
}

impl DeletePlan {
    /// The path messages the plan deletes (their subtrees go with them).
    pub fn ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.trailing.iter().map(|m| m.id).collect();
        if let Some((user_side, assistant_side)) = &self.exchange {
            ids.extend([user_side.id, assistant_side.id]);
        }
        ids
    }
}

impl Chat {
    pub fn new(id: Option<i64>, uuid: String, tenant: usize, owner: Option<usize>) -> Chat {
        Chat {
            id,
            uuid,
            tenant,
            owner,
            name: String::new(),
            model: String::new(),
            messages: Vec::new(),
            current: None,
        }
    }

    pub fn message(&self, id: i64) -> Option<&Message> {
        self.messages.iter().find(|m| m.id == id)
    }

    /// The chain from a root down to `leaf`, oldest first.
    pub fn path_to(&self, leaf: Option<i64>) -> Vec<&Message> {
        let mut path = Vec::new();
        let mut next = leaf;
        // The model never makes a cycle; the bound keeps a bug in it from hanging the test.
        while let Some(message) = next.and_then(|id| self.message(id)) {
            if path.len() > self.messages.len() {
                break;
            }
            path.push(message);
            next = message.parent;
        }
        path.reverse();
        path
    }

    /// The active path: the root to the current leaf.
    pub fn path(&self) -> Vec<&Message> {
        self.path_to(self.current)
    }

    /// The children of `parent` (the roots for `None`), ascending: what `sibling_ids`
    /// of each of them must say.
    pub fn sibling_ids(&self, parent: Option<i64>) -> Vec<i64> {
        self.messages
            .iter()
            .filter(|m| m.parent == parent)
            .map(|m| m.id)
            .collect()
    }

    /// `root` and everything under it.
    pub fn subtree(&self, root: i64) -> BTreeSet<i64> {
        let mut ids = BTreeSet::from([root]);
        // Children come after their parents in id order: one pass finds them all.
        for message in &self.messages {
            if message.parent.is_some_and(|p| ids.contains(&p)) {
                ids.insert(message.id);
            }
        }
        ids
    }

    /// Where a switch to `id` puts the current leaf: the newest leaf of its subtree, i.e.
    /// its highest id (a child is always newer than its parent).
    pub fn newest_leaf(&self, id: i64) -> i64 {
        self.subtree(id).last().copied().unwrap_or(id)
    }

    /// Adds a new message (posted or edited); it becomes the current leaf.
    pub fn add(&mut self, message: Message) {
        self.current = Some(message.id);
        self.messages.push(message);
    }

    /// SPEC §2's delete-last over the active path.
    pub fn plan_delete_last(&self) -> DeletePlan {
        let path: Vec<Message> = self.path().into_iter().cloned().collect();
        let trailing = path.iter().rev().take_while(|m| m.actor == "user").count();
        let rest = &path[..path.len() - trailing];
        let exchange =
            (rest.len() >= 2).then(|| (rest[rest.len() - 2].clone(), rest[rest.len() - 1].clone()));
        DeletePlan {
            trailing: path[path.len() - trailing..].to_vec(),
            exchange,
        }
    }

    /// Applies a delete-last: the planned path messages go with their subtrees; the last
    /// remaining message of the old path is current (or nothing). Returns every id gone.
    pub fn delete_last(&mut self, plan: &DeletePlan) -> BTreeSet<i64> {
        let path: Vec<i64> = self.path().iter().map(|m| m.id).collect();
        let mut gone = BTreeSet::new();
        for id in plan.ids() {
            gone.extend(self.subtree(id));
        }
        self.messages.retain(|m| !gone.contains(&m.id));
        self.current = path.iter().rev().find(|id| !gone.contains(id)).copied();
        gone
    }
}

/// Texts with known code files, as SPEC §4 extracts them from assistant messages.
pub fn message_text(rng: &mut StdRng, n: u64) -> (String, Vec<FileSpec>) {
    match rng.gen_range(0..6) {
        0 => (format!("hello {n}"), vec![]),
        1 => (
            format!("Try:\n\n```python\nprint({n})\n```\n"),
            vec![("snippet-1.py".into(), "python", "py")],
        ),
        2 => (
            format!("Two:\n```rust title=\"src/m{n}.rs\"\nfn main() {{}}\n```\n~~~\nplain\n~~~\n"),
            vec![
                (format!("src/m{n}.rs"), "rust", "rs"),
                ("snippet-2.txt".into(), "text", "txt"),
            ],
        ),
        3 => (
            format!("```ts filename=app{n}.ts\nlet x = 1\n```\n\n```brainfuck\n+\n```\n"),
            vec![
                (format!("app{n}.ts"), "ts", "ts"),
                ("snippet-2.txt".into(), "brainfuck", "txt"),
            ],
        ),
        4 => (
            format!("````markdown\n```go\nx := {n}\n```\n````\n"),
            vec![("snippet-1.md".into(), "markdown", "md")],
        ),
        _ => (
            format!("unterminated {n}\n```sh\nls -la"),
            vec![("snippet-1.sh".into(), "sh", "sh")],
        ),
    }
}

pub fn random_name(rng: &mut StdRng) -> String {
    let len = rng.gen_range(1..=5);
    (0..len)
        .map(|_| char::from(b'a' + rng.gen_range(0..4u8)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: i64, parent: Option<i64>, actor: &'static str) -> Message {
        Message {
            id,
            parent,
            actor,
            text: String::new(),
            files: Vec::new(),
        }
    }

    /// 1 user → 2 assistant → 3 user → 4 assistant, with 5 (an edit of 3) and 6 under
    /// it, and 7 a second answer to 3; current is 4.
    fn branched() -> Chat {
        let mut chat = Chat::new(Some(1), "u".into(), 0, None);
        for (id, parent, actor) in [
            (1, None, "user"),
            (2, Some(1), "assistant"),
            (3, Some(2), "user"),
            (5, Some(2), "user"),
            (6, Some(5), "assistant"),
            (7, Some(3), "assistant"),
            (4, Some(3), "assistant"),
        ] {
            chat.messages.push(message(id, parent, actor));
        }
        chat.messages.sort_by_key(|m| m.id);
        chat.current = Some(4);
        chat
    }

    fn ids(messages: &[&Message]) -> Vec<i64> {
        messages.iter().map(|m| m.id).collect()
    }

    #[test]
    fn the_model_walks_paths_siblings_and_subtrees() {
        let chat = branched();
        assert_eq!(ids(&chat.path()), [1, 2, 3, 4]);
        assert_eq!(ids(&chat.path_to(Some(6))), [1, 2, 5, 6]);
        assert_eq!(chat.sibling_ids(Some(2)), [3, 5]);
        assert_eq!(chat.sibling_ids(Some(3)), [4, 7]);
        assert_eq!(chat.sibling_ids(None), [1]);
        assert_eq!(chat.subtree(3), BTreeSet::from([3, 4, 7]));
        assert_eq!(chat.newest_leaf(2), 7);
        assert_eq!(chat.newest_leaf(5), 6);
        assert_eq!(chat.newest_leaf(4), 4);
    }

    #[test]
    fn the_models_delete_last_takes_subtrees_and_keeps_the_old_path() {
        let mut chat = branched();
        let plan = chat.plan_delete_last();
        assert!(plan.trailing.is_empty());
        assert_eq!(plan.ids(), [3, 4]);
        assert_eq!(chat.delete_last(&plan), BTreeSet::from([3, 4, 7]));
        // 2 is current although it still has the other branch (5, 6) under it.
        assert_eq!(chat.current, Some(2));
        assert_eq!(ids(&chat.path()), [1, 2]);
        assert_eq!(chat.messages.len(), 4);

        // The rest of the path is one lone exchange: it goes, and 5, 6 with it.
        let plan = chat.plan_delete_last();
        assert_eq!(plan.ids(), [1, 2]);
        chat.delete_last(&plan);
        assert_eq!(chat.current, None);
        assert!(chat.messages.is_empty());
    }

    #[test]
    fn the_models_delete_last_on_trailing_user_messages() {
        let mut chat = branched();
        chat.add(message(8, Some(4), "user"));
        chat.add(message(9, Some(8), "user"));
        let plan = chat.plan_delete_last();
        assert_eq!(ids(&plan.trailing.iter().collect::<Vec<_>>()), [8, 9]);
        assert_eq!(plan.ids(), [8, 9, 3, 4]);
        chat.delete_last(&plan);
        assert_eq!(chat.current, Some(2));
    }
}
