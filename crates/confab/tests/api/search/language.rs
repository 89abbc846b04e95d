//! The query language: AND of whole words, phrases, prefixes, folding of case,
//! diacritics and width, words with separators as phrases, CJK substrings — and the
//! same SET of hits on both engines for a corpus written down by hand.

use std::collections::BTreeMap;

use super::*;
use crate::support::{Backend, TestApp};
use crate::tenant_support::default_tenant_key;

crate::per_backend!(
    the_query_language_finds_exactly_what_the_contract_says,
    a_fixed_corpus_has_the_same_hits_on_both_engines,
);

/// The corpus, one message each, in posting order.
const CORPUS: [&str; 24] = [
    "The quick brown fox jumps over the lazy dog",
    "brown quick thinking saves the day",
    "confab is a chat server",
    "please configure the proxy",
    "Café au lait",
    "CAFÉ NOIR",
    "a naive approach",
    "naïve realism",
    "ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ",
    "rename the snake_case identifier",
    "the case of the snake",
    "open src/main.rs in the editor",
    "rs main src, reversed",
    "私は東京都に住んでいます",
    "東京タワーに行った",
    "Rust で東京のサーバーを書く",
    "Snake-Case with a dash",
    "e-mail the résumé today",
    "İstanbul'da ﬁnance OFFICE",
    "かきを食べた",
    "がきが来た",
    "jumps over the dog, then the lazy one",
    "Most of them were here, but not all of them",
    "them were x were here",
];

/// Each query and the corpus texts it must find (a set: relevance order is the
/// engine's business).
const EXPECTED: &[(&str, &[&str])] = &[
    // Words: all must match, each a whole word, any order, any case.
    ("quick", &[CORPUS[0], CORPUS[1]]),
    ("QUICK Brown", &[CORPUS[0], CORPUS[1]]),
    ("quick dog", &[CORPUS[0]]),
    ("quick zebra", &[]),
    ("qui", &[]),
    ("uick", &[]),
    // Phrases: adjacent and in order.
    ("\"quick brown\"", &[CORPUS[0]]),
    ("\"brown quick\"", &[CORPUS[1]]),
    ("\"brown fox\" lazy", &[CORPUS[0]]),
    ("\"fox brown\"", &[]),
    ("\"quick fox\"", &[]),
    // Every adjacent pair of a phrase is not the phrase.
    ("\"over the lazy\"", &[CORPUS[0]]),
    ("\"over the\"", &[CORPUS[0], CORPUS[21]]),
    ("over_the_laz*", &[CORPUS[0]]),
    // Phrases of common words only (searched as pairs of them, docs/architecture.md).
    ("\"them were here\"", &[CORPUS[22]]),
    ("\"were here\"", &[CORPUS[22], CORPUS[23]]),
    ("\"all of them\"", &[CORPUS[22]]),
    ("\"here but not\" most", &[CORPUS[22]]),
    ("\"of them were\"", &[CORPUS[22]]),
    ("\"them of\"", &[]),
    ("\"were x were\"", &[CORPUS[23]]),
    // A phrase's other words, where none of its pairs is common (PostgreSQL looks up
    // `dog` or `them`, then checks the phrase on what it finds).
    ("\"the dog\"", &[CORPUS[21]]),
    ("\"the lazy one\"", &[CORPUS[21]]),
    ("\"them x\"", &[]),
    // Prefixes, not infixes.
    ("conf*", &[CORPUS[2], CORPUS[3]]),
    ("CONFIG*", &[CORPUS[3]]),
    ("fab*", &[]),
    ("confab*", &[CORPUS[2]]),
    ("quic*", &[CORPUS[0], CORPUS[1]]),
    ("NAÏV*", &[CORPUS[6], CORPUS[7]]),
    ("lazy*", &[CORPUS[0], CORPUS[21]]),
    ("spre*", &[]),
    ("fab", &[]),
    // Diacritics both ways, and full-width Latin.
    ("cafe", &[CORPUS[4], CORPUS[5]]),
    ("CAFÉ", &[CORPUS[4], CORPUS[5]]),
    ("café noir", &[CORPUS[5]]),
    ("naive", &[CORPUS[6], CORPUS[7]]),
    ("naïve", &[CORPUS[6], CORPUS[7]]),
    ("resume", &[CORPUS[17]]),
    // Compatibility forms and special casings: İ, the ﬁ ligature.
    ("istanbul", &[CORPUS[18]]),
    ("İSTANBUL finance", &[CORPUS[18]]),
    ("ofﬁce", &[CORPUS[18]]),
    ("ｃａｆｅ", &[CORPUS[4], CORPUS[5]]),
    ("fullwidth", &[CORPUS[8]]),
    ("ｆｕｌｌｗｉｄｔｈ text", &[CORPUS[8]]),
    // Separators inside a query word make a phrase of its parts.
    ("snake_case", &[CORPUS[9], CORPUS[16]]),
    ("snake case", &[CORPUS[9], CORPUS[10], CORPUS[16]]),
    ("case_snake", &[]),
    ("src/main.rs", &[CORPUS[11]]),
    ("main.rs", &[CORPUS[11]]),
    ("src main rs", &[CORPUS[11], CORPUS[12]]),
    ("e-mail", &[CORPUS[17]]),
    // Anything that is no operator is a separator: no OR, NOT, NEAR, columns, minus.
    ("dog OR configure", &[]),
    ("quick NOT lazy", &[]),
    ("quick -lazy", &[CORPUS[0]]),
    ("message:quick", &[]),
    ("quick+lazy", &[]),
    ("lazy+dog", &[CORPUS[0]]),
    ("(quick) [dog]", &[CORPUS[0]]),
    // Chinese and Japanese: any substring of two or more characters.
    ("東京", &[CORPUS[13], CORPUS[14], CORPUS[15]]),
    ("京都", &[CORPUS[13]]),
    ("都に住ん", &[CORPUS[13]]),
    ("住んでいます", &[CORPUS[13]]),
    ("京タ", &[CORPUS[14]]),
    ("タワー", &[CORPUS[14]]),
    ("東京タワー", &[CORPUS[14]]),
    ("大阪", &[]),
    ("京東", &[]),
    ("サーバー", &[CORPUS[15]]),
    ("rust 東京", &[CORPUS[15]]),
    ("RUST サーバー", &[CORPUS[15]]),
    ("rust 大阪", &[]),
    // Voiced marks change the word (docs/api.md): か and が differ.
    ("かき", &[CORPUS[19]]),
    ("がき", &[CORPUS[20]]),
    ("きを食", &[CORPUS[19]]),
];

/// Posts the corpus in one chat of a fresh user; returns the user.
async fn corpus_user(app: &TestApp, email: &str) -> crate::support::TestUser {
    let user = app.sign_up(email).await;
    let chat = app.create_chat(&user, "unrelated title").await;
    for (n, text) in CORPUS.iter().enumerate() {
        let actor = if n % 2 == 0 { "user" } else { "assistant" };
        app.post_message(&user, chat, actor, text).await;
    }
    user
}

fn sorted(texts: &[&str]) -> Vec<String> {
    let mut texts: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
    texts.sort();
    texts
}

/// The sorted texts of the message hits; panics on a name hit.
fn texts_of(hits: &[Value], by_id: &BTreeMap<i64, String>) -> Vec<String> {
    let mut texts: Vec<String> = hits
        .iter()
        .map(|hit| {
            let id = hit["message_id"].as_i64().expect("no name hit here");
            by_id.get(&id).cloned().expect("a hit on a corpus message")
        })
        .collect();
    texts.sort();
    texts
}

async fn corpus_ids(app: &TestApp, user: &crate::support::TestUser) -> BTreeMap<i64, String> {
    let (_, chats) = app
        .get(&format!("/api/users/{}/chats", user.id), &user.auth)
        .await;
    let chat = chats["chats"][0]["id"].as_i64().expect("chat id");
    let (_, listed) = app
        .get(
            &format!("/api/users/{}/chats/{chat}/messages", user.id),
            &user.auth,
        )
        .await;
    listed["chatMessages"]
        .as_array()
        .expect("chatMessages")
        .iter()
        .map(|m| {
            (
                m["id"].as_i64().expect("id"),
                m["message"].as_str().expect("message").to_owned(),
            )
        })
        .collect()
}

async fn the_query_language_finds_exactly_what_the_contract_says(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = corpus_user(&app, "language@example.com").await;
    let by_id = corpus_ids(&app, &user).await;
    assert_eq!(by_id.len(), CORPUS.len());
    let mut failures = Vec::new();
    for (q, expected) in EXPECTED {
        let hits = user_hits(&app, &user, q).await;
        let found = texts_of(&hits, &by_id);
        if found != sorted(expected) {
            failures.push(format!("q {q:?}: expected {expected:?}, found {found:?}"));
            continue;
        }
        // Each hit highlights what the query matched, in a piece of its text.
        for hit in &hits {
            let id = hit["message_id"].as_i64().expect("message id");
            assert_snippet_of(hit, &by_id[&id]);
            let terms = query_terms(q);
            let terms: Vec<&str> = terms.iter().map(String::as_str).collect();
            assert_highlights_match(hit, &terms);
        }
    }
    assert!(
        failures.is_empty(),
        "queries that found the wrong set:\n{}",
        failures.join("\n")
    );
}

/// The terms of a query as the highlights may show them: each phrase whole, each word
/// (a prefix keeps its `*`). A CJK run may be highlighted as any 2+ character piece of
/// it, so it stands for itself and its pieces.
fn query_terms(q: &str) -> Vec<String> {
    let mut terms = Vec::new();
    for (n, part) in q.split('"').enumerate() {
        if n % 2 == 1 {
            terms.push(part.to_owned());
            continue;
        }
        for word in part.split_whitespace() {
            let prefix = word.ends_with('*');
            let core = word.trim_matches(|c: char| !c.is_alphanumeric());
            if core.is_empty() {
                continue;
            }
            terms.push(if prefix {
                format!("{core}*")
            } else {
                core.to_owned()
            });
            // `quick+lazy`, `(quick) [dog]`: the parts too.
            for piece in core.split(|c: char| !c.is_alphanumeric()) {
                if !piece.is_empty() {
                    terms.push(piece.to_owned());
                }
            }
            let chars: Vec<char> = core.chars().collect();
            if chars.iter().all(|c| is_cjk(*c)) {
                for start in 0..chars.len() {
                    for end in start + 2..=chars.len() {
                        terms.push(chars[start..end].iter().collect());
                    }
                }
            }
        }
    }
    terms
}

async fn a_fixed_corpus_has_the_same_hits_on_both_engines(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("fixed@example.com").await;
    let garden = app.create_chat(&user, "Garden notes").await;
    let kitchen = app.create_chat(&user, "Kitchen and garden tools").await;
    for (chat, actor, text) in [
        (garden, "user", "When should I plant tomatoes?"),
        (garden, "assistant", "Plant tomatoes after the last frost."),
        (garden, "user", "And the garden beds?"),
        (kitchen, "user", "Which knife cuts tomatoes best?"),
        (kitchen, "assistant", "A serrated knife. Keep it sharp."),
        (kitchen, "system", "You answer kitchen questions."),
    ] {
        app.post_message(&user, chat, actor, text).await;
    }
    // Name hits are written `name: ...`.
    let expected: &[(&str, &[&str])] = &[
        (
            "tomatoes",
            &[
                "Plant tomatoes after the last frost.",
                "When should I plant tomatoes?",
                "Which knife cuts tomatoes best?",
            ],
        ),
        (
            "garden",
            &[
                "And the garden beds?",
                "name: Garden notes",
                "name: Kitchen and garden tools",
            ],
        ),
        (
            "kitchen",
            &[
                "You answer kitchen questions.",
                "name: Kitchen and garden tools",
            ],
        ),
        (
            "knife",
            &[
                "A serrated knife. Keep it sharp.",
                "Which knife cuts tomatoes best?",
            ],
        ),
        (
            "plant tomatoes",
            &[
                "Plant tomatoes after the last frost.",
                "When should I plant tomatoes?",
            ],
        ),
        ("\"garden tools\"", &["name: Kitchen and garden tools"]),
        ("tool*", &["name: Kitchen and garden tools"]),
        ("sharp knife", &["A serrated knife. Keep it sharp."]),
        ("potatoes", &[]),
    ];
    let mut all = BTreeMap::new();
    for chat in [garden, kitchen] {
        let (_, listed) = app
            .get(
                &format!("/api/users/{}/chats/{chat}/messages", user.id),
                &user.auth,
            )
            .await;
        for m in listed["chatMessages"].as_array().expect("chatMessages") {
            all.insert(
                m["id"].as_i64().expect("id"),
                m["message"].as_str().expect("text").to_owned(),
            );
        }
    }
    let label = |hit: &Value| match hit["message_id"].as_i64() {
        Some(id) => all.get(&id).cloned().expect("a corpus message"),
        None => format!("name: {}", hit["chat_name"].as_str().expect("name")),
    };
    for (q, want) in expected {
        let mut by_user: Vec<String> = user_hits(&app, &user, q).await.iter().map(label).collect();
        by_user.sort();
        assert_eq!(by_user, sorted(want), "user API, q {q:?}");
        let mut by_key: Vec<String> = tenant_hits(&app, &key, &[("q", q)])
            .await
            .iter()
            .map(label)
            .collect();
        by_key.sort();
        assert_eq!(by_key, sorted(want), "tenant API, q {q:?}");
    }
}
