//! The command line is part of the contract: scripts depend on its output.

use serde_json::Value;

use crate::support::database::TestDatabase;
use crate::support::process::run_cli;
use crate::support::Backend;

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
        &["tenant", "list", "--help"],
        &["key", "create", "--help"],
        &["key", "list", "--help"],
        &["key", "revoke", "--help"],
        &["copy", "--help"],
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
        "CONFAB_LOG=",
        "NO_COLOR",
    ] {
        assert!(stdout.contains(flag), "serve --help mentions {flag}");
    }
    // Arguments a new user has to guess at without their help text.
    for (args, text) in [
        (
            &["key", "create", "--help"][..],
            "`default` for the default tenant",
        ),
        (
            &["key", "list", "--help"],
            "`default` for the default tenant",
        ),
        (&["user", "create", "--help"], "its id, or `default`"),
        (&["tenant", "create", "--help"], "display name"),
        (&["key", "revoke", "--help"], "as printed by `key create`"),
    ] {
        let (_, stdout, _) = run_cli(args, None);
        assert!(
            stdout.contains(text),
            "{args:?} explains {text:?}: {stdout}"
        );
    }
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

crate::per_backend!(tenant_and_key_lists_and_the_default_tenant);

/// `tenant list` shows the default tenant's id, `--tenant default` names it, and
/// `key list` shows a tenant's keys without their secrets.
async fn tenant_and_key_lists_and_the_default_tenant(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let url = database.url.as_str();
    let (ok, _, stderr) = run_cli(&["migrate", "--database-url", url], None);
    assert!(ok, "{stderr}");

    let (ok, stdout, stderr) = run_cli(&["tenant", "list", "--database-url", url], None);
    assert!(ok, "{stderr}");
    let tenants = json_lines(&stdout);
    assert_eq!(
        tenants.len(),
        1,
        "a fresh database has the default tenant: {stdout}"
    );
    assert_eq!(tenants[0]["name"], "default");
    assert_eq!(tenants[0]["default"], true);
    let default_id = tenants[0]["tenant_id"]
        .as_str()
        .expect("tenant_id")
        .to_owned();

    let (ok, stdout, stderr) = run_cli(&["tenant", "create", "Acme", "--database-url", url], None);
    assert!(ok, "{stderr}");
    let acme = json_line(&stdout);
    let (ok, stdout, stderr) = run_cli(&["tenant", "list", "--database-url", url], None);
    assert!(ok, "{stderr}");
    let tenants = json_lines(&stdout);
    assert_eq!(tenants.len(), 2, "{stdout}");
    let listed_acme = tenants
        .iter()
        .find(|t| t["tenant_id"] == acme["tenant_id"])
        .expect("Acme is listed");
    assert_eq!(listed_acme["name"], "Acme");
    assert_eq!(listed_acme["default"], false);
    assert_eq!(
        listed_acme.as_object().map(|o| o.len()),
        Some(4),
        "exactly tenant_id, name, default, retention_days: {listed_acme}"
    );

    // `--tenant default` names the default tenant for keys and users.
    let (ok, stdout, stderr) = run_cli(
        &[
            "key",
            "create",
            "--tenant",
            "default",
            "--name",
            "ops",
            "--database-url",
            url,
        ],
        None,
    );
    assert!(ok, "{stderr}");
    let key = json_line(&stdout);
    let secret = key["api_key"].as_str().expect("api_key").to_owned();
    let (ok, stdout, stderr) = run_cli(
        &[
            "user",
            "create",
            "--email",
            "d@example.com",
            "--tenant",
            "default",
            "--database-url",
            url,
        ],
        Some("s3cret-password\n"),
    );
    assert!(ok, "{stderr}");
    assert_eq!(
        json_line(&stdout)["tenant_id"].as_str(),
        Some(default_id.as_str())
    );

    let (ok, stdout, stderr) = run_cli(
        &["key", "list", "--tenant", "default", "--database-url", url],
        None,
    );
    assert!(ok, "{stderr}");
    let keys = json_lines(&stdout);
    assert_eq!(keys.len(), 1, "only the default tenant's key: {stdout}");
    let listed = &keys[0];
    assert_eq!(listed["key_id"], key["key_id"]);
    assert_eq!(listed["name"], "ops");
    let prefix = listed["prefix"].as_str().expect("prefix");
    assert!(
        !prefix.is_empty() && secret.contains(prefix),
        "{prefix} of {secret}"
    );
    assert!(listed["created_at"].is_string());
    assert!(listed["last_used_at"].is_null() && listed["revoked_at"].is_null());
    let mut fields: Vec<&str> = listed
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "created_at",
            "key_id",
            "last_used_at",
            "name",
            "prefix",
            "revoked_at"
        ],
        "no secret, no hash"
    );
    assert!(!stdout.contains(&secret));

    // The same tenant by its id; a revoked key stays listed, marked.
    let key_id = key["key_id"].as_str().expect("key_id");
    let (ok, _, stderr) = run_cli(&["key", "revoke", key_id, "--database-url", url], None);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = run_cli(
        &[
            "key",
            "list",
            "--tenant",
            &default_id,
            "--database-url",
            url,
        ],
        None,
    );
    assert!(ok, "{stderr}");
    assert!(json_line(&stdout)["revoked_at"].is_string(), "{stdout}");

    // Acme's first key is Acme's alone.
    let acme_id = acme["tenant_id"].as_str().expect("tenant_id");
    let (ok, stdout, stderr) = run_cli(
        &["key", "list", "--tenant", acme_id, "--database-url", url],
        None,
    );
    assert!(ok, "{stderr}");
    assert_eq!(json_lines(&stdout).len(), 1, "{stdout}");
    assert_ne!(json_line(&stdout)["key_id"], key["key_id"]);

    let unknown = "00000000-0000-4000-8000-000000000000";
    let (ok, _, stderr) = run_cli(
        &["key", "list", "--tenant", unknown, "--database-url", url],
        None,
    );
    assert!(!ok && stderr.contains("no tenant"), "{stderr}");
    let (ok, _, stderr) = run_cli(
        &["key", "list", "--tenant", "acme", "--database-url", url],
        None,
    );
    assert!(!ok && stderr.contains("`default`"), "{stderr}");
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

/// Logs written to a file or pipe carry no ANSI colour codes; on a terminal they are
/// coloured unless `NO_COLOR` is set.
#[test]
fn logs_are_coloured_only_on_a_terminal() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("log.db").display());
    let binary = env!("CARGO_BIN_EXE_confab");
    let piped = std::process::Command::new(binary)
        .args(["migrate", "--database-url", &url])
        .env("CONFAB_LOG", "info")
        .env_remove("NO_COLOR")
        .output()
        .expect("run confab");
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(stderr.contains("schema is up to date"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no escape codes in a pipe: {stderr:?}"
    );

    // `script` gives the command a terminal (util-linux, present wherever tests run).
    let on_terminal = |no_color: Option<&str>| {
        let mut command = std::process::Command::new("script");
        command
            .args([
                "-qec",
                &format!("{binary} migrate --database-url {url}"),
                "/dev/null",
            ])
            .env("CONFAB_LOG", "info")
            .env_remove("NO_COLOR");
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let output = command.output().expect("run script(1)");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let coloured = on_terminal(None);
    assert!(
        coloured.contains("schema is up to date") && coloured.contains('\u{1b}'),
        "{coloured:?}"
    );
    let plain = on_terminal(Some("1"));
    assert!(
        plain.contains("schema is up to date") && !plain.contains('\u{1b}'),
        "{plain:?}"
    );
}

/// A failing command says why once, not once as a log line and again as a message.
#[test]
fn a_failing_command_reports_its_error_once() {
    let dir = tempfile::tempdir().expect("dir");
    let from = format!("sqlite://{}", dir.path().join("missing/none.db").display());
    let to = format!("sqlite://{}", dir.path().join("to.db").display());
    for args in [
        vec!["copy", "--from", from.as_str(), "--to", to.as_str()],
        vec![
            "key",
            "revoke",
            "00000000-0000-4000-8000-000000000000",
            "--database-url",
            to.as_str(),
        ],
    ] {
        let (ok, _, stderr) = run_cli(&args, None);
        assert!(!ok, "{args:?} fails");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line of error: {stderr}");
        assert!(lines[0].starts_with("confab: "), "{stderr}");
    }
}
