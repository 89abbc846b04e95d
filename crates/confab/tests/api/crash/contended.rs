//! Contended chats (one per API), written by several clients at once: no exact model,
//! so what is checked is what must hold under any interleaving (see [`Contended`]).

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::api::{
    actor_of, message_text, messages_of, send, shape_problems, stored_raw, stored_tree, Api,
};
use crate::support::tree::reported_deleted;

/// A message of a contended chat: its place in chat order (`created_at`, id) and actor.
#[derive(Debug, Clone)]
pub struct Placed {
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
///   batch is there whole or not at all (unless the delete-last in flight took its end);
/// * the tree is well-formed and, since nothing here branches, one chain: every message
///   is on the active path and the current leaf is its end (null exactly while empty).
pub struct Contended {
    pub api: Api,
    pub route_id: String,
    /// Messages known to be stored: what the server showed after the last restart,
    /// plus what was acknowledged since.
    pub known: BTreeMap<i64, Placed>,
    /// Ids acknowledged delete-lasts reported deleted.
    pub reported: BTreeSet<i64>,
    pub acknowledged: u64,
}

pub struct AppenderOutcome {
    acked: Vec<(i64, Placed)>,
    /// Texts of the batch whose answer never came.
    in_flight: Option<Vec<String>>,
    errors: Vec<String>,
}

pub struct DeleterOutcome {
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
    pub fn new(api: Api, route_id: String) -> Contended {
        Contended {
            api,
            route_id,
            known: BTreeMap::new(),
            reported: BTreeSet::new(),
            acknowledged: 0,
        }
    }

    /// Runs the writers until the server dies; returns their outcomes.
    pub async fn run(
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
    pub async fn verify(
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
        match stored_tree(client, base, &self.api, &chat).await {
            Ok(Some(tree)) => {
                problems.extend(shape_problems(&chat, &tree));
                if tree.listed.len() != tree.tree.len() {
                    problems.push(format!(
                        "contended chat {chat}: {} messages, {} of them on the active path",
                        tree.tree.len(),
                        tree.listed.len()
                    ));
                }
            }
            Ok(None) => problems.push(format!("contended chat {chat}: no tree")),
            Err(e) => problems.push(e),
        }
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
