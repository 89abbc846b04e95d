//! Accounts: which tenant a sign-up or login means, look-alike emails, blank passwords,
//! and the bound on concurrent password hashing (503 with `Retry-After` when saturated).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::process::run_cli;
use crate::support::{post_answer, user_error, Auth, Backend, TestApp};

crate::per_backend!(
    users_of_another_tenant_log_in_with_its_tenant_id,
    look_alike_emails_are_one_account,
    blank_passwords_are_refused,
    saturated_password_hashing_answers_503_with_retry_after,
);

const PASSWORD: &str = "correct horse battery";

/// Posts `body` to an auth route; returns the status, `Retry-After` and the JSON body.
async fn auth(app: &TestApp, route: &str, body: Value) -> Answer {
    post_answer(app, route, &Auth::None, body).await
}

/// A sign-up or login body, naming `tenant` if given.
fn credentials(email: &str, password: &str, tenant: Option<&str>) -> Value {
    let mut body = json!({"email": email, "password": password});
    if let Some(tenant) = tenant {
        body["tenant_id"] = json!(tenant);
    }
    body
}

type Answer = (StatusCode, Option<String>, Value);

async fn login(app: &TestApp, email: &str, password: &str, tenant: Option<&str>) -> Answer {
    auth(app, "/api/auth/login", credentials(email, password, tenant)).await
}

async fn sign_up(app: &TestApp, email: &str, password: &str, tenant: Option<&str>) -> Answer {
    auth(
        app,
        "/api/auth/sign-up",
        credentials(email, password, tenant),
    )
    .await
}

/// `confab user create` against the app's database; returns the JSON line it prints.
async fn cli_user_create(app: &TestApp, email: &str, tenant: Option<&str>) -> Value {
    let mut args = vec![
        "user".to_owned(),
        "create".to_owned(),
        "--email".to_owned(),
        email.to_owned(),
        "--database-url".to_owned(),
        app.database_url.clone(),
    ];
    if let Some(tenant) = tenant {
        args.extend(["--tenant".to_owned(), tenant.to_owned()]);
    }
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(&args, Some(&format!("{PASSWORD}\n")))
    })
    .await
    .expect("cli");
    assert!(ok, "user create failed: {stderr}");
    serde_json::from_str(stdout.trim()).expect("one JSON line")
}

async fn users_of_another_tenant_log_in_with_its_tenant_id(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.auth_ip_attempts = 0;
        config.abuse.auth_account_failures = 3;
    })
    .await;
    let acme = app.store().create_tenant("acme").await.expect("tenant");
    let acme_id = acme.id.to_string();
    let created = cli_user_create(&app, "ann@example.com", Some(&acme_id)).await;
    assert_eq!(created["tenant_id"], acme_id.as_str());

    // With its tenant: signed in as the command line's user.
    let (status, _, body) = login(&app, "ann@example.com", PASSWORD, Some(&acme_id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["id"], created["user_id"]);

    // Without it, the default tenant is meant, where Ann has no account.
    let (status, _, body) = login(&app, "ann@example.com", PASSWORD, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // The same address in the default tenant is a second, separate account.
    let (status, _, body) = sign_up(&app, "ann@example.com", "another long password", None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let default_ann = body["user"]["id"].clone();
    assert_ne!(default_ann, created["user_id"]);
    let (status, _, body) = login(&app, "ann@example.com", "another long password", None).await;
    assert_eq!(
        (status, body["user"]["id"].clone()),
        (StatusCode::OK, default_ann)
    );
    // Each account has its own password.
    let (status, _, _) = login(
        &app,
        "ann@example.com",
        "another long password",
        Some(&acme_id),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Sign-up into a named tenant: taken there; unknown tenants are refused.
    let (status, _, body) = sign_up(&app, "ANN@example.com", PASSWORD, Some(&acme_id)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _, body) = sign_up(
        &app,
        "bob@example.com",
        PASSWORD,
        Some(&uuid::Uuid::new_v4().to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body, user_error(400, "tenant_id names no tenant"));
    let (status, _, _) = login(
        &app,
        "ann@example.com",
        PASSWORD,
        Some(&uuid::Uuid::new_v4().to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Failures are counted per account, and the tenant is part of the account: the
    // default tenant's Ann being throttled does not lock out Acme's Ann (who has two
    // failures of her own above).
    for _ in 0..3 {
        let (status, _, _) = login(&app, "ann@example.com", "wrong password", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, retry_after, _) =
        login(&app, "ann@example.com", "another long password", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after.is_some());
    let (status, _, body) = login(&app, "ann@example.com", PASSWORD, Some(&acme_id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn look_alike_emails_are_one_account(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.auth_ip_attempts = 0;
        config.abuse.auth_account_failures = 0;
    })
    .await;
    let ann = app.sign_up("ann@example.com").await;
    for look_alike in [
        "ann\u{200B}@example.com",
        "\u{FEFF}a\u{00AD}nn@example.com",
        "ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ",
        "ANN@EXAMPLE.COM\u{2060}",
    ] {
        let (status, _, body) = sign_up(&app, look_alike, PASSWORD, None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{look_alike:?}: {body}");
        let (status, _, body) = login(&app, look_alike, PASSWORD, None).await;
        assert_eq!(status, StatusCode::OK, "{look_alike:?}: {body}");
        assert_eq!(body["user"]["id"], ann.id, "{look_alike:?}");
    }

    // The command line normalises the same way: its full-width, zero-width-spaced Bob
    // is the Bob who logs in with plain letters.
    let bob = cli_user_create(&app, "ｂｏｂ\u{200B}@example.com", None).await;
    assert_eq!(bob["email"], "bob@example.com");
    let (status, _, body) = login(&app, "bob@example.com", PASSWORD, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["id"], bob["user_id"]);
}

async fn blank_passwords_are_refused(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.abuse.auth_ip_attempts = 0).await;
    for blank in [
        "            ",
        "\t\t\t\t\n\n\n\n",
        "\u{3000}\u{200B}\u{00A0}        ",
    ] {
        let (status, _, body) = sign_up(&app, "blank@example.com", blank, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{blank:?}: {body}");
        assert_eq!(
            body,
            user_error(400, "password must not be only whitespace")
        );
    }
    // Spaces inside a password are fine.
    let (status, _, body) = sign_up(
        &app,
        "blank@example.com",
        "  four words with spaces  ",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn saturated_password_hashing_answers_503_with_retry_after(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.auth_ip_attempts = 0;
        config.abuse.auth_account_failures = 0;
        config.abuse.password_hash_concurrency = 1;
        config.abuse.password_hash_wait_ms = 0;
    })
    .await;
    app.sign_up("ann@example.com").await;
    let busy = user_error(
        503,
        "The server is busy checking passwords; try again in a moment",
    );

    // The one hashing slot is taken: logins and sign-ups are told to come back.
    let held = app.state.hashing.slot().await.expect("the only slot");
    for (route, email) in [
        ("/api/auth/login", "ann@example.com"),
        ("/api/auth/login", "nobody@example.com"),
        ("/api/auth/sign-up", "new@example.com"),
    ] {
        let (status, retry_after, body) =
            auth(&app, route, json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{route}: {body}");
        assert_eq!(retry_after.as_deref(), Some("1"), "{route}");
        assert_eq!(body, busy);
    }
    drop(held);
    let (status, _, body) = login(&app, "ann@example.com", PASSWORD, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Many logins at once with one slot and no wait: each is either answered (401,
    // unknown email) or told to retry; none fails otherwise.
    let logins = (0..16).map(|i| {
        let app = &app;
        async move { login(app, &format!("ghost{i}@example.com"), PASSWORD, None).await }
    });
    for (status, retry_after, body) in futures_util::future::join_all(logins).await {
        match status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(retry_after.as_deref(), Some("1"));
                assert_eq!(body, busy);
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
}
