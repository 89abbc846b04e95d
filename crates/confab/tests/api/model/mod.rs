//! Model-based test: random sequences of API calls against the real server and against a
//! plain in-memory model of SPEC §2/§3/§6, comparing every answer.
//!
//! The model knows users, which tenant each chat is in and who owns it, names, models,
//! and each chat's message tree: every message with its parent, actor, text and code
//! files (titles, languages, extensions), and the chat's current leaf. It predicts what
//! every call must answer: status, and the body fields that follow from the spec (ids,
//! the active path with `parent_id` and `sibling_ids`, files, delete-last bodies with the
//! subtrees they take, edits, branch switches, whole trees, chat views with
//! `current_message_id`, the 400s of references outside the chat and the 404s of other
//! users and tenants). Ids are learnt from the server's answers and must grow;
//! timestamps are not modelled.
//!
//! [`state`] holds the model and its pure tree logic, [`check`] compares answers with it,
//! [`chats`] and [`messages`] are the operations of SPEC §2/§3, [`tree_ops`] those of §6,
//! [`replies`] generated replies (§8, against the test double), [`organise`] flags, the
//! trash and shares (§9), [`portability`] export and re-import (§10).
//!
//! Each case runs `CONFAB_MODEL_STEPS` steps (default 200); `CONFAB_MODEL_CASES` cases
//! (default 3) per backend. The seed is printed; `CONFAB_MODEL_SEED` replays a run.

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::per_backend;
use crate::support::llm_double::LlmDouble;
use crate::support::{user_error, Auth, Backend, TestApp};
use crate::tenant_support::{default_tenant_key, new_tenant};

macro_rules! ensure {
    ($cond:expr, $($what:tt)+) => {
        if !$cond {
            return Err(format!($($what)+));
        }
    };
}

mod chats;
mod check;
mod messages;
mod organise;
mod portability;
mod replies;
mod search;
mod state;
mod tree_ops;

use state::Model;

per_backend!(random_call_sequences_match_the_model);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

struct Run<'a> {
    app: &'a TestApp,
    rng: StdRng,
    model: Model,
    n: u64,
    log: Vec<String>,
}

type Step = Result<(), String>;

/// Where a call on a chat goes, through one API or the other.
struct Target {
    path: String,
    auth: Auth,
    /// Whether the caller may see the chat (else: 404).
    allowed: bool,
    user_api: bool,
}

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

    /// A route on chat `c`: through the user API as some user (half the time), else
    /// through the tenant API with some tenant's key. `None` when the chat cannot be
    /// named that way yet.
    fn target(&mut self, c: usize, suffix: &str) -> Option<Target> {
        if self.rng.gen_bool(0.5) {
            let u = self.user()?;
            let (path, allowed) = self.user_route(u, c, suffix)?;
            return Some(Target {
                path,
                auth: self.model.users[u].auth.clone(),
                allowed,
                user_api: true,
            });
        }
        let tenant = usize::from(self.rng.gen_bool(0.2));
        let chat = &self.model.chats[c];
        Some(Target {
            path: format!("/api/v1/chats/{}{suffix}", chat.uuid),
            auth: self.model.keys[tenant].clone(),
            allowed: tenant == chat.tenant,
            user_api: false,
        })
    }

    /// The answer to a call on a chat the caller may not see: 404 in the API's shape.
    fn chat_not_found(target: &Target, status: StatusCode, body: &Value, what: &str) -> Step {
        if target.user_api {
            ensure!(
                (status, body) == (StatusCode::NOT_FOUND, &user_error(404, "Chat not found")),
                "{what} in another's chat: {status} {body}"
            );
        } else {
            ensure!(
                status == StatusCode::NOT_FOUND && body["error"]["code"] == "chat_not_found",
                "{what} in another tenant's chat: {status} {body}"
            );
        }
        Ok(())
    }

    /// A 400 in the API's shape; the tenant API's error code must be `code`.
    fn bad_request(target: &Target, status: StatusCode, body: &Value, code: &str) -> Step {
        ensure!(
            status == StatusCode::BAD_REQUEST,
            "want 400: {status} {body}"
        );
        if target.user_api {
            ensure!(
                body["statusCode"] == 400 && body["data"]["message"].is_string(),
                "user API 400 shape: {body}"
            );
        } else {
            ensure!(
                body["success"] == false && body["error"]["code"] == code,
                "tenant 400 {code}: {body}"
            );
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

    /// The id of a message the server just created: it must be larger than every id
    /// seen before.
    fn fresh_message_id(&mut self, shown: &Value) -> Result<i64, String> {
        let id = shown["id"].as_i64().ok_or(format!("no id in {shown}"))?;
        ensure!(
            id > self.model.last_message_id,
            "message id {id} does not grow past {}",
            self.model.last_message_id
        );
        self.model.last_message_id = id;
        Ok(id)
    }

    async fn step(&mut self) -> Step {
        if self.model.users.is_empty() {
            return self.sign_up().await;
        }
        match self.rng.gen_range(0..124) {
            0..=2 if self.model.users.len() < 3 => self.sign_up().await,
            0..=5 => self.create_user_chat().await,
            6..=9 => self.create_tenant_chat().await,
            10..=12 => self.organise().await,
            13..=15 => self.delete_chat().await,
            16..=17 => self.bulk_delete().await,
            18..=43 => self.post_messages().await,
            44..=53 => self.delete_last().await,
            54..=61 => self.edit().await,
            62..=67 => self.switch().await,
            68..=71 => self.tree().await,
            72..=76 => self.list_user_chats().await,
            77..=86 => self.list_messages().await,
            87..=89 => self.list_files().await,
            90..=93 => self.get_tenant_chat().await,
            94..=96 => self.list_tenant_chats().await,
            97..=101 => self.search().await,
            102..=105 => self.generate().await,
            106..=109 => self.restore().await,
            110..=111 => self.purge().await,
            112..=114 => self.list_trash().await,
            115..=117 => self.share().await,
            118..=120 => self.export().await,
            121 => self.reimport().await,
            _ => self.poke_the_gone().await,
        }
    }

    /// Every live chat through the tenant API: its active path and its whole tree.
    async fn final_check(&mut self) -> Step {
        for c in 0..self.model.chats.len() {
            let chat = self.model.chats[c].clone();
            let key = self.model.keys[chat.tenant].clone();
            let path = format!("/api/v1/chats/{}/messages?limit=100", chat.uuid);
            let (status, body) = self.call(Method::GET, &path, &key, None).await;
            ensure!(status == StatusCode::OK, "{path}: {status} {body}");
            let listed = body["data"].as_array().cloned().unwrap_or_default();
            self.check_path(&listed, &chat)?;
            let path = format!("/api/v1/chats/{}/tree", chat.uuid);
            let (status, body) = self.call(Method::GET, &path, &key, None).await;
            ensure!(status == StatusCode::OK, "{path}: {status} {body}");
            self.check_tree(&body, &body["data"], &chat)?;
        }
        Ok(())
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
        // Sign-up throttles are tested in accounts.rs and limits.rs; here duplicate
        // sign-ups for one address would cross the per-account failure limit by chance.
        let double = LlmDouble::start().await;
        let app = TestApp::spawn_with(backend, |config| {
            config.abuse.auth_ip_attempts = 0;
            config.abuse.auth_account_failures = 0;
            config.llm.llm_base_url = Some(double.base_url());
            // Deletes go to the trash, and the model restores and purges them.
            config.lifecycle.trash_days = 7;
            // Long runs read more share links than a client address may a minute.
            config.abuse.shared_ip_reads_per_minute = 0;
            // Long runs (CONFAB_MODEL_STEPS) outpace a key's request rate.
            config.abuse.api_key_rate_per_second = 0;
        })
        .await;
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
                trash: Vec::new(),
                gone_messages: Vec::new(),
                keys,
                last_message_id: 0,
                emails: 0,
                born: 0,
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
        // Finally every live chat, as a last full comparison.
        if let Err(problem) = run.final_check().await {
            panic!("case {case} final check (CONFAB_MODEL_SEED={seed}): {problem}");
        }
        calls += run.log.len();
        let chats = &run.model.chats;
        println!(
            "model test case {case}: {} calls, {} users, {} live chats, {} messages ({} on active \
             paths, {} branched chats), {} deleted chats",
            run.log.len(),
            run.model.users.len(),
            chats.len(),
            chats.iter().map(|c| c.tree.len()).sum::<usize>(),
            chats.iter().map(|c| c.tree.path().len()).sum::<usize>(),
            chats
                .iter()
                .filter(|c| c.tree.len() > c.tree.path().len())
                .count(),
            run.model.gone.len()
        );
        drop(run);
        app.stop().await;
    }
    println!("model test on {backend:?}: {calls} calls compared with the model, seed {seed}");
}
