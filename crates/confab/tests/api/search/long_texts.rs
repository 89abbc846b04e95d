//! Big inputs, against the limits docs/api.md states (the brief's contract has none of
//! them; see the report): the first 16,383 words of a message are indexed, a snippet is
//! cut from its first 32,768 characters, words are compared by their first 100
//! characters; and a `q` the contract accepts must fit the server's URL limit.

use reqwest::StatusCode;

use super::*;
use crate::support::{Backend, TestApp};
use crate::tenant_support::default_tenant_key;

crate::per_backend!(
    long_messages_are_searched_as_documented,
    long_words_are_compared_by_their_first_100_characters,
    a_q_of_500_characters_fits_the_url_limit,
);

async fn long_messages_are_searched_as_documented(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("long@example.com").await;
    let chat = app.create_chat(&user, "logs").await;
    // 20,000 words (about 150 KB, well under the 512 KiB message limit): a pasted log.
    // `needlemid` is word 3,001 (character ~19,000), `needlelate` word 10,001 (character
    // ~59,000: past the snippet source), `needleend` word 20,001 (past the index).
    let words = |range: std::ops::Range<usize>| {
        range.map(|n| format!("l{n}")).collect::<Vec<_>>().join(" ")
    };
    let text = format!(
        "{} needlemid {} needlelate {} needleend",
        words(0..3_000),
        words(3_000..10_000),
        words(10_000..20_000)
    );
    assert!(text.len() < 512 * 1024);
    let id = app.post_message(&user, chat, "user", &text).await;
    for q in ["l5", "needlemid", "\"l2999 needlemid l3000\"", "l16000"] {
        let hits = user_hits(&app, &user, q).await;
        assert_eq!(message_ids(&hits), [id], "q {q:?} finds the long message");
        assert_snippet_of(&hits[0], &text);
        if q != "l16000" {
            assert_highlights_match(&hits[0], &[q.trim_matches('"')]);
        }
    }
    // Past 32,768 characters: found, and the snippet is the beginning, unhighlighted.
    let hits = user_hits(&app, &user, "needlelate").await;
    assert_eq!(message_ids(&hits), [id]);
    assert!(hits[0]["snippet"]
        .as_str()
        .is_some_and(|s| s.starts_with("l0 l1 l2")));
    assert!(highlights(&hits[0]).is_empty(), "{}", hits[0]);
    // Past 16,383 words: not indexed.
    for q in ["needleend", "l19999"] {
        assert!(user_hits(&app, &user, q).await.is_empty(), "q {q:?}");
    }
}

async fn long_words_are_compared_by_their_first_100_characters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("words@example.com").await;
    let chat = app.create_chat(&user, "hashes").await;
    let stem = "q".repeat(100);
    let word = format!("{stem}{}", "a".repeat(40));
    let id = app
        .post_message(&user, chat, "user", &format!("token {word} here"))
        .await;
    let hits = user_hits(&app, &user, &word).await;
    assert_eq!(message_ids(&hits), [id], "the word itself is found");
    assert_eq!(highlights(&hits[0]), [(6, 146)], "highlighted whole");
    // Documented: a word sharing the first 100 characters is the same word.
    let twin = format!("{stem}{}", "b".repeat(40));
    assert_eq!(message_ids(&user_hits(&app, &user, &twin).await), [id]);
    // One differing within the first 100 is not, nor is a shorter piece.
    let other = format!("{}b{}", "q".repeat(99), "a".repeat(40));
    assert!(user_hits(&app, &user, &other).await.is_empty());
    assert!(user_hits(&app, &user, &"q".repeat(99)).await.is_empty());
    assert_eq!(
        message_ids(&user_hits(&app, &user, &format!("{}*", "q".repeat(60))).await),
        [id],
        "a prefix of it is"
    );
}

/// 500 characters of 4-byte characters (emoji between Korean words): docs/api.md accepts
/// any 500 characters, so the server's URL limit must let them through.
async fn a_q_of_500_characters_fits_the_url_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("korean@example.com").await;
    let chat = app.create_chat(&user, "한국어").await;
    let word = "가나다라마바사아자차카타파하가";
    app.post_message(&user, chat, "user", word).await;
    // 15 Korean characters and 🦀🦀 (4 bytes each, separators) per word, crabs up to 500.
    let mut korean = vec![format!("{word}🦀🦀"); 27].join(" ");
    while korean.chars().count() < 500 {
        korean.push('🦀');
    }
    assert_eq!(korean.chars().count(), 500);
    for (path, auth) in [
        (user_path(&user, &[("q", &korean)]), &user.auth),
        (tenant_path(&[("q", &korean)]), &key),
    ] {
        let (status, body) = app.get(&path, auth).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "a q of 500 characters, {} URL bytes: {body}",
            path.len()
        );
        let found = body["results"].as_array().or(body["data"].as_array());
        assert_eq!(found.map(Vec::len), Some(1), "{body}");
    }
}
