//! Talking to the server under test: the two APIs, requests whose outcome may be unknown,
//! the texts the workers write, and reading a chat back (active path and whole tree) with
//! the shape checks every stored tree must pass.

use rand::rngs::StdRng;
use rand::Rng as _;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::tree::{actor, Node, Tree};

/// How a request authenticates, and which API a chat lives in.
#[derive(Clone)]
pub enum Api {
    /// The user API: `Cookie` header value and user id.
    User { cookie: String, user_id: i64 },
    /// The tenant API: the `X-API-Key` value.
    Tenant { key: String },
}

/// What one request came back with; `None` when the outcome is unknown (the server died
/// before, during or after handling it).
pub type Answer = Option<(StatusCode, Value)>;

pub async fn send(
    client: &reqwest::Client,
    base: &str,
    api: &Api,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let mut request = client.request(method, format!("{base}{path}"));
    request = match api {
        Api::User { cookie, .. } => request.header("cookie", cookie),
        Api::Tenant { key } => request.header("x-api-key", key),
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.ok()?;
    let status = response.status();
    let text = response.text().await.ok()?;
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Some((status, json))
}

impl Api {
    pub fn chats_path(&self) -> String {
        match self {
            Api::User { user_id, .. } => format!("/api/users/{user_id}/chats"),
            Api::Tenant { .. } => "/api/v1/chats".to_owned(),
        }
    }

    pub fn chat_path(&self, chat: &str) -> String {
        format!("{}/{chat}", self.chats_path())
    }

    pub fn created(&self) -> StatusCode {
        match self {
            Api::User { .. } => StatusCode::OK,
            Api::Tenant { .. } => StatusCode::CREATED,
        }
    }

    /// The key of the message list in listing, switch and tree answers.
    pub fn list_key(&self) -> &'static str {
        match self {
            Api::User { .. } => "chatMessages",
            Api::Tenant { .. } => "data",
        }
    }

    /// The message an edit answers.
    pub fn edited<'a>(&self, body: &'a Value) -> &'a Value {
        match self {
            Api::User { .. } => &body["chatMessage"],
            Api::Tenant { .. } => &body["data"],
        }
    }
}

/// A message text: plain, with one code block, with two (counted by [`files_in`]).
pub fn message_text(rng: &mut StdRng, tag: &str) -> String {
    match rng.gen_range(0..4) {
        0 => format!("plain words {tag}"),
        1 => format!("Here:\n```rust\nfn f() {{}}\n```\n{tag}"),
        2 => format!("```py\nx = 1\n```\nand\n~~~\nraw {tag}\n~~~\n"),
        _ => format!("emoji 🦀 and ümlauts {tag}"),
    }
}

/// How many code files the server must extract from a message: fenced blocks of
/// assistant messages only.
pub fn files_in(text: &str, actor: &str) -> usize {
    if actor != "assistant" {
        0
    } else if text.contains("~~~") {
        2
    } else if text.contains("```") {
        1
    } else {
        0
    }
}

pub fn messages_of(api: &Api, body: &Value) -> Option<Vec<Value>> {
    match api {
        Api::User { .. } => body
            .get("chatMessage")
            .map(|m| vec![m.clone()])
            .or_else(|| body["chatMessages"].as_array().cloned()),
        Api::Tenant { .. } => body["data"].as_array().cloned(),
    }
}

pub fn actor_of(message: &Value) -> Result<&'static str, String> {
    message["actor"]
        .as_str()
        .and_then(actor)
        .ok_or_else(|| format!("bad actor in {message}"))
}

/// The ids of a list of messages.
pub fn ids_of(list: &[Value]) -> Result<Vec<i64>, String> {
    list.iter()
        .map(|m| m["id"].as_i64().ok_or_else(|| format!("no id in {m}")))
        .collect()
}

/// A GET on the restarted server: the body, `None` on 404, an error otherwise.
async fn get(
    client: &reqwest::Client,
    base: &str,
    api: &Api,
    path: &str,
) -> Result<Option<Value>, String> {
    let (status, body) = send(client, base, api, Method::GET, path, None)
        .await
        .ok_or_else(|| format!("GET {path}: no answer from the restarted server"))?;
    match status {
        StatusCode::OK => Ok(Some(body)),
        StatusCode::NOT_FOUND => Ok(None),
        _ => Err(format!("GET {path}: {status} {body}")),
    }
}

/// The chat's messages over its API (all pages of the active path) as JSON; `None` on 404.
pub async fn stored_raw(
    client: &reqwest::Client,
    base: &str,
    api: &Api,
    chat: &str,
) -> Result<Option<Vec<Value>>, String> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match (api, &cursor) {
            (Api::User { .. }, _) => format!("{}/messages", api.chat_path(chat)),
            (Api::Tenant { .. }, None) => format!("{}/messages?limit=100", api.chat_path(chat)),
            (Api::Tenant { .. }, Some(c)) => {
                format!("{}/messages?limit=100&after={c}", api.chat_path(chat))
            }
        };
        let Some(body) = get(client, base, api, &path).await? else {
            return Ok(None);
        };
        let list = body[api.list_key()]
            .as_array()
            .ok_or_else(|| format!("GET {path}: {body}"))?;
        all.extend(list.iter().cloned());
        cursor = match api {
            Api::Tenant { .. } => body["next_cursor"].as_str().map(str::to_owned),
            Api::User { .. } => None,
        };
        if cursor.is_none() {
            return Ok(Some(all));
        }
    }
}

/// What the crash test keeps of a message besides its parent and actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub text: String,
    pub files: usize,
}

pub type ChatTree = Tree<Said>;

/// A chat as the server shows it: its whole tree (`GET .../tree`) and the ids of its
/// listed active path.
pub struct Stored {
    pub tree: ChatTree,
    pub listed: Vec<i64>,
}

/// The chat's tree and listed path over its API; `None` on 404.
pub async fn stored_tree(
    client: &reqwest::Client,
    base: &str,
    api: &Api,
    chat: &str,
) -> Result<Option<Stored>, String> {
    let path = format!("{}/tree", api.chat_path(chat));
    let Some(body) = get(client, base, api, &path).await? else {
        return Ok(None);
    };
    let current = &body["current_message_id"];
    let mut tree = ChatTree {
        current: current.as_i64(),
        ..ChatTree::default()
    };
    if tree.current.is_none() && !current.is_null() {
        return Err(format!("GET {path}: current_message_id {current}"));
    }
    for m in body[api.list_key()]
        .as_array()
        .ok_or_else(|| format!("GET {path}: {body}"))?
    {
        let id = m["id"].as_i64().ok_or_else(|| format!("no id in {m}"))?;
        let parent = m["parent_id"].as_i64();
        if parent.is_none() && !m["parent_id"].is_null() {
            return Err(format!("GET {path}: parent_id of {m}"));
        }
        let node = Node {
            parent,
            actor: actor_of(m)?,
            data: Said {
                text: m["message"].as_str().unwrap_or_default().to_owned(),
                files: m["files"].as_array().map_or(usize::MAX, Vec::len),
            },
        };
        if tree.messages.insert(id, node).is_some() {
            return Err(format!("GET {path}: message {id} twice"));
        }
    }
    let Some(listed) = stored_raw(client, base, api, chat).await? else {
        return Ok(None); // deleted in between: nothing here can do that
    };
    Ok(Some(Stored {
        tree,
        listed: ids_of(&listed)?,
    }))
}

/// What must hold of every stored tree, whatever was in flight: each parent is a message
/// of the same chat, no message is on a cycle, the current leaf is a message of the chat
/// (null while it is empty), and the listed path is the chain from the current leaf up
/// to its root.
pub fn shape_problems(chat: &str, stored: &Stored) -> Vec<String> {
    let tree = &stored.tree;
    let mut problems = Vec::new();
    for (id, message) in &tree.messages {
        if let Some(parent) = message.parent.filter(|p| !tree.contains(*p)) {
            problems.push(format!(
                "chat {chat}: message {id}'s parent {parent} is not in the chat"
            ));
        } else if tree.path_to(Some(*id)).is_none() {
            problems.push(format!("chat {chat}: message {id} is on a cycle"));
        }
    }
    match tree.current {
        Some(current) if !tree.contains(current) => problems.push(format!(
            "chat {chat}: current leaf {current} is not a message of the chat"
        )),
        None if !tree.is_empty() => problems.push(format!(
            "chat {chat}: no current leaf but {} messages",
            tree.len()
        )),
        _ => {}
    }
    if tree.path_to(tree.current).as_ref() != Some(&stored.listed) {
        problems.push(format!(
            "chat {chat}: listed path {:?} is not the chain up from the current leaf {:?} ({:?})",
            stored.listed,
            tree.current,
            tree.path_to(tree.current)
        ));
    }
    problems
}
