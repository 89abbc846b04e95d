//! The command line is part of the contract: scripts depend on its output.

use serde_json::Value;

use crate::support::process::run_cli;

fn json_line(stdout: &str) -> Value {
    let line = stdout.lines().next().expect("one line of output");
    serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"))
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["user", "create", "--help"],
        &["tenant", "create", "--help"],
        &["key", "create", "--help"],
        &["key", "revoke", "--help"],
    ] {
        let (ok, stdout, stderr) = run_cli(args, None);
        assert!(ok, "{args:?}: {stderr}");
        assert!(stdout.contains("Usage:"), "{args:?}: {stdout}");
    }
    let (_, stdout, _) = run_cli(&["serve", "--help"], None);
    for flag in [
        "--listen",
        "--database-url",
        "--redis-url",
        "CONFAB_LISTEN",
        "CONFAB_DATABASE_URL",
        "--body-limit-bytes",
    ] {
        assert!(stdout.contains(flag), "serve --help mentions {flag}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_user_tenant_and_key_commands() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());

    let (ok, stdout, stderr) = run_cli(&["migrate", "--database-url", &url], None);
    assert!(ok, "{stderr}");
    assert_eq!(json_line(&stdout)["migrated"], true);
    let (ok, _, stderr) = run_cli(&["migrate", "--database-url", &url], None);
    assert!(ok, "migrate is idempotent: {stderr}");

    let (ok, stdout, stderr) = run_cli(
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--database-url",
            &url,
        ],
        Some("s3cret-password\n"),
    );
    assert!(ok, "{stderr}");
    let created = json_line(&stdout);
    assert_eq!(created["email"], "ops@example.com");
    assert!(created["user_id"].as_i64().is_some());
    let (ok, _, stderr) = run_cli(
        &[
            "user",
            "create",
            "--email",
            "OPS@example.com",
            "--database-url",
            &url,
        ],
        Some("s3cret-password\n"),
    );
    assert!(!ok && stderr.contains("already registered"), "{stderr}");
    let (ok, _, stderr) = run_cli(
        &[
            "user",
            "create",
            "--email",
            "weak@example.com",
            "--database-url",
            &url,
        ],
        Some("short\n"),
    );
    assert!(!ok && stderr.contains("password"), "{stderr}");

    // The user made on the command line can log in to a server on that database.
    let server = crate::support::process::start_node("crash", &url).await;
    let response = reqwest::Client::new()
        .post(server.url("/api/auth/login"))
        .json(&serde_json::json!({"email": "ops@example.com", "password": "s3cret-password"}))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    drop(server);

    let (ok, stdout, stderr) = run_cli(&["tenant", "create", "Acme", "--database-url", &url], None);
    assert!(ok, "{stderr}");
    let tenant = json_line(&stdout);
    let tenant_id = tenant["tenant_id"].as_str().expect("tenant_id").to_owned();
    let first_key = tenant["api_key"].as_str().expect("api_key").to_owned();
    assert!(first_key.starts_with("cfb_"), "{first_key}");
    assert_eq!(
        tenant.as_object().map(|o| o.len()),
        Some(2),
        "exactly tenant_id and api_key: {tenant}"
    );

    let (ok, stdout, stderr) = run_cli(
        &[
            "key",
            "create",
            "--tenant",
            &tenant_id,
            "--database-url",
            &url,
        ],
        None,
    );
    assert!(ok, "{stderr}");
    let key = json_line(&stdout);
    let key_id = key["key_id"].as_str().expect("key_id").to_owned();
    assert_ne!(key["api_key"].as_str(), Some(first_key.as_str()));

    let (ok, stdout, stderr) = run_cli(&["key", "revoke", &key_id, "--database-url", &url], None);
    assert!(ok, "{stderr}");
    assert!(json_line(&stdout)["revoked_at"].is_string());

    let (ok, _, stderr) = run_cli(
        &[
            "key",
            "create",
            "--tenant",
            "00000000-0000-4000-8000-000000000000",
            "--database-url",
            &url,
        ],
        None,
    );
    assert!(!ok && stderr.contains("no tenant"), "{stderr}");
    let (ok, _, stderr) = run_cli(
        &[
            "key",
            "revoke",
            "00000000-0000-4000-8000-000000000000",
            "--database-url",
            &url,
        ],
        None,
    );
    assert!(!ok && stderr.contains("no API key"), "{stderr}");

    // Secrets at rest: the database holds neither key in clear text.
    let bytes = std::fs::read(dir.path().join("cli.db")).expect("db file");
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(&first_key) && !text.contains(key["api_key"].as_str().unwrap_or("?")));
}
