//! The data lifecycle through kills (SPEC §9). Each round a fresh user has a live chat
//! and a chat in the trash; while the node is killed, the user's trashed chat is
//! restored and then the user is erased through the tenant API. After the restart no
//! user is half erased (either every chat of theirs is there, whole, and they can log
//! in, or nothing of theirs is), and no restored chat is missing a message.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::api::{send, Answer, Api};

const PASSWORD: &str = "erase me whole";
/// Messages in the live chat and in the trashed one.
const LIVE_MESSAGES: usize = 3;
const TRASHED_MESSAGES: usize = 2;

/// One round's user, and what was acknowledged of their restore and erasure.
struct Round {
    email: String,
    user_id: i64,
    cookie: String,
    live_chat: i64,
    trashed_chat: i64,
    /// Both chats' uuids, for the tenant API.
    uuids: Vec<String>,
    restored: Acked,
    erased: Acked,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Acked {
    /// Never sent (the kill came first).
    NotSent,
    /// Sent; the answer never came.
    Unknown,
    Yes,
}

fn acked(answer: &Answer, ok: StatusCode) -> Acked {
    match answer {
        Some((status, _)) if *status == ok => Acked::Yes,
        _ => Acked::Unknown,
    }
}

pub struct Lifecycle {
    /// A key of the default tenant, where signed-up users live.
    key: Api,
    round: Option<Round>,
    pub erased: u64,
    pub restored: u64,
}

impl Lifecycle {
    pub fn new(key: String) -> Lifecycle {
        Lifecycle {
            key: Api::Tenant { key },
            round: None,
            erased: 0,
            restored: 0,
        }
    }

    /// With the node up: a fresh user with a live chat and a trashed one.
    pub async fn prepare(&mut self, client: &reqwest::Client, base: &str, round: usize) {
        let email = format!("erase{round}@example.com");
        let response = client
            .post(format!("{base}/api/auth/sign-up"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("sign-up");
        assert_eq!(response.status(), StatusCode::CREATED, "sign-up of {email}");
        let cookie = format!(
            "neptun-session={}",
            crate::support::session_cookie(&response).expect("cookie")
        );
        let body: Value = response.json().await.expect("sign-up body");
        let user_id = body["user"]["id"].as_i64().expect("user id");
        let api = Api::User {
            cookie: cookie.clone(),
            user_id,
        };
        let mut chats = Vec::new();
        let mut uuids = Vec::new();
        for (name, messages) in [("live", LIVE_MESSAGES), ("trashed", TRASHED_MESSAGES)] {
            let (_, body) = send(
                client,
                base,
                &api,
                Method::POST,
                &api.chats_path(),
                Some(json!({"name": name})),
            )
            .await
            .expect("create chat");
            let chat = body["chat"]["id"].as_i64().expect("chat id");
            uuids.push(body["chat"]["uuid"].as_str().expect("uuid").to_owned());
            for n in 0..messages {
                let (status, body) = send(
                    client,
                    base,
                    &api,
                    Method::POST,
                    &format!("/api/users/{user_id}/chats/{chat}/messages"),
                    Some(json!({"message": format!("{name} {n}"), "actor": "user"})),
                )
                .await
                .expect("post");
                assert_eq!(status, StatusCode::OK, "{body}");
            }
            chats.push(chat);
        }
        let (status, _) = send(
            client,
            base,
            &api,
            Method::DELETE,
            &format!("/api/users/{user_id}/chats/{}", chats[1]),
            None,
        )
        .await
        .expect("trash");
        assert_eq!(status, StatusCode::OK);
        self.round = Some(Round {
            email,
            user_id,
            cookie,
            live_chat: chats[0],
            trashed_chat: chats[1],
            uuids,
            restored: Acked::NotSent,
            erased: Acked::NotSent,
        });
    }

    /// While the node may die: restore the trashed chat, then erase the user.
    pub async fn run(mut self, client: reqwest::Client, base: String) -> Lifecycle {
        let Some(mut round) = self.round.take() else {
            return self;
        };
        let api = Api::User {
            cookie: round.cookie.clone(),
            user_id: round.user_id,
        };
        round.restored = Acked::Unknown;
        let answer = send(
            &client,
            &base,
            &api,
            Method::POST,
            &format!(
                "/api/users/{}/chats/{}/restore",
                round.user_id, round.trashed_chat
            ),
            Some(json!({})),
        )
        .await;
        round.restored = acked(&answer, StatusCode::OK);
        if round.restored == Acked::Yes {
            round.erased = Acked::Unknown;
            let answer = send(
                &client,
                &base,
                &self.key,
                Method::DELETE,
                &format!("/api/v1/users/{}", round.user_id),
                None,
            )
            .await;
            round.erased = acked(&answer, StatusCode::OK);
        }
        self.round = Some(round);
        self
    }

    /// After the restart: the user whole or wholly gone, the restored chat whole.
    pub async fn verify(&mut self, client: &reqwest::Client, base: &str) -> Vec<String> {
        let Some(round) = self.round.take() else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        let login = client
            .post(format!("{base}/api/auth/login"))
            .json(&json!({"email": round.email, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        let present = match login.status() {
            StatusCode::OK => true,
            StatusCode::UNAUTHORIZED => false,
            other => {
                problems.push(format!("login of {}: {other}", round.email));
                return problems;
            }
        };
        if round.erased == Acked::Yes && present {
            problems.push(format!("user {} was erased, yet logs in", round.user_id));
        }
        let mut chats_seen = 0;
        for chat in [round.live_chat, round.trashed_chat] {
            let answer = send(
                client,
                base,
                &Api::User {
                    cookie: round.cookie.clone(),
                    user_id: round.user_id,
                },
                Method::GET,
                &format!("/api/users/{}/chats/{chat}/messages", round.user_id),
                None,
            )
            .await;
            // The round's session goes with the user; a present user's session stays.
            match (present, answer) {
                (true, Some((StatusCode::OK, body))) => {
                    chats_seen += 1;
                    let count = body["chatMessages"].as_array().map_or(0, Vec::len);
                    let want = if chat == round.live_chat {
                        LIVE_MESSAGES
                    } else {
                        TRASHED_MESSAGES
                    };
                    if count != want {
                        problems.push(format!("chat {chat} holds {count} messages, not {want}"));
                    }
                }
                (true, Some((StatusCode::NOT_FOUND, _))) if chat == round.trashed_chat => {
                    if round.restored == Acked::Yes {
                        problems.push(format!("restored chat {chat} is not back"));
                    }
                }
                (false, Some((StatusCode::UNAUTHORIZED, _))) => {}
                (present, other) => problems.push(format!(
                    "chat {chat} of {} user: {other:?}",
                    if present { "a present" } else { "an erased" }
                )),
            }
        }
        if present && chats_seen == 0 {
            problems.push(format!(
                "user {} is there without their live chat",
                round.user_id
            ));
        }
        if !present {
            self.erased += 1;
            // Nothing of theirs is left for the tenant either.
            for uuid in &round.uuids {
                let path = format!("/api/v1/chats/{uuid}");
                match send(client, base, &self.key, Method::GET, &path, None).await {
                    Some((StatusCode::NOT_FOUND, _)) => {}
                    other => problems.push(format!(
                        "a chat of erased user {}: {other:?}",
                        round.user_id
                    )),
                }
            }
        }
        if round.restored == Acked::Yes {
            self.restored += 1;
        }
        problems
    }
}
