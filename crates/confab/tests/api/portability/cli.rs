//! `confab export` and `confab import` on the database a running server uses: the same
//! lines as the HTTP export, the same reports as the HTTP import, and clear failures.

use serde_json::{json, Value};

use super::{export_text, lines, normalised, report, tenant_chats, CHATGPT};
use crate::support::process::run_cli;
use crate::support::{Backend, TestApp};
use crate::tenant_support::{create_v1_chat, default_tenant_key, new_tenant};

/// Runs `confab ARGS` off the runtime's threads: (success, stdout, stderr).
async fn cli(args: &[&str]) -> (bool, String, String) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(&args, None)
    })
    .await
    .expect("cli task")
}

/// A command that must succeed; its stdout.
async fn cli_ok(args: &[&str]) -> String {
    let (ok, stdout, stderr) = cli(args).await;
    assert!(ok, "confab {args:?}: {stderr}");
    stdout
}

/// A command that must fail; its stderr, which must say `why`.
async fn cli_fails(args: &[&str], why: &str) {
    let (ok, stdout, stderr) = cli(args).await;
    assert!(!ok, "confab {args:?} succeeded: {stdout}");
    assert!(stderr.contains(why), "confab {args:?}: {stderr}");
    assert_eq!(stdout, "", "confab {args:?} printed no report");
}

/// The report line an import prints.
fn printed_report(stdout: &str) -> Value {
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    serde_json::from_str(stdout.trim_end()).unwrap_or_else(|_| panic!("not JSON: {stdout}"))
}

pub(super) async fn cli_export_and_import(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let ann = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&ann, "Ann's").await;
    app.post_message(&ann, chat, "user", "Hello?").await;
    app.post_message(&ann, chat, "assistant", "```rust\nfn main() {}\n```")
        .await;
    create_v1_chat(
        &app,
        &key,
        json!({"name": "Nobody's", "metadata": {"k": 1}}),
    )
    .await;
    let url = app.database_url.clone();
    let db = ["--database-url", url.as_str()];

    // The export: byte for byte the HTTP one, for the tenant, one user, or since.
    let exported = cli_ok(&[&["export"][..], &db].concat()).await;
    assert_eq!(exported, export_text(&app, "/api/v1/export", &key).await);
    assert_eq!(lines(&exported).len(), 2);
    let args = [
        &[
            "export",
            "--tenant",
            "default",
            "--user-email",
            "ann@example.com",
        ][..],
        &db,
    ];
    let anns = cli_ok(&args.concat()).await;
    let path = format!("/api/v1/export?user_id={}", ann.id);
    assert_eq!(anns, export_text(&app, &path, &key).await);
    assert_eq!(lines(&anns).len(), 1);
    let future = cli_ok(&[&["export", "--since", "2999-01-01T00:00:00Z"][..], &db].concat()).await;
    assert_eq!(future, "");
    cli_fails(
        &[&["export", "--since", "soon"][..], &db].concat(),
        "--since must be an RFC 3339 time",
    )
    .await;
    let unknown = ["export", "--user-email", "nobody@example.com"];
    cli_fails(
        &[&unknown[..], &db].concat(),
        "no user nobody@example.com in tenant",
    )
    .await;

    // The import, into another tenant: dry first, then for real, then duplicates.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("export.ndjson");
    std::fs::write(&file, &exported).expect("export written");
    let file = file.to_str().expect("path").to_owned();
    let (tenant, tenant_key) = new_tenant(&app, "copy").await;
    let tenant = tenant.to_string();
    let import = ["import", "--tenant", tenant.as_str(), "--format", "confab"];
    let dry = cli_ok(&[&import[..], &["--dry-run", file.as_str()], &db].concat()).await;
    assert_eq!(printed_report(&dry), report(2, 2, 0, &[]));
    assert_eq!(tenant_chats(&app, &tenant_key).await, Vec::<Value>::new());
    let stored = cli_ok(&[&import[..], &[file.as_str()], &db].concat()).await;
    assert_eq!(printed_report(&stored), report(2, 2, 0, &[]));
    let copied = lines(&export_text(&app, "/api/v1/export", &tenant_key).await);
    let same = |line: &Value| {
        let mut line = normalised(line);
        line["chat"]["id"] = Value::Null;
        line["source_id"] = Value::Null;
        line
    };
    let original = lines(&exported);
    assert_eq!(
        copied.iter().map(same).collect::<Vec<_>>(),
        original.iter().map(same).collect::<Vec<_>>()
    );
    let again = cli_ok(&[&import[..], &[file.as_str()], &db].concat()).await;
    assert_eq!(printed_report(&again), report(0, 0, 2, &[]));

    // ChatGPT's export, given to a user by email.
    let chatgpt = dir.path().join("conversations.json");
    std::fs::write(&chatgpt, CHATGPT).expect("fixture written");
    let chatgpt = chatgpt.to_str().expect("path").to_owned();
    let args = [
        "import",
        "--user-email",
        "ann@example.com",
        "--format",
        "chatgpt",
    ];
    let stored = cli_ok(&[&args[..], &[chatgpt.as_str()], &db].concat()).await;
    let errors = [
        ("chatgpt:conv-broken", "the conversation has no `mapping`"),
        ("#4", "`mapping` is not an object"),
    ];
    assert_eq!(printed_report(&stored), report(3, 15, 0, &errors));
    let (_, listed) = app
        .get(
            &format!("/api/users/{}/chats?archived=all", ann.id),
            &ann.auth,
        )
        .await;
    assert_eq!(
        listed["chats"].as_array().map(Vec::len),
        Some(4),
        "{listed}"
    );

    // Failures: said on stderr, nothing printed, nothing stored.
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, &CHATGPT[..CHATGPT.len() / 2]).expect("written");
    let truncated = truncated.to_str().expect("path").to_owned();
    let nobody = [
        "import",
        "--user-email",
        "nobody@example.com",
        "--format",
        "confab",
    ];
    let no_tenant = ["import", "--tenant", "00000000-0000-4000-8000-000000000000"];
    for (args, why) in [
        (&nobody[..], "no user nobody@example.com in tenant"),
        (
            &["import", "--format", "nope"],
            "--format must be chatgpt, openwebui or confab",
        ),
        (
            &[&no_tenant[..], &["--format", "confab"]].concat(),
            "no tenant 00000000-0000-4000-8000-000000000000",
        ),
    ] {
        cli_fails(&[args, &[file.as_str()], &db].concat(), why).await;
    }
    let missing = dir.path().join("missing.json");
    let missing = missing.to_str().expect("path");
    cli_fails(
        &[&["import", "--format", "chatgpt", missing][..], &db].concat(),
        "cannot open",
    )
    .await;
    cli_fails(
        &[
            &[
                "import",
                "--tenant",
                tenant.as_str(),
                "--format",
                "chatgpt",
                truncated.as_str(),
            ][..],
            &db,
        ]
        .concat(),
        "the file is not valid JSON",
    )
    .await;
    assert_eq!(tenant_chats(&app, &tenant_key).await.len(), 2);
}
