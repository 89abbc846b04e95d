//! Model-based test: random sequences of API calls against the real server and against a
//! plain in-memory model of SPEC §2/§3, comparing every answer.
//!
//! The model knows users, which tenant each chat is in and who owns it, names, models,
//! messages in order with their actors, texts and code files (titles, languages,
//! extensions), and what every call must answer: status, and the body fields that follow
//! from the spec (ids, order, actors, texts, files, delete-last bodies, chat views, the
//! 404s of other users and tenants). Ids are learnt from the server's answers and must
//! grow; timestamps are not modelled.
//!
//! Each case runs `CONFAB_MODEL_STEPS` steps (default 200); `CONFAB_MODEL_CASES` cases
//! (default 3) per backend. The seed is printed; `CONFAB_MODEL_SEED` replays a run.

use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::per_backend;
use crate::support::{user_error, Auth, Backend, TestApp};
use crate::tenant_support::{default_tenant_key, new_tenant};

per_backend!(random_call_sequences_match_the_model);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// A code file as the model predicts it: (title, language, extension).
type FileSpec = (String, &'static str, &'static str);

#[derive(Debug, Clone)]
struct Message {
    id: i64,
    actor: &'static str,
    text: String,
    files: Vec<FileSpec>,
}

#[derive(Debug, Clone)]
struct Chat {
    /// Integer id; learnt from the first answer that shows it.
    id: Option<i64>,
    uuid: String,
    /// 0: the default tenant (where users live); 1: the other tenant.
    tenant: usize,
    owner: Option<usize>,
    name: String,
    model: String,
    messages: Vec<Message>,
}

struct User {
    id: i64,
    email: String,
    auth: Auth,
}

struct Model {
    users: Vec<User>,
    chats: Vec<Chat>,
    /// Ids and uuids of deleted chats (every later call on them is a 404).
    gone: Vec<(Option<i64>, String)>,
    keys: [Auth; 2],
    /// The largest message id seen: new ones must be larger.
    last_message_id: i64,
    emails: u64,
}

/// Texts with known code files, as SPEC §4 extracts them from assistant messages.
fn message_text(rng: &mut StdRng, n: u64) -> (String, Vec<FileSpec>) {
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

fn random_name(rng: &mut StdRng) -> String {
    let len = rng.gen_range(1..=5);
    (0..len)
        .map(|_| char::from(b'a' + rng.gen_range(0..4u8)))
        .collect()
}

/// SPEC §2 delete-last over the model: (trailing user messages, the exchange if any).
fn plan_delete_last(messages: &[Message]) -> (Vec<Message>, Option<(Message, Message)>) {
    let trailing = messages
        .iter()
        .rev()
        .take_while(|m| m.actor == "user")
        .count();
    let rest = &messages[..messages.len() - trailing];
    let trailing = messages[messages.len() - trailing..].to_vec();
    let exchange =
        (rest.len() >= 2).then(|| (rest[rest.len() - 2].clone(), rest[rest.len() - 1].clone()));
    (trailing, exchange)
}

macro_rules! ensure {
    ($cond:expr, $($what:tt)+) => {
        if !$cond {
            return Err(format!($($what)+));
        }
    };
}

struct Run<'a> {
    app: &'a TestApp,
    rng: StdRng,
    model: Model,
    n: u64,
    log: Vec<String>,
}

type Step = Result<(), String>;

impl Run<'_> {
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.log.push(format!(
            "{method} {path} {}",
            body.as_ref().map(Value::to_string).unwrap_or_default()
        ));
        self.app.call(method, path, auth, body).await
    }

    fn next(&mut self) -> u64 {
        self.n += 1;
        self.n
    }

    fn live_chat(&mut self) -> Option<usize> {
        (!self.model.chats.is_empty()).then(|| self.rng.gen_range(0..self.model.chats.len()))
    }

    fn user(&mut self) -> Option<usize> {
        (!self.model.users.is_empty()).then(|| self.rng.gen_range(0..self.model.users.len()))
    }

    /// Checks a message as shown by either API against the model.
    fn check_message(
        &self,
        actual: &Value,
        expected: &Message,
        chat: &Chat,
        with_files: bool,
    ) -> Step {
        ensure!(
            actual["id"] == json!(expected.id),
            "message id: {actual} vs {expected:?}"
        );
        ensure!(
            actual["actor"] == json!(expected.actor),
            "actor: {actual} vs {expected:?}"
        );
        ensure!(
            actual["message"] == json!(expected.text),
            "text: {actual} vs {expected:?}"
        );
        if let Some(id) = chat.id {
            ensure!(
                actual["chat_conversation_id"] == json!(id),
                "chat id of {actual}: want {id}"
            );
        }
        if with_files {
            let files = actual["files"]
                .as_array()
                .ok_or(format!("no files in {actual}"))?;
            ensure!(
                files.len() == expected.files.len(),
                "files of {actual} vs {expected:?}"
            );
            for (file, (title, language, extension)) in files.iter().zip(&expected.files) {
                ensure!(
                    file["title"] == json!(title)
                        && file["language"] == json!(language)
                        && file["extension"] == json!(extension),
                    "file {file} vs {title} {language} {extension}"
                );
                ensure!(
                    file["chat_conversation_message_id"] == json!(expected.id),
                    "file {file} of message {}",
                    expected.id
                );
                let owner = chat.owner.map(|u| self.model.users[u].id);
                ensure!(
                    file["neptun_user_id"] == json!(owner),
                    "file owner {file}: want {owner:?}"
                );
            }
        }
        Ok(())
    }

    fn check_messages(&self, actual: &[Value], chat: &Chat) -> Step {
        ensure!(
            actual.len() == chat.messages.len(),
            "{} messages listed, model has {}: {:?}",
            actual.len(),
            chat.messages.len(),
            actual.iter().map(|m| m["id"].clone()).collect::<Vec<_>>()
        );
        for (a, e) in actual.iter().zip(&chat.messages) {
            self.check_message(a, e, chat, true)?;
        }
        Ok(())
    }

    /// Learns or checks a chat's integer id from a message the server returned.
    fn learn_chat_id(&mut self, chat: usize, message: &Value) -> Step {
        let id = message["chat_conversation_id"]
            .as_i64()
            .ok_or(format!("no chat id in {message}"))?;
        let known = &mut self.model.chats[chat].id;
        match known {
            Some(k) => ensure!(*k == id, "chat id {id}, model {k}"),
            None => *known = Some(id),
        }
        Ok(())
    }

    // ---- operations --------------------------------------------------------------------

    async fn sign_up(&mut self) -> Step {
        let duplicate = !self.model.users.is_empty() && self.rng.gen_bool(0.2);
        let email = if duplicate {
            let u = self.user().unwrap_or_default();
            self.model.users[u].email.to_uppercase()
        } else {
            self.model.emails += 1;
            format!("user{}@example.com", self.model.emails)
        };
        let response = self
            .app
            .client
            .post(self.app.url("/api/auth/sign-up"))
            .json(&json!({"email": email, "password": "correct horse battery"}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        self.log.push(format!("sign-up {email}"));
        let status = response.status();
        let cookie = crate::support::session_cookie(&response);
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if duplicate {
            ensure!(
                status == StatusCode::CONFLICT,
                "duplicate sign-up: {status} {body}"
            );
            return Ok(());
        }
        ensure!(status == StatusCode::CREATED, "sign-up: {status} {body}");
        let id = body["user"]["id"]
            .as_i64()
            .ok_or(format!("no user id: {body}"))?;
        ensure!(
            self.model.users.iter().all(|u| u.id < id),
            "user id {id} does not grow"
        );
        ensure!(body["user"]["email"] == json!(email), "email in {body}");
        self.model.users.push(User {
            id,
            email,
            auth: Auth::Cookie(cookie.ok_or("no session cookie")?),
        });
        Ok(())
    }

    async fn create_user_chat(&mut self) -> Step {
        let Some(u) = self.user() else { return Ok(()) };
        let valid = self.rng.gen_bool(0.9);
        let name = if valid {
            random_name(&mut self.rng)
        } else {
            "   ".to_owned()
        };
        let model_name = format!("model-{}", self.rng.gen_range(0..3));
        let (user_id, auth) = (self.model.users[u].id, self.model.users[u].auth.clone());
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/api/users/{user_id}/chats"),
                &auth,
                Some(json!({"name": format!(" {name} "), "model": model_name})),
            )
            .await;
        if !valid {
            ensure!(
                status == StatusCode::BAD_REQUEST,
                "blank name: {status} {body}"
            );
            return Ok(());
        }
        ensure!(status == StatusCode::OK, "create chat: {status} {body}");
        let chat = &body["chat"];
        ensure!(
            chat["name"] == json!(name) && chat["model"] == json!(model_name),
            "chat view {chat}"
        );
        ensure!(chat["neptun_user_id"] == json!(user_id), "owner in {chat}");
        let id = chat["id"].as_i64().ok_or(format!("no id in {chat}"))?;
        ensure!(
            self.model.chats.iter().all(|c| c.id.is_none_or(|k| k < id)),
            "chat id {id} does not grow"
        );
        self.model.chats.push(Chat {
            id: Some(id),
            uuid: chat["uuid"]
                .as_str()
                .ok_or(format!("no uuid in {chat}"))?
                .to_owned(),
            tenant: 0,
            owner: Some(u),
            name,
            model: model_name,
            messages: Vec::new(),
        });
        Ok(())
    }

    async fn create_tenant_chat(&mut self) -> Step {
        let tenant = usize::from(self.rng.gen_bool(0.3));
        let owner = if tenant == 0 && self.rng.gen_bool(0.5) {
            self.user()
        } else {
            None
        };
        let stranger = self.rng.gen_bool(0.1);
        let name = random_name(&mut self.rng);
        let mut body = json!({"name": name, "model": "m"});
        if let Some(u) = owner {
            body["user_id"] = json!(self.model.users[u].id);
        }
        if stranger {
            // A user of another tenant (or nobody) cannot own the chat.
            body["user_id"] = json!(i64::from(i32::MAX));
        }
        let key = self.model.keys[tenant].clone();
        let (status, answer) = self
            .call(Method::POST, "/api/v1/chats", &key, Some(body))
            .await;
        if stranger {
            ensure!(
                status == StatusCode::NOT_FOUND && answer["error"]["code"] == "user_not_found",
                "stranger owner: {status} {answer}"
            );
            return Ok(());
        }
        ensure!(
            status == StatusCode::CREATED,
            "tenant create: {status} {answer}"
        );
        let owner_id = owner.map(|u| self.model.users[u].id);
        ensure!(
            answer["name"] == json!(name)
                && answer["model"] == "m"
                && answer["user_id"] == json!(owner_id),
            "tenant chat view {answer}"
        );
        self.model.chats.push(Chat {
            id: None,
            uuid: answer["id"]
                .as_str()
                .ok_or(format!("no uuid in {answer}"))?
                .to_owned(),
            tenant,
            owner,
            name,
            model: "m".to_owned(),
            messages: Vec::new(),
        });
        if let Some(u) = owner {
            // The owner's list shows the chat with its integer id; learn it there.
            self.list_user_chats_of(u, "id:asc").await?;
        }
        Ok(())
    }

    /// A user-API route on chat `c` as user `u` sees it: the path, and whether it is theirs.
    fn user_route(&self, u: usize, c: usize, suffix: &str) -> Option<(String, bool)> {
        let chat = &self.model.chats[c];
        let id = chat.id?;
        let user = &self.model.users[u];
        Some((
            format!("/api/users/{}/chats/{id}{suffix}", user.id),
            chat.owner == Some(u),
        ))
    }

    async fn rename(&mut self) -> Step {
        let (Some(u), Some(c)) = (self.user(), self.live_chat()) else {
            return Ok(());
        };
        let Some((path, mine)) = self.user_route(u, c, "") else {
            return Ok(());
        };
        let name = random_name(&mut self.rng);
        let auth = self.model.users[u].auth.clone();
        let (status, body) = self
            .call(Method::PATCH, &path, &auth, Some(json!({"name": name})))
            .await;
        if !mine {
            ensure!(
                (status, &body) == (StatusCode::NOT_FOUND, &user_error(404, "Chat not found")),
                "rename of another's chat: {status} {body}"
            );
            return Ok(());
        }
        ensure!(
            status == StatusCode::OK && body["chat"]["name"] == json!(name),
            "rename: {status} {body}"
        );
        self.model.chats[c].name = name;
        Ok(())
    }

    async fn delete_chat(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        if self.rng.gen_bool(0.5) {
            let Some(u) = self.user() else { return Ok(()) };
            let Some((path, mine)) = self.user_route(u, c, "") else {
                return Ok(());
            };
            let auth = self.model.users[u].auth.clone();
            let (status, body) = self.call(Method::DELETE, &path, &auth, None).await;
            if !mine {
                ensure!(
                    (status, &body) == (StatusCode::NOT_FOUND, &user_error(404, "Chat not found")),
                    "delete of another's chat: {status} {body}"
                );
                return Ok(());
            }
            ensure!(
                status == StatusCode::OK && body == json!(true),
                "delete chat: {status} {body}"
            );
        } else {
            let tenant = usize::from(self.rng.gen_bool(0.3));
            let key = self.model.keys[tenant].clone();
            let path = format!("/api/v1/chats/{}", self.model.chats[c].uuid);
            let (status, body) = self.call(Method::DELETE, &path, &key, None).await;
            if tenant != self.model.chats[c].tenant {
                ensure!(
                    status == StatusCode::NOT_FOUND && body["error"]["code"] == "chat_not_found",
                    "delete in another tenant: {status} {body}"
                );
                return Ok(());
            }
            ensure!(
                status == StatusCode::OK
                    && body["success"] == true
                    && body["message"] == "Chat deleted successfully"
                    && body["deleted_at"].is_string(),
                "tenant delete: {status} {body}"
            );
        }
        let chat = self.model.chats.remove(c);
        self.model.gone.push((chat.id, chat.uuid));
        Ok(())
    }

    async fn bulk_delete(&mut self) -> Step {
        let Some(u) = self.user() else { return Ok(()) };
        let mut ids: Vec<i64> = self
            .model
            .chats
            .iter()
            .filter_map(|c| c.id)
            .chain(self.model.gone.iter().filter_map(|(id, _)| *id))
            .filter(|_| self.rng.gen_bool(0.3))
            .collect();
        ids.push(i64::from(i32::MAX));
        ids.shuffle(&mut self.rng);
        let (user_id, auth) = (self.model.users[u].id, self.model.users[u].auth.clone());
        let (status, body) = self
            .call(
                Method::DELETE,
                &format!("/api/users/{user_id}/chats"),
                &auth,
                Some(json!({"chat_ids": ids})),
            )
            .await;
        ensure!(
            status == StatusCode::OK && body == json!(true),
            "bulk delete: {status} {body}"
        );
        let (gone, kept): (Vec<Chat>, Vec<Chat>) = std::mem::take(&mut self.model.chats)
            .into_iter()
            .partition(|c| c.owner == Some(u) && c.id.is_some_and(|id| ids.contains(&id)));
        self.model.chats = kept;
        self.model
            .gone
            .extend(gone.into_iter().map(|c| (c.id, c.uuid)));
        Ok(())
    }

    async fn post_messages(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let count = if self.rng.gen_bool(0.6) {
            1
        } else {
            self.rng.gen_range(2..=4)
        };
        let invalid = self.rng.gen_bool(0.1);
        let mut batch = Vec::new();
        for i in 0..count {
            let actor =
                ["user", "user", "assistant", "assistant", "system"][self.rng.gen_range(0..5)];
            let n = self.next();
            let (text, files) = message_text(&mut self.rng, n);
            let actor = if invalid && i == count - 1 {
                "robot"
            } else {
                actor
            };
            batch.push((
                actor,
                text,
                if actor == "assistant" { files } else { vec![] },
            ));
        }
        let single = count == 1 && self.rng.gen_bool(0.7);
        let body = if single {
            json!({"message": batch[0].1, "actor": batch[0].0})
        } else {
            json!({"messages": batch.iter().map(|(a, t, _)| json!({"content": t, "role": a})).collect::<Vec<_>>()})
        };
        // Through the user API as some user, or the tenant API with some tenant's key.
        let user_api = self.rng.gen_bool(0.5);
        let (path, auth, allowed) = if user_api {
            let Some(u) = self.user() else { return Ok(()) };
            let Some((path, mine)) = self.user_route(u, c, "/messages") else {
                return Ok(());
            };
            (path, self.model.users[u].auth.clone(), mine)
        } else {
            let tenant = usize::from(self.rng.gen_bool(0.2));
            let chat = &self.model.chats[c];
            (
                format!("/api/v1/chats/{}/messages", chat.uuid),
                self.model.keys[tenant].clone(),
                tenant == chat.tenant,
            )
        };
        let (status, answer) = self.call(Method::POST, &path, &auth, Some(body)).await;
        // The body is validated before the chat is looked up: a bad body is a 400 on any
        // chat id, which tells nothing about whose chat it is.
        if invalid {
            ensure!(
                status == StatusCode::BAD_REQUEST,
                "invalid actor: {status} {answer}"
            );
            return Ok(());
        }
        if !allowed {
            ensure!(
                status == StatusCode::NOT_FOUND,
                "post to a chat not theirs: {status} {answer}"
            );
            return Ok(());
        }
        let returned: Vec<Value> = match (user_api, single) {
            (true, true) => {
                ensure!(status == StatusCode::OK, "user post: {status} {answer}");
                vec![answer["chatMessage"].clone()]
            }
            (true, false) => {
                ensure!(status == StatusCode::OK, "user batch: {status} {answer}");
                answer["chatMessages"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            }
            (false, _) => {
                ensure!(
                    status == StatusCode::CREATED,
                    "tenant post: {status} {answer}"
                );
                answer["data"].as_array().cloned().unwrap_or_default()
            }
        };
        ensure!(
            returned.len() == batch.len(),
            "{} posted, {} returned: {answer}",
            batch.len(),
            returned.len()
        );
        for ((actor, text, files), shown) in batch.into_iter().zip(&returned) {
            let id = shown["id"].as_i64().ok_or(format!("no id in {shown}"))?;
            ensure!(
                id > self.model.last_message_id,
                "message id {id} does not grow past {}",
                self.model.last_message_id
            );
            self.model.last_message_id = id;
            self.learn_chat_id(c, shown)?;
            let message = Message {
                id,
                actor,
                text,
                files,
            };
            self.check_message(shown, &message, &self.model.chats[c], true)?;
            self.model.chats[c].messages.push(message);
        }
        Ok(())
    }

    async fn delete_last(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let user_api = self.rng.gen_bool(0.5);
        let (path, auth, allowed) = if user_api {
            let Some(u) = self.user() else { return Ok(()) };
            let Some((path, mine)) = self.user_route(u, c, "/messages/last") else {
                return Ok(());
            };
            (path, self.model.users[u].auth.clone(), mine)
        } else {
            let tenant = usize::from(self.rng.gen_bool(0.2));
            let chat = &self.model.chats[c];
            (
                format!("/api/v1/chats/{}/messages/last", chat.uuid),
                self.model.keys[tenant].clone(),
                tenant == chat.tenant,
            )
        };
        let (status, body) = self.call(Method::DELETE, &path, &auth, None).await;
        if !allowed {
            ensure!(
                status == StatusCode::NOT_FOUND,
                "delete-last on a chat not theirs: {status} {body}"
            );
            return Ok(());
        }
        let chat = self.model.chats[c].clone();
        if chat.messages.is_empty() {
            if user_api {
                ensure!(
                    status == StatusCode::BAD_REQUEST
                        && body
                            == json!({"statusCode":400,"statusMessage":"Bad Request.","data":"No messages found, for chat."}),
                    "delete-last on an empty chat: {status} {body}"
                );
            } else {
                ensure!(
                    status == StatusCode::BAD_REQUEST && body["error"]["code"] == "no_messages",
                    "tenant delete-last, empty: {status} {body}"
                );
            }
            return Ok(());
        }
        ensure!(status == StatusCode::OK, "delete-last: {status} {body}");
        let (trailing, exchange) = plan_delete_last(&chat.messages);
        let trailing_ids: Vec<i64> = trailing.iter().map(|m| m.id).collect();
        let keys: Vec<&str> = body
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut deleted = trailing_ids.clone();
        match &exchange {
            Some((user_side, assistant_side)) => {
                let mut want = vec!["maybeAssistantMessageToDelete", "maybeUserMessageToDelete"];
                if !trailing.is_empty() {
                    want.extend(["deletedSuccessfully", "failedToDelete"]);
                    ensure!(
                        body["deletedSuccessfully"] == json!(trailing_ids)
                            && body["failedToDelete"] == json!([]),
                        "trailing ids in {body}"
                    );
                }
                let mut got = keys.clone();
                got.sort_unstable();
                want.sort_unstable();
                ensure!(
                    got == want,
                    "delete-last keys {got:?}, want {want:?}: {body}"
                );
                self.check_message(&body["maybeUserMessageToDelete"], user_side, &chat, false)?;
                self.check_message(
                    &body["maybeAssistantMessageToDelete"],
                    assistant_side,
                    &chat,
                    false,
                )?;
                deleted.extend([user_side.id, assistant_side.id]);
            }
            None => {
                ensure!(
                    body == json!({"deletedSuccessfully": trailing_ids, "failedToDelete": []}),
                    "delete-last without an exchange: {body}, want trailing {trailing_ids:?}"
                );
            }
        }
        self.model.chats[c]
            .messages
            .retain(|m| !deleted.contains(&m.id));
        Ok(())
    }

    async fn list_user_chats_of(&mut self, u: usize, order: &str) -> Step {
        let (user_id, auth) = (self.model.users[u].id, self.model.users[u].auth.clone());
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/api/users/{user_id}/chats?order_by={order}"),
                &auth,
                None,
            )
            .await;
        ensure!(status == StatusCode::OK, "list chats: {status} {body}");
        let listed = body["chats"].as_array().cloned().unwrap_or_default();
        // Learn integer ids of chats created through the tenant API.
        for shown in &listed {
            if let Some(chat) = self
                .model
                .chats
                .iter_mut()
                .find(|c| shown["uuid"] == json!(c.uuid))
            {
                if chat.id.is_none() {
                    chat.id = shown["id"].as_i64();
                }
            }
        }
        let mut mine: Vec<&Chat> = self
            .model
            .chats
            .iter()
            .filter(|c| c.owner == Some(u))
            .collect();
        match order {
            "id:asc" => mine.sort_by_key(|c| c.id),
            "id:desc" => mine.sort_by_key(|c| std::cmp::Reverse(c.id)),
            "name:asc,id:asc" => mine.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id))),
            _ => mine.sort_by(|a, b| (&b.name, b.id).cmp(&(&a.name, a.id))),
        }
        let want: Vec<Value> = mine
            .iter()
            .map(|c| json!({"id": c.id, "uuid": c.uuid, "name": c.name, "model": c.model, "neptun_user_id": user_id}))
            .collect();
        let got: Vec<Value> = listed
            .iter()
            .map(|c| json!({"id": c["id"], "uuid": c["uuid"], "name": c["name"], "model": c["model"], "neptun_user_id": c["neptun_user_id"]}))
            .collect();
        ensure!(
            got == want,
            "chats of user {user_id} by {order}:\n got  {got:?}\n want {want:?}"
        );
        Ok(())
    }

    async fn list_user_chats(&mut self) -> Step {
        let Some(u) = self.user() else { return Ok(()) };
        let order =
            ["id:asc", "id:desc", "name:asc,id:asc", "name:desc,id:desc"][self.rng.gen_range(0..4)];
        self.list_user_chats_of(u, order).await
    }

    async fn list_messages(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let chat = self.model.chats[c].clone();
        if self.rng.gen_bool(0.5) {
            let Some(u) = self.user() else { return Ok(()) };
            let Some((path, mine)) = self.user_route(u, c, "/messages") else {
                return Ok(());
            };
            let auth = self.model.users[u].auth.clone();
            let (status, body) = self.call(Method::GET, &path, &auth, None).await;
            if !mine {
                ensure!(
                    (status, &body) == (StatusCode::NOT_FOUND, &user_error(404, "Chat not found")),
                    "another's messages: {status} {body}"
                );
                return Ok(());
            }
            ensure!(status == StatusCode::OK, "list messages: {status} {body}");
            let listed = body["chatMessages"].as_array().cloned().unwrap_or_default();
            return self.check_messages(&listed, &chat);
        }
        let tenant = usize::from(self.rng.gen_bool(0.2));
        let key = self.model.keys[tenant].clone();
        let limit = self.rng.gen_range(1..=4);
        let mut listed = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..=chat.messages.len() {
            let path = match &after {
                Some(a) => format!(
                    "/api/v1/chats/{}/messages?limit={limit}&after={a}",
                    chat.uuid
                ),
                None => format!("/api/v1/chats/{}/messages?limit={limit}", chat.uuid),
            };
            let (status, body) = self.call(Method::GET, &path, &key, None).await;
            if tenant != chat.tenant {
                ensure!(
                    status == StatusCode::NOT_FOUND && body["error"]["code"] == "chat_not_found",
                    "another tenant's messages: {status} {body}"
                );
                return Ok(());
            }
            ensure!(status == StatusCode::OK, "page: {status} {body}");
            let page = body["data"].as_array().cloned().unwrap_or_default();
            ensure!(page.len() <= limit, "page longer than {limit}: {body}");
            listed.extend(page);
            match body["next_cursor"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => return self.check_messages(&listed, &chat),
            }
        }
        Err(format!("pages of {} never end", chat.uuid))
    }

    async fn list_files(&mut self) -> Step {
        let (Some(u), Some(c)) = (self.user(), self.live_chat()) else {
            return Ok(());
        };
        let Some((path, mine)) = self.user_route(u, c, "/files") else {
            return Ok(());
        };
        let auth = self.model.users[u].auth.clone();
        let (status, body) = self.call(Method::GET, &path, &auth, None).await;
        if !mine {
            ensure!(
                status == StatusCode::NOT_FOUND,
                "another's files: {status} {body}"
            );
            return Ok(());
        }
        ensure!(status == StatusCode::OK, "files: {status} {body}");
        let chat = &self.model.chats[c];
        let want: Vec<Value> = chat
            .messages
            .iter()
            .flat_map(|m| m.files.iter().map(move |(t, l, e)| json!([m.id, t, l, e])))
            .collect();
        let got: Vec<Value> = body["chatFiles"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                json!([
                    f["chat_conversation_message_id"],
                    f["title"],
                    f["language"],
                    f["extension"]
                ])
            })
            .collect();
        ensure!(
            got == want,
            "files of chat {:?}:\n got  {got:?}\n want {want:?}",
            chat.id
        );
        Ok(())
    }

    async fn get_tenant_chat(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let tenant = usize::from(self.rng.gen_bool(0.3));
        let key = self.model.keys[tenant].clone();
        let chat = self.model.chats[c].clone();
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/api/v1/chats/{}", chat.uuid),
                &key,
                None,
            )
            .await;
        if tenant != chat.tenant {
            ensure!(
                status == StatusCode::NOT_FOUND && body["error"]["code"] == "chat_not_found",
                "another tenant's chat: {status} {body}"
            );
            return Ok(());
        }
        let owner = chat.owner.map(|u| self.model.users[u].id);
        ensure!(
            status == StatusCode::OK
                && body["id"] == json!(chat.uuid)
                && body["name"] == json!(chat.name)
                && body["model"] == json!(chat.model)
                && body["user_id"] == json!(owner)
                && body["message_count"] == json!(chat.messages.len())
                && body["active_connections"] == json!(0),
            "get chat: {status} {body}, model {chat:?}"
        );
        Ok(())
    }

    async fn list_tenant_chats(&mut self) -> Step {
        let tenant = usize::from(self.rng.gen_bool(0.3));
        let key = self.model.keys[tenant].clone();
        let limit = self.rng.gen_range(1..=5);
        let mut listed: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/chats?limit={limit}&cursor={c}"),
                None => format!("/api/v1/chats?limit={limit}"),
            };
            let (status, body) = self.call(Method::GET, &path, &key, None).await;
            ensure!(status == StatusCode::OK, "tenant chats: {status} {body}");
            listed.extend(body["data"].as_array().cloned().unwrap_or_default());
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            ensure!(
                listed.len() <= self.model.chats.len() + 1,
                "pages never end"
            );
        }
        // Newest first: the reverse of creation order, which the model's list keeps.
        let want: Vec<Value> = self
            .model
            .chats
            .iter()
            .rev()
            .filter(|c| c.tenant == tenant)
            .map(|c| json!([c.uuid, c.name, c.owner.map(|u| self.model.users[u].id)]))
            .collect();
        let got: Vec<Value> = listed
            .iter()
            .map(|c| json!([c["id"], c["name"], c["user_id"]]))
            .collect();
        ensure!(
            got == want,
            "tenant {tenant} chats:\n got  {got:?}\n want {want:?}"
        );
        Ok(())
    }

    /// Calls on deleted chats, and on other users' ids, are 404s.
    async fn poke_the_gone(&mut self) -> Step {
        if let Some(i) =
            (!self.model.gone.is_empty()).then(|| self.rng.gen_range(0..self.model.gone.len()))
        {
            let (id, uuid) = self.model.gone[i].clone();
            let key = self.model.keys[0].clone();
            let (status, _) = self
                .call(
                    Method::GET,
                    &format!("/api/v1/chats/{uuid}/messages"),
                    &key,
                    None,
                )
                .await;
            ensure!(
                status == StatusCode::NOT_FOUND,
                "deleted chat {uuid} answers {status}"
            );
            if let (Some(id), Some(u)) = (id, self.user()) {
                let (user_id, auth) = (self.model.users[u].id, self.model.users[u].auth.clone());
                let (status, body) = self
                    .call(
                        Method::GET,
                        &format!("/api/users/{user_id}/chats/{id}/messages"),
                        &auth,
                        None,
                    )
                    .await;
                ensure!(
                    (status, &body) == (StatusCode::NOT_FOUND, &user_error(404, "Chat not found")),
                    "deleted chat {id}: {status} {body}"
                );
            }
        }
        if self.model.users.len() >= 2 {
            let (a, b) = (self.model.users[0].auth.clone(), self.model.users[1].id);
            let (status, _) = self
                .call(Method::GET, &format!("/api/users/{b}/chats"), &a, None)
                .await;
            ensure!(
                status == StatusCode::NOT_FOUND,
                "another user's chat list answers {status}"
            );
        }
        Ok(())
    }

    async fn step(&mut self) -> Step {
        if self.model.users.is_empty() {
            return self.sign_up().await;
        }
        match self.rng.gen_range(0..100) {
            0..=2 if self.model.users.len() < 3 => self.sign_up().await,
            0..=5 => self.create_user_chat().await,
            6..=9 => self.create_tenant_chat().await,
            10..=13 => self.rename().await,
            14..=16 => self.delete_chat().await,
            17..=18 => self.bulk_delete().await,
            19..=50 => self.post_messages().await,
            51..=62 => self.delete_last().await,
            63..=69 => self.list_user_chats().await,
            70..=83 => self.list_messages().await,
            84..=88 => self.list_files().await,
            89..=93 => self.get_tenant_chat().await,
            94..=96 => self.list_tenant_chats().await,
            _ => self.poke_the_gone().await,
        }
    }
}

async fn random_call_sequences_match_the_model(backend: Backend) {
    let seed = env_number("CONFAB_MODEL_SEED", rand::random());
    let (cases, steps) = (
        env_number("CONFAB_MODEL_CASES", 3),
        env_number("CONFAB_MODEL_STEPS", 200),
    );
    println!("model test on {backend:?}: {cases} cases x {steps} steps, CONFAB_MODEL_SEED={seed}");
    let mut calls = 0;
    for case in 0..cases {
        let app = TestApp::spawn(backend).await;
        let keys = [
            default_tenant_key(&app).await,
            new_tenant(&app, "other").await.1,
        ];
        let mut run = Run {
            app: &app,
            rng: StdRng::seed_from_u64(seed.wrapping_add(case)),
            model: Model {
                users: Vec::new(),
                chats: Vec::new(),
                gone: Vec::new(),
                keys,
                last_message_id: 0,
                emails: 0,
            },
            n: 0,
            log: Vec::new(),
        };
        for step in 0..steps {
            if let Err(problem) = run.step().await {
                let recent = run
                    .log
                    .iter()
                    .rev()
                    .take(8)
                    .rev()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n  ");
                panic!(
                    "case {case} step {step} (CONFAB_MODEL_SEED={seed}): {problem}\nlast calls:\n  {recent}"
                );
            }
        }
        // Finally every live chat, through both APIs, as a last full comparison.
        for c in 0..run.model.chats.len() {
            let chat = run.model.chats[c].clone();
            let key = run.model.keys[chat.tenant].clone();
            let (status, body) = run
                .call(
                    Method::GET,
                    &format!("/api/v1/chats/{}/messages?limit=100", chat.uuid),
                    &key,
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let listed = body["data"].as_array().cloned().unwrap_or_default();
            if let Err(problem) = run.check_messages(&listed, &chat) {
                panic!("case {case} final check (CONFAB_MODEL_SEED={seed}): {problem}");
            }
        }
        calls += run.log.len();
        println!(
            "model test case {case}: {} calls, {} users, {} live chats, {} messages, {} deleted chats",
            run.log.len(),
            run.model.users.len(),
            run.model.chats.len(),
            run.model.chats.iter().map(|c| c.messages.len()).sum::<usize>(),
            run.model.gone.len()
        );
        drop(run);
        app.stop().await;
    }
    println!("model test on {backend:?}: {calls} calls compared with the model, seed {seed}");
}
