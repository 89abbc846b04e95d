//! The harness itself: a PostgreSQL or Redis half that cannot run fails instead of
//! passing in milliseconds, unless it was skipped on purpose.

use std::net::TcpListener;

use crate::support::database::{service_url, Service};

fn service(port: u16) -> Service {
    Service {
        what: "harness-check",
        url_var: "CONFAB_TEST_HARNESS_CHECK_URL",
        skip_var: "CONFAB_TEST_HARNESS_CHECK_SKIP",
        local_url: "harness://127.0.0.1/local",
        local_port: port,
    }
}

#[test]
fn a_service_half_runs_on_a_local_server_fails_without_one_and_skips_only_on_request() {
    // Nextest runs each test in its own process, so these variables are ours alone.
    std::env::remove_var("CI");
    std::env::remove_var("CONFAB_TEST_HARNESS_CHECK_URL");
    std::env::remove_var("CONFAB_TEST_HARNESS_CHECK_SKIP");

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    assert_eq!(
        service_url(&service(port), "t").as_deref(),
        Some("harness://127.0.0.1/local"),
        "a local server is used when the URL is unset"
    );
    drop(listener);

    let unskipped = std::panic::catch_unwind(|| service_url(&service(port), "t"));
    let message = unskipped
        .expect_err("nothing listens and no skip was asked: the test must fail")
        .downcast::<String>()
        .map(|m| *m)
        .unwrap_or_default();
    assert!(
        message.contains("CONFAB_TEST_HARNESS_CHECK_SKIP=1"),
        "{message}"
    );

    std::env::set_var("CONFAB_TEST_HARNESS_CHECK_SKIP", "1");
    assert_eq!(service_url(&service(port), "t"), None, "skipped on purpose");

    std::env::set_var("CONFAB_TEST_HARNESS_CHECK_URL", "harness://set");
    assert_eq!(
        service_url(&service(port), "t").as_deref(),
        Some("harness://set"),
        "a URL that is set wins"
    );
}
