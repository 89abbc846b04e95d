//! The model's state: users, chats in their tenants, and each chat's message tree with
//! its current leaf (the tree logic is [`crate::support::tree`]).

use rand::rngs::StdRng;
use rand::Rng as _;

use crate::support::tree::{Node, Tree};
use crate::support::Auth;

/// A code file as the model predicts it: (title, language, extension).
pub type FileSpec = (String, &'static str, &'static str);

/// What the model keeps of a message besides its parent and actor.
#[derive(Debug, Clone)]
pub struct Content {
    pub text: String,
    pub files: Vec<FileSpec>,
}

pub type Message = Node<Content>;

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
    pub archived: bool,
    pub pinned: bool,
    pub tags: Vec<String>,
    /// Creation order among the model's chats (a restored chat goes back to its place).
    pub born: u64,
    /// Every message with its parent, and the current leaf.
    pub tree: Tree<Content>,
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
            archived: false,
            pinned: false,
            tags: Vec::new(),
            born: 0,
            tree: Tree::default(),
        }
    }
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
    /// Deleted chats in the trash (the model test runs with `--trash-days`), as they were:
    /// a restore must bring each back whole.
    pub trash: Vec<Chat>,
    /// Ids of deleted messages: an edit or switch naming one must be refused.
    pub gone_messages: Vec<i64>,
    pub keys: [Auth; 2],
    /// The largest message id seen: new ones must be larger.
    pub last_message_id: i64,
    pub emails: u64,
    /// Chats created so far (each chat's `born`).
    pub born: u64,
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
