//! Big inputs the contract makes no exception for: a message is found by any of its
//! words however long it is (the default message limit is 512 KiB), and a word matches
//! only as a whole word however long the word is.

use super::*;
use crate::support::{Backend, TestApp};

crate::per_backend!(
    every_word_of_a_long_message_is_found,
    long_words_match_only_whole,
);

async fn every_word_of_a_long_message_is_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("long@example.com").await;
    let chat = app.create_chat(&user, "logs").await;
    // 20,000 words (about 150 KB, well under the message limit), then a unique one: a
    // pasted log or source file.
    let text = format!(
        "{} needleatthestart {} needleattheend",
        (0..10_000)
            .map(|n| format!("l{n}"))
            .collect::<Vec<_>>()
            .join(" "),
        (10_000..20_000)
            .map(|n| format!("l{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert!(text.len() < 512 * 1024);
    let id = app.post_message(&user, chat, "user", &text).await;
    let mut failures = Vec::new();
    for q in [
        "l5",
        "needleatthestart",
        "l19999",
        "needleattheend",
        "\"l19998 l19999\"",
    ] {
        let hits = user_hits(&app, &user, q).await;
        if message_ids(&hits) != [id] {
            failures.push(format!("q {q:?} does not find the long message"));
            continue;
        }
        if highlights(&hits[0]).is_empty() {
            failures.push(format!(
                "q {q:?}: the snippet does not show the match: {}",
                hits[0]["snippet"]
            ));
            continue;
        }
        assert_snippet_of(&hits[0], &text);
        assert_highlights_match(&hits[0], &[q.trim_matches('"')]);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn long_words_match_only_whole(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("words@example.com").await;
    let chat = app.create_chat(&user, "hashes").await;
    // Two 140-character words sharing their first 120 characters (say, two long
    // identifiers or base64 blobs).
    let shared = "q".repeat(120);
    let first = format!("{shared}{}", "a".repeat(20));
    let second = format!("{shared}{}", "b".repeat(20));
    let id = app
        .post_message(&user, chat, "user", &format!("token {first} here"))
        .await;
    let hits = user_hits(&app, &user, &first).await;
    assert_eq!(message_ids(&hits), [id], "the word itself is found");
    assert_highlights_match(&hits[0], &[first.as_str()]);
    let hits = user_hits(&app, &user, &second).await;
    assert!(
        hits.is_empty(),
        "another word is not this one, however long their common start: {hits:?}"
    );
    let hits = user_hits(&app, &user, &shared).await;
    assert!(hits.is_empty(), "nor is a part of it: {hits:?}");
    let hits = user_hits(&app, &user, &format!("{shared}*")).await;
    assert_eq!(message_ids(&hits), [id], "a prefix of it is");
}
