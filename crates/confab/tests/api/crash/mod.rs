//! Crash safety: the real `confab serve` process under concurrent load through both APIs,
//! killed with SIGKILL at random moments, restarted, and checked after every restart.
//!
//! Workers ([`worker`]) each own a few chats and run random operations on them one at a
//! time (single and batch appends under the current leaf or a named parent, edits, branch
//! switches, delete-last, chat deletes, bulk deletes, chat creation), so every chat has an
//! exact model of its acknowledged tree and current leaf; the workers run concurrently,
//! so the server sees concurrent writes to many chats at once. When the process dies,
//! each worker's one request in flight has an unknown outcome. After each kill:
//!
//! * with the server down, the database itself ([`database`]): on SQLite
//!   `PRAGMA integrity_check` is `ok` and `PRAGMA foreign_key_check` is empty; on both
//!   engines no file lacks its message (in the same chat), no message lacks its chat, no
//!   parent is outside its message's chat, no chat's current leaf is outside it (or null
//!   while it has messages), and no message is on a cycle of parents;
//! * after the restart, over the API ([`verify`]): every chat holds exactly its
//!   acknowledged tree (ids, parents, actors, texts, file counts) and current leaf —
//!   nothing acknowledged lost, no acknowledged edit or branch switch undone, nothing
//!   reported deleted back — except that the one request in flight is either wholly
//!   applied or not at all: a batch lands whole or not, an edit adds its sibling and
//!   moves the leaf to it or does neither, a switch moves the leaf to the newest leaf of
//!   its subtree or leaves it, a delete-last removes its whole exchange with its
//!   subtrees or nothing, a bulk delete removes every named chat or none; and every tree
//!   is well-formed, its listed path the chain from the current leaf up to the root;
//! * [`contended`] chats, written by several clients at once, keep what must hold under
//!   any interleaving;
//! * [`lifecycle`]: a user erased while the node dies is erased wholly or not at all,
//!   and a chat restored from the trash comes back with every message;
//! * [`import`]: each conversation of an import cut by a kill is stored whole or not at
//!   all, and importing the file again stores exactly the rest.
//!
//! `CONFAB_CRASH_KILLS` sets the number of kills (default 20; CI refuses fewer);
//! `CONFAB_CRASH_SEED` replays a run (the seed is printed).

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

use crate::per_backend;
use crate::support::process::{run_cli, start_node_with, Node};
use crate::support::{session_cookie, Backend, TestDatabase};

mod api;
mod contended;
mod database;
mod import;
mod lifecycle;
mod replies;
mod verify;
mod worker;

use api::{send, Api};
use contended::Contended;
use database::check_database;
use import::Importer;
use lifecycle::Lifecycle;
use replies::Generator;
use verify::verify_worker;
use worker::Worker;

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

/// This test is load, not abuse: the per-key and per-user request rate limits would
/// refuse its workers.
const LOAD_TEST_FLAGS: &[&str] = &[
    "--api-key-rate-per-second",
    "0",
    "--user-write-rate-per-second",
    "0",
    // A user signs up and logs in every round (the lifecycle's).
    "--auth-ip-attempts",
    "0",
    // Deletes go to the trash, where the lifecycle restores a chat from.
    "--trash-days",
    "7",
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

    // Replies come from the test double (SPEC §8).
    let double = crate::support::llm_double::LlmDouble::start().await;
    let base_url = double.base_url();
    let mut flags = LOAD_TEST_FLAGS.to_vec();
    flags.extend(["--llm-base-url", &base_url]);
    let mut node = start_node_with("crash", &url, &flags).await;
    let user = sign_up(&client, &node).await;
    let (ok, out, err) = run_cli(&["tenant", "create", "crash", "--database-url", &url], None);
    assert!(ok, "tenant create: {err}");
    let created: Value = serde_json::from_str(out.trim()).expect("tenant create JSON");
    let tenant = Api::Tenant {
        key: created["api_key"].as_str().expect("api_key").to_owned(),
    };
    // Imports go to a tenant of their own, so its export holds only imported chats.
    let (ok, out, err) = run_cli(
        &["tenant", "create", "imports", "--database-url", &url],
        None,
    );
    assert!(ok, "tenant create: {err}");
    let created: Value = serde_json::from_str(out.trim()).expect("tenant create JSON");
    let mut importer = Importer::new(created["api_key"].as_str().expect("api_key").to_owned());

    let mut generator =
        Generator::new(&client, &format!("http://{}", node.address), user.clone()).await;
    let (ok, out, err) = run_cli(
        &[
            "key",
            "create",
            "--tenant",
            "default",
            "--database-url",
            &url,
        ],
        None,
    );
    assert!(ok, "key create: {err}");
    let default_key: Value = serde_json::from_str(out.trim()).expect("key create JSON");
    let mut lifecycle =
        Lifecycle::new(default_key["api_key"].as_str().expect("api_key").to_owned());
    let mut rng = StdRng::seed_from_u64(seed);
    let mut workers: Vec<Worker> = (0..USER_WORKERS + TENANT_WORKERS)
        .map(|index| {
            let api = if index < USER_WORKERS {
                user.clone()
            } else {
                tenant.clone()
            };
            let rng = StdRng::seed_from_u64(
                seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            );
            Worker::new(index, api, rng)
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
        contended.push(Contended::new(api, route_id));
    }

    let mut problems = Vec::new();
    let mut checked_messages = 0u64;
    for round in 1..=kills {
        let base = format!("http://{}", node.address);
        lifecycle.prepare(&client, &base, round).await;
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
        let generating = tokio::spawn(generator.run(client.clone(), base.clone()));
        let erasing = tokio::spawn(lifecycle.run(client.clone(), base.clone()));
        let importing = tokio::spawn(importer.run(client.clone(), base.clone(), round));
        let kill_after = Duration::from_millis(rng.gen_range(30..600));
        let (outcomes, ()) = tokio::join!(races, async {
            tokio::time::sleep(kill_after).await;
            node.kill9();
        });
        for task in tasks {
            workers.push(task.await.expect("worker task"));
        }
        generator = generating.await.expect("generator task");
        lifecycle = erasing.await.expect("lifecycle task");
        importer = importing.await.expect("importer task");
        problems.append(&mut generator.errors);
        for worker in &mut workers {
            problems.append(&mut worker.errors);
        }
        problems.extend(
            check_database(backend, &url)
                .await
                .into_iter()
                .map(|p| format!("after kill {round}: {p}")),
        );

        node = start_node_with("crash", &url, &flags).await;
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
        problems.extend(
            generator
                .verify(&client, &base)
                .await
                .into_iter()
                .map(|p| format!("after kill {round}: {p}")),
        );
        problems.extend(
            lifecycle
                .verify(&client, &base)
                .await
                .into_iter()
                .map(|p| format!("after kill {round}: {p}")),
        );
        problems.extend(
            importer
                .verify(&client, &base)
                .await
                .into_iter()
                .map(|p| format!("after kill {round}: {p}")),
        );
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
        .map(|c| c.tree.len())
        .sum();
    let edits: u64 = workers.iter().map(|w| w.edits).sum();
    let switches: u64 = workers.iter().map(|w| w.switches).sum();
    let in_flight: u64 = workers.iter().map(|w| w.in_flight).sum();
    let landed: u64 = workers.iter().map(|w| w.landed).sum();
    println!(
        "crash test on {backend:?}: {kills} kills survived; {acknowledged} acknowledged writes \
         ({edits} edits, {switches} branch switches); \
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
    println!(
        "crash test on {backend:?}: {} replies generated whole, {} cut by a kill (each found \
         interrupted or complete after the restart, with a prefix of its text)",
        generator.generated, generator.cut
    );
    println!(
        "crash test on {backend:?}: {} users found erased whole after a kill, the rest whole; \
         {} acknowledged restores found whole",
        lifecycle.erased, lifecycle.restored
    );
    println!(
        "crash test on {backend:?}: {} of {kills} imports acknowledged before their kill; \
         {} imported chats found whole at the end (each round's file imported again after \
         the restart stored exactly the missing conversations)",
        importer.acknowledged, importer.found_whole
    );
    assert!(acknowledged > 0, "no write was acknowledged at all");
}
