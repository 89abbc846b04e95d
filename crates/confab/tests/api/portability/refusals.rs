//! Files refused whole: not JSON, truncated, of another format, too large sent or
//! unzipped, a broken ZIP, bad parameters. Nothing of them is stored, not even the
//! complete conversations before the fault. A quota refuses one conversation alone.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{export_text, import, import_ok, report, tenant_chats, zip_of, CHATGPT, OPENWEBUI};
use crate::support::{Auth, Backend, TestApp};
use crate::tenant_support::{assert_tenant_error, default_tenant_key, new_tenant};

/// The limit the server runs with here.
const MAX: usize = 64 * 1024;

/// `[`, spaces, `]`: valid JSON of exactly `len` bytes.
fn spaces(len: usize) -> Vec<u8> {
    let mut body = vec![b'['];
    body.resize(len - 1, b' ');
    body.push(b']');
    body
}

/// One minimal confab export line.
const CONFAB_LINE: &str = r#"{"chat":{"id":"7b0c2f9e-1d5a-4c1e-9a7b-0c2f9e1d5a4c","name":"n","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z","current_message_id":null},"source_id":null,"messages":[]}"#;

#[track_caller]
fn refused(answer: (StatusCode, Value), status: StatusCode, code: &str, what: &str) {
    assert_eq!(answer.0, status, "{what}: {}", answer.1);
    assert_tenant_error(answer, status, code);
}

pub(super) async fn bad_files_are_refused_whole(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.limits.max_import_bytes = MAX as u64;
    })
    .await;
    let (_, key) = new_tenant(&app, "refusing").await;
    let json = "application/json";
    let chatgpt = "format=chatgpt";

    // Not JSON, or cut off after the first conversation: nothing stored.
    let cut = CHATGPT.find("\"conv-tools\"").expect("second conversation") + 200;
    let ndjson_cut = format!("{CONFAB_LINE}\n{{\"chat\": {{\n");
    let mut shards_cut = zip_of(&[
        ("conversations-000.json", CHATGPT.as_bytes()),
        ("conversations-001.json", &CHATGPT.as_bytes()[..cut]),
    ]);
    for (what, query, body) in [
        ("not JSON", chatgpt, b"this is not JSON".to_vec()),
        ("truncated", chatgpt, CHATGPT.as_bytes()[..cut].to_vec()),
        ("truncated NDJSON", "format=confab", ndjson_cut.into_bytes()),
        (
            "a bad second shard",
            chatgpt,
            std::mem::take(&mut shards_cut),
        ),
        ("not an array", chatgpt, b"\"conversations\"".to_vec()),
        (
            "trailing garbage",
            chatgpt,
            format!("{CHATGPT} ]").into_bytes(),
        ),
    ] {
        let content_type = if what.contains("shard") {
            "application/zip"
        } else {
            json
        };
        let answer = import(&app, &key, query, content_type, body).await;
        refused(answer, StatusCode::BAD_REQUEST, "invalid_json", what);
    }

    // Another format's file.
    let conversations: Vec<Value> = serde_json::from_str(CHATGPT).expect("fixture");
    let chatgpt_lines: String = conversations.iter().map(|c| format!("{c}\n")).collect();
    for (what, query, body) in [
        ("Open WebUI as ChatGPT", chatgpt, OPENWEBUI),
        ("ChatGPT as Open WebUI", "format=openwebui", CHATGPT),
        ("ChatGPT lines as confab", "format=confab", &chatgpt_lines),
    ] {
        let answer = import(&app, &key, query, json, body.as_bytes().to_vec()).await;
        refused(answer, StatusCode::BAD_REQUEST, "wrong_format", what);
    }

    // Bad parameters, checked before the body.
    for (what, query, status, code) in [
        ("no format", "", StatusCode::BAD_REQUEST, "invalid_format"),
        (
            "unknown format",
            "format=nope",
            StatusCode::BAD_REQUEST,
            "invalid_format",
        ),
        (
            "format's case",
            "format=ChatGPT",
            StatusCode::BAD_REQUEST,
            "invalid_format",
        ),
        (
            "dry_run",
            "format=chatgpt&dry_run=yes",
            StatusCode::BAD_REQUEST,
            "invalid_dry_run",
        ),
        (
            "user_id",
            "format=chatgpt&user_id=abc",
            StatusCode::BAD_REQUEST,
            "invalid_user_id",
        ),
        (
            "no user",
            "format=chatgpt&user_id=4242",
            StatusCode::NOT_FOUND,
            "user_not_found",
        ),
    ] {
        let answer = import(&app, &key, query, json, CHATGPT.into()).await;
        refused(answer, status, code, what);
    }
    for content_type in ["text/plain", "multipart/form-data; boundary=x", ""] {
        let answer = import(&app, &key, chatgpt, content_type, CHATGPT.into()).await;
        refused(
            answer,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            content_type,
        );
    }
    let answer = import(&app, &Auth::None, chatgpt, json, CHATGPT.into()).await;
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED, "{}", answer.1);

    // Sizes: the limit itself is allowed, a byte more is not; a ZIP is counted
    // unzipped, its shards together, whatever sizes it claims.
    let at_limit = import_ok(
        &app,
        &key,
        chatgpt,
        "application/json; charset=utf-8",
        spaces(MAX),
    )
    .await;
    assert_eq!(at_limit, report(0, 0, 0, &[]));
    let answer = import(&app, &key, chatgpt, json, spaces(MAX + 1)).await;
    refused(
        answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "import_too_large",
        "over the limit",
    );
    let bomb = zip_of(&[("conversations.json", &spaces(1024 * 1024))]);
    assert!(bomb.len() < 4096, "{} bytes compressed", bomb.len());
    let mut liar = bomb.clone();
    claim_size(&mut liar, 100);
    let halves = zip_of(&[
        ("conversations-000.json", &spaces(MAX / 2 + 1)),
        ("conversations-001.json", &spaces(MAX / 2)),
    ]);
    for (what, zip) in [
        ("a bomb", bomb),
        ("a lying bomb", liar),
        ("two halves", halves),
    ] {
        let answer = import(&app, &key, chatgpt, "application/zip", zip).await;
        refused(
            answer,
            StatusCode::PAYLOAD_TOO_LARGE,
            "import_too_large",
            what,
        );
    }
    let exact = zip_of(&[
        ("conversations-000.json", &spaces(MAX / 2)),
        ("conversations-001.json", &spaces(MAX / 2)),
    ]);
    let answered = import_ok(&app, &key, chatgpt, "application/zip", exact).await;
    assert_eq!(answered, report(0, 0, 0, &[]));

    // ZIPs that are no ChatGPT export, or no ZIP at all.
    let no_conversations = zip_of(&[("user.json", b"{}"), ("chat.html", b"<html></html>")]);
    let nested = zip_of(&[("a/b/conversations.json", CHATGPT.as_bytes())]);
    let mut not_zip = b"PK\x03\x04".to_vec();
    not_zip.extend((0..2000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let good_zip = zip_of(&[("conversations.json", CHATGPT.as_bytes())]);
    for (what, query, zip, code) in [
        (
            "no conversations",
            chatgpt,
            no_conversations,
            "wrong_format",
        ),
        ("too deep", chatgpt, nested, "wrong_format"),
        ("not a ZIP", chatgpt, not_zip, "invalid_zip"),
        (
            "for Open WebUI",
            "format=openwebui",
            good_zip.clone(),
            "wrong_format",
        ),
        ("for confab", "format=confab", good_zip, "wrong_format"),
    ] {
        let answer = import(&app, &key, query, "application/zip", zip).await;
        refused(answer, StatusCode::BAD_REQUEST, code, what);
    }

    assert_eq!(tenant_chats(&app, &key).await, Vec::<Value>::new());
    assert_eq!(export_text(&app, "/api/v1/export", &key).await, "");
    let (_, trash) = app.get("/api/v1/trash", &key).await;
    assert_eq!(trash["data"], json!([]));

    // A quota refuses the conversations over it, one by one; the rest are stored.
    let app = TestApp::spawn_with(backend, |config| {
        config.quotas.max_messages_per_chat = 6;
        config.quotas.max_chats_per_user = 1;
    })
    .await;
    let ann = app.sign_up("ann@example.com").await;
    let broken = ("chatgpt:conv-broken", "the conversation has no `mapping`");
    let nameless = ("#4", "`mapping` is not an object");
    let (_, key) = new_tenant(&app, "quotas").await;
    let answered = import_ok(&app, &key, chatgpt, json, CHATGPT.into()).await;
    let long = (
        "chatgpt:conv-tools",
        "this chat already holds the most messages allowed (6)",
    );
    assert_eq!(answered, report(2, 8, 0, &[long, broken, nameless]));
    assert_eq!(tenant_chats(&app, &key).await.len(), 2);
    let key = default_tenant_key(&app).await;
    let query = format!("format=chatgpt&user_id={}", ann.id);
    let answered = import_ok(&app, &key, &query, json, CHATGPT.into()).await;
    let full = "this user already owns the most chats allowed (1)";
    let errors = [
        ("chatgpt:conv-tools", full),
        broken,
        ("chatgpt:conv-system", full),
        nameless,
    ];
    assert_eq!(answered, report(1, 6, 0, &errors));
    assert_eq!(tenant_chats(&app, &key).await.len(), 1);
}

/// Makes a one-entry ZIP claim `size` bytes uncompressed, in the entry's header and in
/// the central directory.
fn claim_size(zip: &mut [u8], size: u32) {
    zip[22..26].copy_from_slice(&size.to_le_bytes());
    let central = zip
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("a central directory");
    zip[central + 24..central + 28].copy_from_slice(&size.to_le_bytes());
}
