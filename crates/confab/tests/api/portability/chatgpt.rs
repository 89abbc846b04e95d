//! ChatGPT's export: `conversations.json` as JSON, the same conversations as a ZIP of
//! `conversations-NNN.json` shards, and a dry run, each into a tenant of its own.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{
    chatgpt_conversations, export_text, files, import_ok, line_with_source, lines, normalised,
    report, shape, tenant_chats, zip_of, CHATGPT,
};
use crate::support::{Backend, TestApp};
use crate::tenant_support::{default_tenant_key, new_tenant};

/// What the fixture imports: three conversations of 6, 7 and 2 messages; one without a
/// `mapping`, one whose `mapping` is a list (and has no id, so it is named by place).
fn expected_report(duplicates: bool) -> Value {
    let errors = [
        ("chatgpt:conv-broken", "the conversation has no `mapping`"),
        ("#4", "`mapping` is not an object"),
    ];
    match duplicates {
        false => report(3, 15, 0, &errors),
        true => report(0, 0, 3, &errors),
    }
}

const ANSWER: &str = "Use `sorted()`:\n\n```python\nnumbers = [3, 1, 2]\nprint(sorted(numbers))\n```\nIt returns a new list.";

pub(super) async fn chatgpt_import_keeps_every_branch_and_skips_scaffolding(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let ann = app.sign_up("ann@example.com").await;
    let query = format!("format=chatgpt&user_id={}", ann.id);
    let answered = import_ok(&app, &key, &query, "application/json", CHATGPT.into()).await;
    assert_eq!(answered, expected_report(false));

    let exported = lines(&export_text(&app, "/api/v1/export", &key).await);
    assert_eq!(exported.len(), 3);
    let branch = line_with_source(&exported, "chatgpt:conv-branch");
    let chat = &branch["chat"];
    assert_eq!(
        [
            &chat["name"],
            &chat["model"],
            &chat["user_id"],
            &chat["tags"]
        ],
        [
            &json!("Sorting a list"),
            &json!("gpt-4o"),
            &json!(ann.id),
            &json!([])
        ]
    );
    assert_eq!(chat["created_at"], "2023-11-14T22:13:20.250000Z");
    assert_eq!(chat["updated_at"], "2023-11-14T22:23:20.500000Z");
    assert_eq!(
        (&chat["archived"], &chat["pinned"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(chat["metadata"], Value::Null);

    // The tree route: every branch, the hidden root, context node and weight-0 draft
    // gone (the draft's child hangs from the question), the current leaf the export's.
    let uuid = chat["id"].as_str().expect("uuid");
    let (status, tree) = app.get(&format!("/api/v1/chats/{uuid}/tree"), &key).await;
    assert_eq!(status, StatusCode::OK, "{tree}");
    assert_eq!(tree["data"], branch["messages"]);
    assert_eq!(
        shape(&tree["data"]),
        [
            json!([
                "user",
                "How do I sort a list in Python?",
                null,
                "2023-11-14T22:13:30.000000Z",
                null
            ]),
            json!([
                "assistant",
                ANSWER,
                0,
                "2023-11-14T22:13:40.500000Z",
                "gpt-4o-2024-05-13"
            ]),
            json!([
                "user",
                "And in reverse?",
                1,
                "2023-11-14T22:13:50.000000Z",
                null
            ]),
            json!([
                "user",
                "And in descending order?",
                1,
                "2023-11-14T22:14:00.000000Z",
                null
            ]),
            json!([
                "assistant",
                "Pass `reverse=True`.",
                2,
                "2023-11-14T22:14:02.000000Z",
                "gpt-4o-mini"
            ]),
            json!([
                "assistant",
                "Use `sorted(numbers, reverse=True)`.",
                3,
                "2023-11-14T22:14:10.000000Z",
                "gpt-4o"
            ]),
        ]
    );
    let data = tree["data"].as_array().expect("data");
    assert_eq!(tree["current_message_id"], data[5]["id"]);
    assert_eq!(chat["current_message_id"], data[5]["id"]);
    assert_eq!(
        data[2]["sibling_ids"],
        json!([data[2]["id"], data[3]["id"]])
    );
    assert_eq!(data[3]["sibling_ids"], data[2]["sibling_ids"]);
    let python = json!([[
        "snippet-1.py",
        "numbers = [3, 1, 2]\nprint(sorted(numbers))\n",
        "python",
        "py"
    ]]);
    assert_eq!(files(&data[1]), python.as_array().expect("files").clone());
    assert!(data
        .iter()
        .enumerate()
        .all(|(at, m)| at == 1 || files(m).is_empty()));
    // The user API shows the file as Ann's.
    let (_, listed) = app
        .get(&format!("/api/users/{}/chats", ann.id), &ann.auth)
        .await;
    let chat_id = listed["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .find(|c| c["uuid"] == uuid)
        .map(|c| c["id"].clone())
        .expect("Ann has the chat");
    let (status, listed_files) = app
        .get(
            &format!("/api/users/{}/chats/{chat_id}/files", ann.id),
            &ann.auth,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed_files}");
    assert_eq!(listed_files, json!({"chatFiles": data[1]["files"]}));
    assert_eq!(data[1]["files"][0]["neptun_user_id"], json!(ann.id));

    // Code cells fenced (and so files), tool output kept, browsing displays skipped;
    // messages without a time take their parent's.
    let tools = line_with_source(&exported, "chatgpt:conv-tools");
    assert_eq!(
        [
            &tools["chat"]["name"],
            &tools["chat"]["model"],
            &tools["chat"]["archived"],
            &tools["chat"]["pinned"]
        ],
        [
            &json!("New chat"),
            &json!("gpt-4"),
            &json!(true),
            &json!(false)
        ]
    );
    assert_eq!(tools["chat"]["created_at"], "2023-11-14T22:30:00.000000Z");
    assert_eq!(tools["chat"]["updated_at"], "2023-11-14T22:31:45.000000Z");
    assert_eq!(
        shape(&tools["messages"]),
        [
            json!([
                "user",
                "Compute 2**10 with Python.",
                null,
                "2023-11-14T22:30:00.000000Z",
                null
            ]),
            json!([
                "assistant",
                "```python\nprint(2**10)\n```",
                0,
                "2023-11-14T22:30:01.000000Z",
                "gpt-4"
            ]),
            json!(["assistant", "1024", 1, "2023-11-14T22:30:01.000000Z", null]),
            json!([
                "assistant",
                "2**10 is 1024.",
                2,
                "2023-11-14T22:30:03.000000Z",
                "gpt-4"
            ]),
            json!([
                "user",
                "What is in this picture?",
                3,
                "2023-11-14T22:31:40.000000Z",
                null
            ]),
            json!([
                "assistant",
                "```\nls -la\n```",
                4,
                "2023-11-14T22:31:42.000000Z",
                "gpt-4"
            ]),
            json!([
                "assistant",
                "A drawing of a cat.",
                5,
                "2023-11-14T22:31:45.000000Z",
                null
            ]),
        ]
    );
    assert_eq!(
        tools["chat"]["current_message_id"],
        tools["messages"][6]["id"]
    );
    assert_eq!(
        files(&tools["messages"][1]),
        [json!(["snippet-1.py", "print(2**10)\n", "python", "py"])]
    );
    assert_eq!(
        files(&tools["messages"][5]),
        [json!(["snippet-1.txt", "ls -la\n", "text", "txt"])]
    );

    // A visible system message is kept; the skipped current node's parent is current.
    let system = line_with_source(&exported, "chatgpt:conv-system");
    assert_eq!(
        [&system["chat"]["name"], &system["chat"]["model"]],
        [&json!("New chat"), &json!("gpt-4o-mini")]
    );
    assert_eq!(system["chat"]["created_at"], "2023-11-14T23:03:20.000000Z");
    assert_eq!(system["chat"]["updated_at"], "2023-11-14T23:03:21.000000Z");
    assert_eq!(
        shape(&system["messages"]),
        [
            json!([
                "system",
                "Answer like a pirate.",
                null,
                "2023-11-14T23:03:20.000000Z",
                null
            ]),
            json!(["user", "Hello?", 0, "2023-11-14T23:03:21.000000Z", null]),
        ]
    );
    assert_eq!(
        system["chat"]["current_message_id"],
        system["messages"][1]["id"]
    );
    for scaffolding in [
        "helpful assistant",
        "short answers",
        "abandoned draft",
        "Remembers",
    ] {
        assert!(
            !exported.iter().any(|l| l.to_string().contains(scaffolding)),
            "{scaffolding} is not imported"
        );
    }

    // The same conversations as a ZIP in two shards (beside another file), into a
    // tenant of their own: the same chats, and the JSON again is all duplicates.
    let conversations = chatgpt_conversations();
    let (head, tail) = conversations.split_at(3);
    let head = serde_json::to_vec(head).expect("shard");
    let tail = serde_json::to_vec(tail).expect("shard");
    let archive = zip_of(&[
        ("user.json", br#"{"email": "ann@example.com"}"#),
        ("conversations-001.json", &tail),
        ("conversations-000.json", &head),
    ]);
    let (_, zip_key) = new_tenant(&app, "zipped").await;
    let answered = import_ok(&app, &zip_key, "format=chatgpt", "application/zip", archive).await;
    assert_eq!(answered, expected_report(false));
    let zipped = lines(&export_text(&app, "/api/v1/export", &zip_key).await);
    let same = |line: &Value| {
        let mut line = normalised(line);
        line["chat"]["id"] = Value::Null;
        line
    };
    assert_eq!(
        zipped.iter().map(same).collect::<Vec<_>>(),
        exported.iter().map(same).collect::<Vec<_>>()
    );
    assert!(zipped.iter().all(|l| l["chat"]["user_id"].is_null()));
    let again = import_ok(
        &app,
        &zip_key,
        "format=chatgpt",
        "application/json",
        CHATGPT.into(),
    )
    .await;
    assert_eq!(again, expected_report(true));

    // A dry run answers the same and stores nothing.
    let (_, dry_key) = new_tenant(&app, "dry").await;
    let dry = import_ok(
        &app,
        &dry_key,
        "format=chatgpt&dry_run=true",
        "application/json",
        CHATGPT.into(),
    )
    .await;
    assert_eq!(dry, expected_report(false));
    assert_eq!(tenant_chats(&app, &dry_key).await, Vec::<Value>::new());
    assert_eq!(export_text(&app, "/api/v1/export", &dry_key).await, "");
    // Dry where it was imported: duplicates.
    let dry = import_ok(
        &app,
        &key,
        &format!("{query}&dry_run=true"),
        "application/json",
        CHATGPT.into(),
    )
    .await;
    assert_eq!(dry, expected_report(true));
    let dry = import_ok(
        &app,
        &key,
        "format=chatgpt&dry_run=false",
        "application/json",
        CHATGPT.into(),
    )
    .await;
    assert_eq!(dry, expected_report(true));
}
