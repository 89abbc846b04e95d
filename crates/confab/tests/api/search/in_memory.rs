//! A SQLite database in memory is searched through sqlx (a file is searched through
//! rusqlite on a thread of its own): both give the same hits in the same order. (A
//! server on `sqlite::memory:` once answered 500 to every chat write: its point reads
//! opened sqlx's private name for the database as a file.)

use serde_json::Value;

use super::*;
use crate::support::database::TestDatabase;
use crate::support::{Backend, TestApp};
use crate::tenant_support::default_tenant_key;

const TEXTS: [&str; 6] = [
    "the harbour lights were on when the ferry came in",
    "harbour fees went up again this spring",
    "a ferry timetable for the winter, harbour to island",
    "nothing about boats here",
    "Harbourmaster's notes: the ferry was late",
    "lights, ferry, harbour: the usual words",
];

const QUERIES: [&str; 4] = ["harbour ferry", "\"the ferry\"", "harb*", "lights"];

/// Each query's hits on `app`, as `(message text or chat name, highlights)`, in order.
async fn answers(app: &TestApp) -> Vec<Vec<(String, Vec<(usize, usize)>)>> {
    let user = app.sign_up("sea@example.com").await;
    let chat = app.create_chat(&user, "harbour log").await;
    post_texts(app, &user, &TEXTS, |_| chat).await;
    let key = default_tenant_key(app).await;
    let mut all = Vec::new();
    for q in QUERIES {
        let shown = |hits: Vec<Value>| -> Vec<(String, Vec<(usize, usize)>)> {
            hits.iter()
                .map(|h| (h["snippet"].to_string(), highlights(h)))
                .collect()
        };
        all.push(shown(user_hits(app, &user, q).await));
        all.push(shown(tenant_hits(app, &key, &[("q", q)]).await));
    }
    all
}

#[tokio::test]
async fn a_database_in_memory_finds_what_a_file_finds() {
    let in_memory = TestApp::spawn_on(TestDatabase::in_memory(), |_| {}).await;
    let file = TestApp::spawn(Backend::Sqlite).await;
    let from_memory = answers(&in_memory).await;
    assert_eq!(from_memory, answers(&file).await);
    // Per query, the user route then the tenant route: three messages hold both words
    // (`harbourmaster` is another word); two hold the phrase; five messages and the
    // chat's name hold a word starting `harb`; two hold `lights`.
    let counts: Vec<usize> = from_memory.iter().map(Vec::len).collect();
    assert_eq!(counts, [3, 3, 2, 2, 6, 6, 2, 2], "{from_memory:?}");
}
