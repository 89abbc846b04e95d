//! Crash safety: the real `confab serve` process under concurrent load through both APIs,
//! killed with SIGKILL at random moments, restarted, and checked after every restart.
//!
//! Workers each own a few chats and run random operations on them one at a time (single
//! and batch appends, delete-last, chat deletes, bulk deletes, chat creation), so every
//! chat has an exact model of what was acknowledged; the workers run concurrently, so the
//! server sees concurrent writes to many chats at once. When the process dies, each
//! worker's one request in flight has an unknown outcome. After each kill:
//!
//! * with the server down, the database itself: on SQLite `PRAGMA integrity_check` is
//!   `ok` and `PRAGMA foreign_key_check` is empty; on both engines no file lacks its
//!   message (in the same chat) and no message lacks its chat;
//! * after the restart, over the API: every chat holds exactly its acknowledged messages
//!   (ids, order, actors, texts, file counts) — nothing acknowledged lost, nothing
//!   reported deleted back — except that the one request in flight is either wholly
//!   applied or not at all: a batch lands whole or not, a delete-last removes its whole
//!   exchange or nothing, a bulk delete removes every named chat or none.
//!
//! `CONFAB_CRASH_KILLS` sets the number of kills (default 20; CI refuses fewer);
//! `CONFAB_CRASH_SEED` replays a run (the seed is printed).

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::per_backend;
use crate::support::process::{run_cli, start_node_with, Node};
use crate::support::{session_cookie, Backend, TestDatabase};

/// Kills per run unless `CONFAB_CRASH_KILLS` says otherwise.
const DEFAULT_KILLS: usize = 20;
const USER_WORKERS: usize = 3;
const TENANT_WORKERS: usize = 3;
/// Live chats a worker keeps (it creates one when it has fewer).
const CHATS_PER_WORKER: usize = 3;

per_backend!(kill_9_under_load_loses_no_acknowledged_write);

fn kills() -> usize {
    let kills = std::env::var("CONFAB_CRASH_KILLS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_KILLS)
        .max(1);
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !in_ci || kills >= DEFAULT_KILLS,
        "CONFAB_CRASH_KILLS={kills}: CI runs at least {DEFAULT_KILLS} kills"
    );
    kills
}

fn seed() -> u64 {
    std::env::var("CONFAB_CRASH_SEED")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(rand::random)
}

/// How a request authenticates, and which API a chat lives in.
#[derive(Clone)]
enum Api {
    /// The user API: `Cookie` header value and user id.
    User { cookie: String, user_id: i64 },
    /// The tenant API: the `X-API-Key` value.
    Tenant { key: String },
}

/// One message as the model expects it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Msg {
    id: i64,
    actor: &'static str,
    text: String,
    files: usize,
}

/// What the request in flight at the kill would have done, had it landed.
#[derive(Debug, Clone)]
enum Pending {
    /// These messages, appended whole, at the end.
    Append(Vec<(&'static str, String)>),
    /// These message ids deleted together.
    DeleteLast(Vec<i64>),
    /// The chat deleted (for a bulk delete: all of `Chat::bulk_peers` with it).
    DeleteChat,
}

#[derive(Debug, Clone)]
struct Chat {
    /// The integer id (user API) or uuid (tenant API) in routes.
    route_id: String,
    messages: Vec<Msg>,
    pending: Option<Pending>,
    /// Route ids of the other chats named in the same unacknowledged bulk delete.
    bulk_peers: Vec<String>,
}

struct Worker {
    index: usize,
    api: Api,
    chats: Vec<Chat>,
    rng: StdRng,
    seq: u64,
    /// Acknowledged writes: appended messages, delete-lasts, chat creations and deletions.
    acknowledged: u64,
    /// Chats whose deletion was acknowledged (must stay gone).
    deleted: Vec<String>,
    /// Requests in flight at a kill, and how many of them turned out to have landed.
    in_flight: u64,
    landed: u64,
    errors: Vec<String>,
}

/// What one request came back with; `None` when the outcome is unknown (the server died
/// before, during or after handling it).
type Answer = Option<(StatusCode, Value)>;

async fn send(
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
    fn chats_path(&self) -> String {
        match self {
            Api::User { user_id, .. } => format!("/api/users/{user_id}/chats"),
            Api::Tenant { .. } => "/api/v1/chats".to_owned(),
        }
    }

    fn chat_path(&self, chat: &str) -> String {
        format!("{}/{chat}", self.chats_path())
    }

    fn created(&self) -> StatusCode {
        match self {
            Api::User { .. } => StatusCode::OK,
            Api::Tenant { .. } => StatusCode::CREATED,
        }
    }
}

/// A message text: plain, with one code block, with two (counted by [`files_in`]).
fn message_text(rng: &mut StdRng, tag: &str) -> String {
    match rng.gen_range(0..4) {
        0 => format!("plain words {tag}"),
        1 => format!("Here:\n```rust\nfn f() {{}}\n```\n{tag}"),
        2 => format!("```py\nx = 1\n```\nand\n~~~\nraw {tag}\n~~~\n"),
        _ => format!("emoji 🦀 and ümlauts {tag}"),
    }
}

/// How many code files the server must extract from a message: fenced blocks of
/// assistant messages only.
fn files_in(text: &str, actor: &str) -> usize {
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

/// SPEC §2's delete-last over the model: the ids it removes (empty for an empty chat).
fn planned_delete_last(messages: &[Msg]) -> Vec<i64> {
    let trailing = messages
        .iter()
        .rev()
        .take_while(|m| m.actor == "user")
        .count();
    let rest = messages.len() - trailing;
    let total = if rest >= 2 { trailing + 2 } else { trailing };
    messages[messages.len() - total..]
        .iter()
        .map(|m| m.id)
        .collect()
}

/// The ids a delete-last answer reports.
fn reported_deleted(body: &Value) -> Vec<i64> {
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

fn messages_of(api: &Api, body: &Value) -> Option<Vec<Value>> {
    let list = match api {
        Api::User { .. } => body
            .get("chatMessage")
            .map(|m| vec![m.clone()])
            .or_else(|| body["chatMessages"].as_array().cloned()),
        Api::Tenant { .. } => body["data"].as_array().cloned(),
    };
    list
}

impl Worker {
    fn fail(&mut self, what: String) {
        self.errors.push(format!("worker {}: {what}", self.index));
    }

    /// Runs random operations until a request's outcome is unknown (the server is gone)
    /// or an answer contradicts the model.
    async fn run(mut self, client: reqwest::Client, base: String) -> Worker {
        for _ in 0..100_000 {
            let live = self.chats.len();
            if live < CHATS_PER_WORKER && (live == 0 || self.rng.gen_bool(0.3)) {
                if !self.create_chat(&client, &base).await {
                    return self;
                }
                continue;
            }
            let chat = self.rng.gen_range(0..live);
            let roll = self.rng.gen_range(0..100);
            let went_on = match roll {
                0..=44 => self.append(&client, &base, chat, 1).await,
                45..=64 => {
                    let n = self.rng.gen_range(2..=4);
                    self.append(&client, &base, chat, n).await
                }
                65..=89 => self.delete_last(&client, &base, chat).await,
                _ => self.delete_chat(&client, &base, chat).await,
            };
            if !went_on || !self.errors.is_empty() {
                return self;
            }
        }
        self
    }

    async fn create_chat(&mut self, client: &reqwest::Client, base: &str) -> bool {
        let body = json!({"name": format!("w{} chat {}", self.index, self.seq), "model": "m"});
        self.seq += 1;
        let api = self.api.clone();
        let Some((status, body)) = send(
            client,
            base,
            &api,
            Method::POST,
            &api.chats_path(),
            Some(body),
        )
        .await
        else {
            return false; // an unknown chat may exist: it is nobody's concern
        };
        if status != api.created() {
            self.fail(format!("create chat: {status} {body}"));
            return false;
        }
        let route_id = match api {
            Api::User { .. } => body["chat"]["id"].as_i64().map(|id| id.to_string()),
            Api::Tenant { .. } => body["id"].as_str().map(str::to_owned),
        };
        let Some(route_id) = route_id else {
            self.fail(format!("create chat: no id in {body}"));
            return false;
        };
        self.acknowledged += 1;
        self.chats.push(Chat {
            route_id,
            messages: Vec::new(),
            pending: None,
            bulk_peers: Vec::new(),
        });
        true
    }

    async fn append(
        &mut self,
        client: &reqwest::Client,
        base: &str,
        chat: usize,
        count: usize,
    ) -> bool {
        let mut batch = Vec::new();
        for _ in 0..count {
            let actor =
                ["user", "user", "assistant", "assistant", "system"][self.rng.gen_range(0..5)];
            let tag = format!("w{}-m{}", self.index, self.seq);
            self.seq += 1;
            let text = message_text(&mut self.rng, &tag);
            batch.push((actor, text));
        }
        let body = if count == 1 && self.rng.gen_bool(0.8) {
            json!({"message": batch[0].1, "actor": batch[0].0})
        } else {
            json!({"messages": batch.iter().map(|(a, t)| json!({"content": t, "role": a})).collect::<Vec<_>>()})
        };
        let api = self.api.clone();
        let path = format!("{}/messages", api.chat_path(&self.chats[chat].route_id));
        self.chats[chat].pending = Some(Pending::Append(batch.clone()));
        let Some((status, body)) = send(client, base, &api, Method::POST, &path, Some(body)).await
        else {
            return false;
        };
        if status != api.created() {
            self.fail(format!("append to {path}: {status} {body}"));
            return false;
        }
        let returned = messages_of(&api, &body).unwrap_or_default();
        if returned.len() != batch.len() {
            self.fail(format!(
                "append to {path}: {} sent, answer {body}",
                batch.len()
            ));
            return false;
        }
        let chat = &mut self.chats[chat];
        chat.pending = None;
        for ((actor, text), message) in batch.into_iter().zip(returned) {
            let Some(id) = message["id"].as_i64() else {
                self.errors.push(format!("append: no id in {message}"));
                return false;
            };
            let files = files_in(&text, actor);
            chat.messages.push(Msg {
                id,
                actor,
                text,
                files,
            });
            self.acknowledged += 1;
        }
        true
    }

    async fn delete_last(&mut self, client: &reqwest::Client, base: &str, chat: usize) -> bool {
        let api = self.api.clone();
        let path = format!(
            "{}/messages/last",
            api.chat_path(&self.chats[chat].route_id)
        );
        let empty = self.chats[chat].messages.is_empty();
        let mut planned = planned_delete_last(&self.chats[chat].messages);
        self.chats[chat].pending = Some(Pending::DeleteLast(planned.clone()));
        let Some((status, body)) = send(client, base, &api, Method::DELETE, &path, None).await
        else {
            return false;
        };
        planned.sort_unstable();
        let expected = if empty {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        if status != expected {
            self.fail(format!(
                "delete-last {path}: {status} {body}, planned {planned:?}"
            ));
            return false;
        }
        if status == StatusCode::OK && reported_deleted(&body) != planned {
            self.fail(format!(
                "delete-last {path}: answer {body}, planned {planned:?}"
            ));
            return false;
        }
        let chat = &mut self.chats[chat];
        chat.pending = None;
        chat.messages.retain(|m| !planned.contains(&m.id));
        self.acknowledged += 1;
        true
    }

    async fn delete_chat(&mut self, client: &reqwest::Client, base: &str, chat: usize) -> bool {
        let api = self.api.clone();
        let bulk =
            matches!(api, Api::User { .. }) && self.chats.len() >= 2 && self.rng.gen_bool(0.5);
        let targets: Vec<usize> = if bulk {
            let other = (chat + 1) % self.chats.len();
            vec![chat, other]
        } else {
            vec![chat]
        };
        let names: Vec<String> = targets
            .iter()
            .map(|&i| self.chats[i].route_id.clone())
            .collect();
        for &i in &targets {
            self.chats[i].pending = Some(Pending::DeleteChat);
            self.chats[i].bulk_peers = names
                .iter()
                .filter(|n| **n != self.chats[i].route_id)
                .cloned()
                .collect();
        }
        let answer = if bulk {
            let ids: Vec<i64> = names.iter().filter_map(|n| n.parse().ok()).collect();
            send(
                client,
                base,
                &api,
                Method::DELETE,
                &api.chats_path(),
                Some(json!({"chat_ids": ids})),
            )
            .await
        } else {
            send(
                client,
                base,
                &api,
                Method::DELETE,
                &api.chat_path(&names[0]),
                None,
            )
            .await
        };
        let Some((status, body)) = answer else {
            return false;
        };
        if status != StatusCode::OK {
            self.fail(format!("delete chats {names:?}: {status} {body}"));
            return false;
        }
        self.chats.retain(|c| !names.contains(&c.route_id));
        self.acknowledged += names.len() as u64;
        self.deleted.extend(names);
        true
    }
}

/// The chat's messages over its API (all pages) as JSON; `None` on 404.
async fn stored_raw(
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
        let (status, body) = send(client, base, api, Method::GET, &path, None)
            .await
            .ok_or_else(|| format!("GET {path}: no answer from the restarted server"))?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status != StatusCode::OK {
            return Err(format!("GET {path}: {status} {body}"));
        }
        let list = match api {
            Api::User { .. } => body["chatMessages"].as_array(),
            Api::Tenant { .. } => body["data"].as_array(),
        }
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

fn actor_of(message: &Value) -> Result<&'static str, String> {
    match message["actor"].as_str() {
        Some("user") => Ok("user"),
        Some("assistant") => Ok("assistant"),
        Some("system") => Ok("system"),
        _ => Err(format!("bad actor in {message}")),
    }
}

/// The chat's messages over its API, as the model's tuples; `None` on 404.
async fn stored_messages(
    client: &reqwest::Client,
    base: &str,
    api: &Api,
    chat: &str,
) -> Result<Option<Vec<Msg>>, String> {
    let Some(raw) = stored_raw(client, base, api, chat).await? else {
        return Ok(None);
    };
    raw.iter()
        .map(|m| {
            Ok(Msg {
                id: m["id"].as_i64().ok_or_else(|| format!("no id in {m}"))?,
                actor: actor_of(m)?,
                text: m["message"].as_str().unwrap_or_default().to_owned(),
                files: m["files"].as_array().map_or(usize::MAX, Vec::len),
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Some)
}

/// Compares a chat after the restart with its model, settles the request that was in
/// flight, and returns how many acknowledged messages were checked.
async fn verify_worker(
    client: &reqwest::Client,
    base: &str,
    worker: &mut Worker,
    problems: &mut Vec<String>,
) -> u64 {
    let mut checked = 0;
    let api = worker.api.clone();
    for gone in &worker.deleted {
        match stored_messages(client, base, &api, gone).await {
            Ok(None) => {}
            Ok(Some(_)) => problems.push(format!("deleted chat {gone} came back")),
            Err(e) => problems.push(e),
        }
    }
    let mut observed = Vec::new();
    for chat in &worker.chats {
        observed.push(stored_messages(client, base, &api, &chat.route_id).await);
    }
    // Bulk deletes are one transaction: the chats named together go together.
    for (i, chat) in worker.chats.iter().enumerate() {
        for peer in &chat.bulk_peers {
            if let Some(j) = worker.chats.iter().position(|c| &c.route_id == peer) {
                let (a, b) = (&observed[i], &observed[j]);
                if let (Ok(a), Ok(b)) = (a, b) {
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
                    chat.messages.len()
                ));
            }
            continue;
        };
        checked += chat.messages.len() as u64;
        let before = chat.messages.clone();
        let after: Option<Vec<Msg>> = match &pending {
            None | Some(Pending::DeleteChat) => None,
            Some(Pending::DeleteLast(ids)) => Some(
                before
                    .iter()
                    .filter(|m| !ids.contains(&m.id))
                    .cloned()
                    .collect(),
            ),
            Some(Pending::Append(batch)) => {
                // The batch, if it landed, is at the end with fresh ids.
                let extra = seen.len().saturating_sub(before.len());
                (extra == batch.len() && seen[..before.len()] == before[..]).then(|| {
                    let mut all = before.clone();
                    for ((actor, text), landed) in batch.iter().zip(&seen[before.len()..]) {
                        all.push(Msg {
                            id: landed.id,
                            actor,
                            text: text.clone(),
                            files: files_in(text, actor),
                        });
                    }
                    all
                })
            }
        };
        if seen == before {
            chat.messages = before;
        } else if after.as_ref() == Some(&seen) {
            worker.landed += 1;
            chat.messages = seen;
        } else {
            problems.push(format!(
                "chat {}: stored {:?}\n  acknowledged {:?}\n  in flight {:?}",
                chat.route_id,
                summary(&seen),
                summary(&before),
                pending
            ));
            chat.messages = seen;
        }
        kept.push(chat);
    }
    worker.chats = kept;
    checked
}

fn summary(messages: &[Msg]) -> Vec<String> {
    messages
        .iter()
        .map(|m| format!("{}:{}:{}f", m.id, m.actor, m.files))
        .collect()
}

/// Database-level checks with the server down.
async fn check_database(backend: Backend, url: &str) -> Vec<String> {
    use sqlx::Connection as _;
    const ORPHAN_FILES: &str = "SELECT COUNT(*) FROM files f WHERE NOT EXISTS \
        (SELECT 1 FROM messages m WHERE m.id = f.message_id AND m.chat_id = f.chat_id)";
    const ORPHAN_MESSAGES: &str = "SELECT COUNT(*) FROM messages m WHERE NOT EXISTS \
        (SELECT 1 FROM chats c WHERE c.id = m.chat_id)";
    let mut problems = Vec::new();
    match backend {
        Backend::Sqlite => {
            use std::str::FromStr as _;
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .expect("sqlite url")
                .create_if_missing(false);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .expect("open the SQLite file after the kill");
            let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(&mut conn)
                .await
                .expect("integrity_check");
            if integrity != ["ok"] {
                problems.push(format!("PRAGMA integrity_check: {integrity:?}"));
            }
            let broken = sqlx::query("PRAGMA foreign_key_check")
                .fetch_all(&mut conn)
                .await
                .expect("foreign_key_check");
            if !broken.is_empty() {
                problems.push(format!("PRAGMA foreign_key_check: {} rows", broken.len()));
            }
            for (what, sql) in [("files", ORPHAN_FILES), ("messages", ORPHAN_MESSAGES)] {
                let n: i64 = sqlx::query_scalar(sql)
                    .fetch_one(&mut conn)
                    .await
                    .expect("orphan query");
                if n != 0 {
                    problems.push(format!("{n} orphan {what}"));
                }
            }
            let _ = conn.close().await;
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .expect("connect to PostgreSQL after the kill");
            for (what, sql) in [("files", ORPHAN_FILES), ("messages", ORPHAN_MESSAGES)] {
                let n: i64 = sqlx::query_scalar(sql)
                    .fetch_one(&mut conn)
                    .await
                    .expect("orphan query");
                if n != 0 {
                    problems.push(format!("{n} orphan {what}"));
                }
            }
            let _ = conn.close().await;
        }
    }
    problems
}

/// A message of a contended chat: its place in chat order (`created_at`, id) and actor.
#[derive(Debug, Clone)]
struct Placed {
    key: (String, i64),
    actor: &'static str,
}

fn placed(message: &Value) -> Result<(i64, Placed), String> {
    let id = message["id"]
        .as_i64()
        .ok_or_else(|| format!("no id in {message}"))?;
    let created_at = message["created_at"]
        .as_str()
        .ok_or_else(|| format!("no created_at in {message}"))?
        .to_owned();
    Ok((
        id,
        Placed {
            key: (created_at, id),
            actor: actor_of(message)?,
        },
    ))
}

/// One chat that two appenders and a delete-laster write to at once, so appends and
/// delete-lasts race on it when the process dies. No exact model is possible here, so
/// the checks are what must hold under any interleaving:
///
/// * nothing an acknowledged delete-last reported is back;
/// * every acknowledged message not reported deleted is there, unless a delete-last was
///   in flight: it may have removed the chat's tail at some moment, so the missing
///   messages are newer than every message that was already stored before the round and
///   is still there, and at most two of them are not `user` messages (SPEC §2);
/// * a message nobody acknowledged belongs to an append that was in flight, and such a
///   batch is there whole or not at all (unless the delete-last in flight took its end).
struct Contended {
    api: Api,
    route_id: String,
    /// Messages known to be stored: what the server showed after the last restart,
    /// plus what was acknowledged since.
    known: BTreeMap<i64, Placed>,
    /// Ids acknowledged delete-lasts reported deleted.
    reported: BTreeSet<i64>,
    acknowledged: u64,
}

struct AppenderOutcome {
    acked: Vec<(i64, Placed)>,
    /// Texts of the batch whose answer never came.
    in_flight: Option<Vec<String>>,
    errors: Vec<String>,
}

struct DeleterOutcome {
    reported: Vec<i64>,
    deletes: u64,
    in_flight: bool,
    errors: Vec<String>,
}

async fn contended_appender(
    client: reqwest::Client,
    base: String,
    api: Api,
    chat: String,
    seed: u64,
    tag: String,
) -> AppenderOutcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut outcome = AppenderOutcome {
        acked: Vec::new(),
        in_flight: None,
        errors: Vec::new(),
    };
    let path = format!("{}/messages", api.chat_path(&chat));
    for n in 0..100_000u64 {
        let count = if rng.gen_bool(0.7) {
            1
        } else {
            rng.gen_range(2..=3)
        };
        let batch: Vec<(&str, String)> = (0..count)
            .map(|i| {
                let actor = ["user", "user", "assistant", "system"][rng.gen_range(0..4)];
                (
                    actor,
                    format!("{tag}-{n}-{i} {}", message_text(&mut rng, &tag)),
                )
            })
            .collect();
        let body = json!({"messages": batch.iter().map(|(a, t)| json!({"content": t, "role": a})).collect::<Vec<_>>()});
        let Some((status, answer)) =
            send(&client, &base, &api, Method::POST, &path, Some(body)).await
        else {
            outcome.in_flight = Some(batch.into_iter().map(|(_, t)| t).collect());
            return outcome;
        };
        if status != api.created() {
            outcome
                .errors
                .push(format!("contended append: {status} {answer}"));
            return outcome;
        }
        for message in messages_of(&api, &answer).unwrap_or_default() {
            match placed(&message) {
                Ok(entry) => outcome.acked.push(entry),
                Err(e) => {
                    outcome.errors.push(e);
                    return outcome;
                }
            }
        }
    }
    outcome
}

async fn contended_deleter(
    client: reqwest::Client,
    base: String,
    api: Api,
    chat: String,
    seed: u64,
) -> DeleterOutcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut outcome = DeleterOutcome {
        reported: Vec::new(),
        deletes: 0,
        in_flight: false,
        errors: Vec::new(),
    };
    let path = format!("{}/messages/last", api.chat_path(&chat));
    for _ in 0..100_000 {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..8))).await;
        let Some((status, body)) = send(&client, &base, &api, Method::DELETE, &path, None).await
        else {
            outcome.in_flight = true;
            return outcome;
        };
        match status {
            StatusCode::OK => {
                outcome.reported.extend(reported_deleted(&body));
                outcome.deletes += 1;
            }
            StatusCode::BAD_REQUEST => {} // empty chat
            _ => {
                outcome
                    .errors
                    .push(format!("contended delete-last: {status} {body}"));
                return outcome;
            }
        }
    }
    outcome
}

impl Contended {
    /// Runs the writers until the server dies; returns their outcomes.
    async fn run(
        &self,
        client: &reqwest::Client,
        base: &str,
        seed: u64,
    ) -> (Vec<AppenderOutcome>, DeleterOutcome) {
        let appenders: Vec<_> = (0..2u64)
            .map(|i| {
                tokio::spawn(contended_appender(
                    client.clone(),
                    base.to_owned(),
                    self.api.clone(),
                    self.route_id.clone(),
                    seed ^ (i + 101),
                    format!(
                        "{}-{seed}-{i}",
                        match self.api {
                            Api::User { .. } => "u",
                            Api::Tenant { .. } => "t",
                        }
                    ),
                ))
            })
            .collect();
        let deleter = tokio::spawn(contended_deleter(
            client.clone(),
            base.to_owned(),
            self.api.clone(),
            self.route_id.clone(),
            seed ^ 103,
        ));
        let mut outcomes = Vec::new();
        for task in appenders {
            outcomes.push(task.await.expect("appender task"));
        }
        (outcomes, deleter.await.expect("deleter task"))
    }

    /// Checks the chat after the restart; returns how many acknowledged messages were
    /// checked.
    async fn verify(
        &mut self,
        client: &reqwest::Client,
        base: &str,
        appenders: Vec<AppenderOutcome>,
        deleter: DeleterOutcome,
        problems: &mut Vec<String>,
    ) -> u64 {
        let chat = self.route_id.clone();
        problems.extend(appenders.iter().flat_map(|a| a.errors.iter().cloned()));
        problems.extend(deleter.errors.iter().cloned());
        self.acknowledged += deleter.deletes;
        self.reported.extend(deleter.reported.iter().copied());
        let before_round = std::mem::take(&mut self.known);
        let mut expected = before_round.clone();
        for outcome in &appenders {
            self.acknowledged += outcome.acked.len() as u64;
            expected.extend(outcome.acked.iter().cloned());
        }
        expected.retain(|id, _| !self.reported.contains(id));

        let stored = match stored_raw(client, base, &self.api, &chat).await {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                problems.push(format!("contended chat {chat} is gone"));
                return 0;
            }
            Err(e) => {
                problems.push(e);
                return 0;
            }
        };
        let mut present: BTreeMap<i64, Placed> = BTreeMap::new();
        let mut texts: BTreeMap<i64, String> = BTreeMap::new();
        for message in &stored {
            match placed(message) {
                Ok((id, place)) => {
                    texts.insert(
                        id,
                        message["message"].as_str().unwrap_or_default().to_owned(),
                    );
                    present.insert(id, place);
                }
                Err(e) => problems.push(e),
            }
        }
        let back: Vec<&i64> = present
            .keys()
            .filter(|id| self.reported.contains(id))
            .collect();
        if !back.is_empty() {
            problems.push(format!(
                "contended chat {chat}: reported deleted but back: {back:?}"
            ));
        }
        let missing: Vec<(&i64, &Placed)> = expected
            .iter()
            .filter(|(id, _)| !present.contains_key(id))
            .collect();
        if !missing.is_empty() {
            let oldest_missing = missing.iter().map(|(_, p)| &p.key).min();
            let newest_survivor = present
                .iter()
                .filter(|(id, _)| before_round.contains_key(id))
                .map(|(_, p)| &p.key)
                .max();
            let not_user = missing.iter().filter(|(_, p)| p.actor != "user").count();
            if !deleter.in_flight {
                problems.push(format!(
                    "contended chat {chat}: acknowledged messages lost: {:?}",
                    missing.iter().map(|(id, _)| id).collect::<Vec<_>>()
                ));
            } else if not_user > 2
                || (newest_survivor.is_some() && newest_survivor >= oldest_missing)
            {
                problems.push(format!(
                    "contended chat {chat}: the delete-last in flight cannot explain the missing {missing:?} \
                     (newest older survivor {newest_survivor:?})"
                ));
            }
        }
        // Messages nobody acknowledged come from appends in flight, whole or not at all.
        let batches: Vec<Vec<String>> = appenders
            .iter()
            .filter_map(|a| a.in_flight.clone())
            .collect();
        for (id, _) in present.iter().filter(|(id, _)| !expected.contains_key(id)) {
            let text = texts.get(id).cloned().unwrap_or_default();
            if self.reported.contains(id) {
                continue; // already reported above
            }
            if !batches.iter().flatten().any(|t| *t == text) {
                problems.push(format!(
                    "contended chat {chat}: unexpected message {id}: {text:?}"
                ));
            }
        }
        // Ids an acknowledged delete-last reported that no acknowledged append returned:
        // messages of a batch in flight, deleted before the kill.
        let acked_ids: BTreeSet<i64> = appenders
            .iter()
            .flat_map(|a| a.acked.iter().map(|(id, _)| *id))
            .chain(before_round.keys().copied())
            .collect();
        let unknown_reported = deleter
            .reported
            .iter()
            .filter(|id| !acked_ids.contains(id))
            .count();
        for batch in &batches {
            let landed = batch
                .iter()
                .filter(|t| texts.values().any(|stored| stored == *t))
                .count();
            let partial = landed != 0 && landed + unknown_reported < batch.len();
            if partial && !deleter.in_flight {
                problems.push(format!(
                    "contended chat {chat}: {landed} of a batch of {} landed",
                    batch.len()
                ));
            }
        }
        let checked = expected.len() as u64;
        self.known = present;
        checked
    }
}

/// This test is load, not abuse: the per-key and per-user request rate limits would
/// refuse its workers.
const LOAD_TEST_FLAGS: &[&str] = &[
    "--api-key-rate-per-second",
    "0",
    "--user-write-rate-per-second",
    "0",
];

async fn sign_up(client: &reqwest::Client, node: &Node) -> Api {
    let response = client
        .post(node.url("/api/auth/sign-up"))
        .json(&json!({"email": "crash@example.com", "password": "kill nine times"}))
        .send()
        .await
        .expect("sign-up");
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = format!(
        "neptun-session={}",
        session_cookie(&response).expect("session cookie")
    );
    let body: Value = response.json().await.expect("sign-up body");
    Api::User {
        cookie,
        user_id: body["user"]["id"].as_i64().expect("user id"),
    }
}

async fn kill_9_under_load_loses_no_acknowledged_write(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let url = database.url.clone();
    let (kills, seed) = (kills(), seed());
    println!("crash test on {backend:?}: {kills} kills, CONFAB_CRASH_SEED={seed}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");

    let mut node = start_node_with("crash", &url, LOAD_TEST_FLAGS).await;
    let user = sign_up(&client, &node).await;
    let (ok, out, err) = run_cli(&["tenant", "create", "crash", "--database-url", &url], None);
    assert!(ok, "tenant create: {err}");
    let created: Value = serde_json::from_str(out.trim()).expect("tenant create JSON");
    let tenant = Api::Tenant {
        key: created["api_key"].as_str().expect("api_key").to_owned(),
    };

    let mut rng = StdRng::seed_from_u64(seed);
    let mut workers: Vec<Worker> = (0..USER_WORKERS + TENANT_WORKERS)
        .map(|index| Worker {
            index,
            api: if index < USER_WORKERS {
                user.clone()
            } else {
                tenant.clone()
            },
            chats: Vec::new(),
            rng: StdRng::seed_from_u64(
                seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            ),
            seq: 0,
            acknowledged: 0,
            deleted: Vec::new(),
            in_flight: 0,
            landed: 0,
            errors: Vec::new(),
        })
        .collect();

    // One contended chat per API.
    let mut contended = Vec::new();
    for api in [user.clone(), tenant.clone()] {
        let base = format!("http://{}", node.address);
        let (status, body) = send(
            &client,
            &base,
            &api,
            Method::POST,
            &api.chats_path(),
            Some(json!({"name": "contended", "model": "m"})),
        )
        .await
        .expect("create the contended chat");
        assert_eq!(status, api.created(), "{body}");
        let route_id = match api {
            Api::User { .. } => body["chat"]["id"].as_i64().map(|id| id.to_string()),
            Api::Tenant { .. } => body["id"].as_str().map(str::to_owned),
        }
        .expect("contended chat id");
        contended.push(Contended {
            api,
            route_id,
            known: BTreeMap::new(),
            reported: BTreeSet::new(),
            acknowledged: 0,
        });
    }

    let mut problems = Vec::new();
    let mut checked_messages = 0u64;
    for round in 1..=kills {
        let base = format!("http://{}", node.address);
        let tasks: Vec<_> = workers
            .drain(..)
            .map(|worker| tokio::spawn(worker.run(client.clone(), base.clone())))
            .collect();
        let round_seed = rng.gen::<u64>();
        let races: Vec<_> = contended
            .iter()
            .map(|chat| chat.run(&client, &base, round_seed))
            .collect();
        let races = futures_util::future::join_all(races);
        let kill_after = Duration::from_millis(rng.gen_range(30..600));
        let (outcomes, ()) = tokio::join!(races, async {
            tokio::time::sleep(kill_after).await;
            node.kill9();
        });
        for task in tasks {
            workers.push(task.await.expect("worker task"));
        }
        for worker in &mut workers {
            problems.append(&mut worker.errors);
        }
        problems.extend(
            check_database(backend, &url)
                .await
                .into_iter()
                .map(|p| format!("after kill {round}: {p}")),
        );

        node = start_node_with("crash", &url, LOAD_TEST_FLAGS).await;
        let base = format!("http://{}", node.address);
        for worker in &mut workers {
            let mut found = Vec::new();
            checked_messages += verify_worker(&client, &base, worker, &mut found).await;
            problems.extend(
                found
                    .into_iter()
                    .map(|p| format!("after kill {round}: {p}")),
            );
        }
        for (chat, (appenders, deleter)) in contended.iter_mut().zip(outcomes) {
            let mut found = Vec::new();
            checked_messages += chat
                .verify(&client, &base, appenders, deleter, &mut found)
                .await;
            problems.extend(
                found
                    .into_iter()
                    .map(|p| format!("after kill {round}: {p}")),
            );
        }
        assert!(
            problems.is_empty(),
            "crash safety violated (CONFAB_CRASH_SEED={seed}):\n{}",
            problems.join("\n")
        );
    }
    drop(node);
    let acknowledged: u64 = workers.iter().map(|w| w.acknowledged).sum::<u64>()
        + contended.iter().map(|c| c.acknowledged).sum::<u64>();
    let live: usize = workers
        .iter()
        .flat_map(|w| &w.chats)
        .map(|c| c.messages.len())
        .sum();
    let in_flight: u64 = workers.iter().map(|w| w.in_flight).sum();
    let landed: u64 = workers.iter().map(|w| w.landed).sum();
    println!(
        "crash test on {backend:?}: {kills} kills survived; {acknowledged} acknowledged writes; \
         {checked_messages} acknowledged messages checked after restarts ({live} live at the end); \
         {in_flight} writes in flight at a kill, {landed} of them found applied whole, the rest not \
         at all; seed {seed}"
    );
    println!(
        "crash test on {backend:?}: contended chats (2 appenders + 1 delete-laster each): \
         {} acknowledged writes, {} messages reported deleted, {} messages at the end",
        contended.iter().map(|c| c.acknowledged).sum::<u64>(),
        contended.iter().map(|c| c.reported.len()).sum::<usize>(),
        contended.iter().map(|c| c.known.len()).sum::<usize>()
    );
    assert!(acknowledged > 0, "no write was acknowledged at all");
}
