//! Snippets and highlights: at most 240 code points of the text around the match, and
//! highlights that point exactly at the matched text, in code points.

use serde_json::json;

use super::*;
use crate::support::{Backend, TestApp};
use crate::tenant_support::default_tenant_key;

crate::per_backend!(
    snippets_cut_long_texts_around_the_match,
    highlights_count_code_points_and_cover_every_occurrence,
);

/// `count` filler words `w0 w1 ...` with a prefix.
fn filler(prefix: &str, count: usize) -> String {
    (0..count)
        .map(|n| format!("{prefix}{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn snippets_cut_long_texts_around_the_match(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("snippets@example.com").await;
    let chat = app.create_chat(&user, "long texts").await;

    // A match far in the middle of 4,000+ characters.
    let middle = format!(
        "{} the platypus lays eggs {}",
        filler("before", 400),
        filler("after", 400)
    );
    assert!(middle.chars().count() > 4000);
    // Near the end, and at the very start.
    let end = format!("{} final platypus", filler("lead", 300));
    let start = format!("platypus first {}", filler("tail", 300));
    // Multi-byte text: code points, not bytes or UTF-16 units, count.
    let wide = format!(
        "{}カモノハシ{}",
        "🦆日本語の文章です。".repeat(60),
        "終わりの文章。".repeat(60)
    );
    let mut texts = Vec::new();
    for text in [&middle, &end, &start, &wide] {
        let id = app.post_message(&user, chat, "assistant", text).await;
        texts.push((id, text.clone()));
    }
    for (q, index, terms) in [
        ("platypus", 0, vec!["platypus"]),
        ("\"platypus lays\"", 0, vec!["platypus lays"]),
        ("platypus", 1, vec!["platypus"]),
        ("platypus", 2, vec!["platypus"]),
        ("カモノハシ", 3, vec!["カモノハシ"]),
        ("ノハ", 3, vec!["ノハ"]),
    ] {
        let (id, text) = &texts[index];
        for hits in [
            user_hits(&app, &user, q).await,
            tenant_hits(&app, &key, &[("q", q)]).await,
        ] {
            let hit = hits
                .iter()
                .find(|h| h["message_id"] == json!(id))
                .unwrap_or_else(|| panic!("q {q:?} finds message {id}"));
            let snippet = hit["snippet"].as_str().expect("snippet");
            assert!(snippet.chars().count() <= SNIPPET_MAX, "{hit}");
            assert!(
                snippet.chars().count() >= 40,
                "a long text gives a snippet of some length: {hit}"
            );
            assert_snippet_of(hit, text);
            assert_highlights_match(hit, &terms);
            assert_eq!(highlights(hit).len(), 1, "one occurrence: {hit}");
        }
    }
    // The middle match has context on both sides.
    let hits = user_hits(&app, &user, "lays").await;
    let snippet = hits[0]["snippet"].as_str().expect("snippet");
    assert!(
        snippet.contains("before399") || snippet.contains("after0"),
        "context around the match: {snippet}"
    );
}

async fn highlights_count_code_points_and_cover_every_occurrence(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("highlights@example.com").await;
    let chat = app.create_chat(&user, "highlights").await;
    for text in [
        "🦀🦀 crab émoji Crab",
        "line one\nCRAB\ttab\nend crab.",
        "Crabs are not a crab, crabcake neither; CRAB!",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 then crab",
        "e\u{301}te\u{301} crab", // decomposed accents: two code points each
    ] {
        app.post_message(&user, chat, "user", text).await;
    }
    let hits = user_hits(&app, &user, "crab").await;
    assert_eq!(hits.len(), 5, "{hits:?}");
    for hit in &hits {
        assert_highlights_match(hit, &["crab"]);
        let snippet: Vec<char> = hit["snippet"].as_str().expect("snippet").chars().collect();
        // Every whole-word "crab" of the snippet is highlighted, nothing else.
        let mut expected = Vec::new();
        for start in 0..snippet.len().saturating_sub(3) {
            let piece: String = snippet[start..start + 4].iter().collect();
            let before = start.checked_sub(1).map(|i| snippet[i]);
            let after = snippet.get(start + 4).copied();
            if fold(&piece) == "crab"
                && !before.is_some_and(char::is_alphanumeric)
                && !after.is_some_and(char::is_alphanumeric)
            {
                expected.push((start, start + 4));
            }
        }
        assert_eq!(highlights(hit), expected, "{hit}");
    }
    let by_text = |text: &str| {
        hits.iter()
            .find(|h| h["snippet"] == text)
            .unwrap_or_else(|| panic!("a whole-text snippet {text:?} in {hits:?}"))
            .clone()
    };
    // Short texts are snippets whole; offsets are code points.
    assert_eq!(
        by_text("🦀🦀 crab émoji Crab")["highlights"],
        json!([[3, 7], [14, 18]])
    );
    assert_eq!(
        by_text("line one CRAB tab end crab.")["highlights"],
        json!([[9, 13], [22, 26]])
    );
    assert_eq!(
        by_text("Crabs are not a crab, crabcake neither; CRAB!")["highlights"],
        json!([[16, 20], [40, 44]])
    );
    assert_eq!(
        by_text("𝔘𝔫𝔦𝔠𝔬𝔡𝔢 then crab")["highlights"],
        json!([[13, 17]])
    );
    assert_eq!(
        by_text("e\u{301}te\u{301} crab")["highlights"],
        json!([[6, 10]])
    );
}
