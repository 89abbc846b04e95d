//! What both routes answer: the page and hit shapes, ids and timestamps as each API
//! names them, and the 400s for every bad parameter.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::*;
use crate::support::{Backend, TestApp};
use crate::tenant_support::{assert_tenant_error, default_tenant_key, first_chat_uuid};

crate::per_backend!(
    both_routes_answer_the_contract_shape,
    bad_parameters_are_400_in_each_apis_shape,
    no_query_is_ever_a_500,
);

async fn both_routes_answer_the_contract_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("shape@example.com").await;
    let chat = app.create_chat(&user, "Walrus planning").await;
    let uuid = first_chat_uuid(&app, &user).await;
    let question = app
        .post_message(&user, chat, "user", "Where do walrus colonies live?")
        .await;
    let answer = app
        .post_message(&user, chat, "assistant", "A walrus lives on Arctic ice.")
        .await;

    // The messages and the chat as each API lists them: the timestamps a hit repeats.
    let (_, listed) = app
        .get(
            &format!("/api/users/{}/chats/{chat}/messages", user.id),
            &user.auth,
        )
        .await;
    let user_times: Vec<Value> = listed["chatMessages"]
        .as_array()
        .expect("chatMessages")
        .iter()
        .map(|m| m["created_at"].clone())
        .collect();
    let (_, chats) = app
        .get(&format!("/api/users/{}/chats", user.id), &user.auth)
        .await;
    let user_chat_time = chats["chats"][0]["created_at"].clone();
    let (_, v1_messages) = app
        .get(&format!("/api/v1/chats/{uuid}/messages"), &key)
        .await;
    let tenant_times: Vec<Value> = v1_messages["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| m["created_at"].clone())
        .collect();
    let (_, v1_chat) = app.get(&format!("/api/v1/chats/{uuid}"), &key).await;
    let tenant_chat_time = v1_chat["created_at"].clone();
    assert!(user_times.iter().all(Value::is_string), "{listed}");
    assert!(tenant_chat_time.is_string(), "{v1_chat}");

    for api in [Api::User, Api::Tenant] {
        let (path, auth) = match api {
            Api::User => (user_path(&user, &[("q", "walrus")]), &user.auth),
            Api::Tenant => (tenant_path(&[("q", "walrus")]), &key),
        };
        let page = page(&app, api, &path, auth).await;
        assert_eq!(page.next_cursor, None, "{api:?}: one page");
        assert_eq!(page.hits.len(), 3, "{api:?}: two messages and the name");
        let (chat_id, times, chat_time) = match api {
            Api::User => (json!(chat), &user_times, &user_chat_time),
            Api::Tenant => (json!(uuid), &tenant_times, &tenant_chat_time),
        };
        let mut found = Vec::new();
        for hit in &page.hits {
            assert_eq!(hit["chat_id"], chat_id, "{api:?}: {hit}");
            assert_eq!(hit["chat_name"], "Walrus planning", "{api:?}: {hit}");
            match hit["message_id"].as_i64() {
                Some(id) if id == question => {
                    assert_eq!(hit["actor"], "user", "{hit}");
                    assert_eq!(hit["created_at"], times[0], "{api:?}: {hit}");
                    assert_eq!(hit["snippet"], "Where do walrus colonies live?");
                    assert_eq!(hit["highlights"], json!([[9, 15]]), "{hit}");
                }
                Some(id) if id == answer => {
                    assert_eq!(hit["actor"], "assistant", "{hit}");
                    assert_eq!(hit["created_at"], times[1], "{api:?}: {hit}");
                    assert_eq!(hit["snippet"], "A walrus lives on Arctic ice.");
                    assert_eq!(hit["highlights"], json!([[2, 8]]), "{hit}");
                }
                Some(other) => panic!("{api:?}: a hit on message {other} of nowhere: {hit}"),
                None => {
                    assert_eq!(hit["actor"], Value::Null, "{hit}");
                    assert_eq!(hit["created_at"], *chat_time, "{api:?}: {hit}");
                    assert_eq!(hit["snippet"], "Walrus planning", "{hit}");
                    assert_eq!(hit["highlights"], json!([[0, 6]]), "{hit}");
                }
            }
            found.push(hit["message_id"].clone());
        }
        found.sort_by_key(|id| id.as_i64().unwrap_or(0));
        assert_eq!(
            found,
            [Value::Null, json!(question), json!(answer)],
            "{api:?}"
        );
    }
}

async fn bad_parameters_are_400_in_each_apis_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("bad@example.com").await;
    let chat = app.create_chat(&user, "bad input").await;
    for n in 0..3 {
        app.post_message(&user, chat, "user", &format!("paged word {n}"))
            .await;
    }
    // 500 characters in 5 words (the documented limit; the server also caps q at 256
    // words, its own documented limit, checked below).
    let long_ok = vec!["x".repeat(99); 5].join(" ") + "y";
    let too_long = format!("{long_ok}s"); // 501
                                          // (Chinese pairs count as words: 257 characters are 256 of them.)
    let words_256 = "東".repeat(257);
    let words_257 = "東".repeat(258);
    assert_eq!(long_ok.chars().count(), 500);

    // A cursor from another listing: the tenant API's chat list.
    for n in 0..2 {
        crate::tenant_support::create_v1_chat(&app, &key, json!({"name": format!("c{n}")})).await;
    }
    let (_, chats) = app.get("/api/v1/chats?limit=1", &key).await;
    let chats_cursor = chats["next_cursor"]
        .as_str()
        .expect("a chats cursor")
        .to_owned();
    // A search cursor of this very query is fine (the control).
    let search_cursor = page(
        &app,
        Api::Tenant,
        &tenant_path(&[("q", "paged"), ("limit", "1")]),
        &key,
    )
    .await
    .next_cursor
    .expect("a search cursor");

    let bad: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("missing q", vec![]),
        ("missing q with a limit", vec![("limit", "5")]),
        ("empty q", vec![("q", "")]),
        ("blank q", vec![("q", "   ")]),
        ("tabs and newlines", vec![("q", "\t\n ")]),
        ("only stars", vec![("q", "***")]),
        ("only bangs", vec![("q", "!!")]),
        ("only separators", vec![("q", "_-./ \"\" *")]),
        ("q over 500 characters", vec![("q", too_long.as_str())]),
        ("q over 256 words", vec![("q", words_257.as_str())]),
        ("a prefix of two letters", vec![("q", "paged ab*")]),
        ("a prefix of one letter", vec![("q", "p*")]),
        ("limit 0", vec![("q", "paged"), ("limit", "0")]),
        ("limit 101", vec![("q", "paged"), ("limit", "101")]),
        ("limit abc", vec![("q", "paged"), ("limit", "abc")]),
        ("limit -1", vec![("q", "paged"), ("limit", "-1")]),
        (
            "malformed cursor",
            vec![("q", "paged"), ("cursor", "garbage")],
        ),
        (
            "cursor of zeros",
            vec![("q", "paged"), ("cursor", "AAAAAAAAAAAAAAAA")],
        ),
        (
            "another listing's cursor",
            vec![("q", "paged"), ("cursor", chats_cursor.as_str())],
        ),
    ];
    for (what, params) in &bad {
        let actual = app.get(&user_path(&user, params), &user.auth).await;
        assert_eq!(
            actual.0,
            StatusCode::BAD_REQUEST,
            "user API, {what}: {}",
            actual.1
        );
        assert_user_error(actual, StatusCode::BAD_REQUEST);
        let (status, body) = app.get(&tenant_path(params), &key).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "tenant API, {what}: {body}"
        );
        let code = match *what {
            w if w.starts_with("limit") => "invalid_limit",
            w if w.contains("cursor") => "invalid_cursor",
            _ => "invalid_query",
        };
        assert_tenant_error((status, body.clone()), StatusCode::BAD_REQUEST, code);
    }

    // The controls: the edges that are allowed.
    for params in [
        vec![("q", long_ok.as_str())],
        vec![("q", words_256.as_str())],
        vec![("q", "paged"), ("limit", "1")],
        vec![("q", "paged"), ("limit", "100")],
        vec![("q", "  paged  ")],
        vec![
            ("q", "paged"),
            ("limit", "1"),
            ("cursor", search_cursor.as_str()),
        ],
    ] {
        page(&app, Api::User, &user_path(&user, &params), &user.auth).await;
        page(&app, Api::Tenant, &tenant_path(&params), &key).await;
    }
    let found = user_hits(&app, &user, "  paged  ").await;
    assert_eq!(found.len(), 3, "surrounding blanks are ignored");
}

async fn no_query_is_ever_a_500(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("fuzz@example.com").await;
    let chat = app.create_chat(&user, "odd").await;
    app.post_message(&user, chat, "user", "quick brown fox, lazy dog")
        .await;
    for q in [
        "\"",
        "\"quick",
        "quick\"",
        "\"\"quick\"\"",
        "*",
        "**quick",
        "quick**",
        "qu*ck",
        "*quick",
        "(quick",
        "quick)",
        "NEAR(quick dog)",
        "quick:dog",
        "message:quick",
        "^quick",
        "{quick}",
        "[quick]",
        "quick'",
        "'; DROP TABLE messages; --",
        "\\",
        "%quick%",
        "quick_",
        "&|!",
        "quick & dog",
        "quick | dog",
        "quick <-> dog",
        "+quick",
        "\u{0}quick",
        "🦀",
        "quick 🦀",
        "ﷺ",
        "\u{200b}",
        "\u{fffd}",
        "q\u{301}",
        "AND",
        "OR",
        "NOT",
        "quick AND",
        "OR quick",
    ] {
        for (path, auth) in [
            (user_path(&user, &[("q", q)]), &user.auth),
            (tenant_path(&[("q", q)]), &key),
        ] {
            let (status, body) = app.get(&path, auth).await;
            assert!(
                status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
                "q {q:?}: {status} {body}"
            );
        }
    }
    // Heavy queries: the longest CJK run, the most prefixes, the most phrases.
    let cjk: String = "東京都庁舎の展望台".chars().cycle().take(1000).collect();
    let prefixes = vec!["qui*"; 64].join(" ");
    let phrases = vec!["\"quick brown\""; 32].join(" ");
    let mixed = (0..64)
        .map(|n| format!("wor{n}*"))
        .collect::<Vec<_>>()
        .join(" ");
    for q in [cjk.as_str(), &prefixes, &phrases, &mixed] {
        for (path, auth) in [
            (user_path(&user, &[("q", q)]), &user.auth),
            (tenant_path(&[("q", q)]), &key),
        ] {
            let (status, body) = app.get(&path, auth).await;
            assert!(!status.is_server_error(), "q {q:?}: {status} {body}");
        }
    }
    // Words around operators' characters are still words.
    for q in [
        "\"quick", "quick\"", "(quick", "quick)", "+quick", "{quick}",
    ] {
        let hits = user_hits(&app, &user, q).await;
        assert_eq!(hits.len(), 1, "q {q:?} finds the message");
    }
}
