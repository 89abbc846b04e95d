//! The suites written in other languages, each run against a real server of ours (on
//! both engines, with the LLM double as its provider): the TypeScript client's
//! (`clients/typescript`, `npm test`), the Python client's (`clients/python`, pytest),
//! and the web app's end-to-end suite in headless Chromium (`e2e/`, Playwright).
//!
//! Each suite gets `CONFAB_URL`, and `CONFAB_API_KEY` and `CONFAB_TENANT_ID` of the
//! default tenant, where signed-up users live. What they need installed (`node_modules`, a Python virtualenv,
//! Chromium) is prepared by `scripts/test.sh`; without it a suite fails with CI=true
//! and otherwise reports itself NOT RUN, saying how to prepare it.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::generate::app_with_double;
use crate::support::database::in_ci;
use crate::support::{Auth, Backend};
use crate::tenant_support::default_tenant_key;

crate::per_backend!(
    typescript_client_suite,
    python_client_suite,
    web_app_in_chromium
);

/// What a suite may take before it is killed and failed.
const SUITE_LIMIT: Duration = Duration::from_secs(300);
/// The server's default model in the suites (30 chunks 40 ms apart), for replies whose
/// model a test leaves empty.
const DEFAULT_MODEL: &str = "count-30-40";

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python of the client's virtualenv (`CONFAB_TEST_PYTHON`, or where
/// `scripts/test.sh` makes it).
fn python() -> PathBuf {
    match std::env::var_os("CONFAB_TEST_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/confab/python-client/bin/python"),
    }
}

/// Whether something `needs` lists is absent: then the suite is NOT RUN (or, in CI,
/// fails) with the list.
fn missing(suite: &str, needs: &[PathBuf]) -> bool {
    let absent: Vec<String> = needs
        .iter()
        .filter(|path| !path.exists())
        .map(|path| path.display().to_string())
        .collect();
    if absent.is_empty() {
        return false;
    }
    let message = format!(
        "the {suite} suite needs {} (run scripts/test.sh, which installs them)",
        absent.join(", ")
    );
    assert!(!in_ci(), "{message}");
    println!("{suite} suite NOT RUN: {message}");
    true
}

/// Runs `program args` in `dir` against a fresh server; fails the test on a non-zero
/// exit, printing the suite's output either way.
async fn run_suite(backend: Backend, dir: &Path, program: &Path, args: &[&str]) {
    let (app, _double) = app_with_double(backend, |config| {
        config.llm.llm_default_model = Some(DEFAULT_MODEL.to_owned());
        config.llm.llm_timeout_seconds = 10;
        // The suites sign up many users from one address; the throttles have tests of
        // their own.
        config.abuse.auth_ip_attempts = 0;
        config.abuse.auth_account_failures = 0;
        config.abuse.user_write_rate_per_second = 0;
    })
    .await;
    let tenant = app
        .store()
        .default_tenant()
        .await
        .expect("the default tenant");
    let Auth::Key(key) = default_tenant_key(&app).await else {
        unreachable!("a key")
    };
    let log = tempfile::NamedTempFile::new().expect("log file");
    // One open file for both streams: two handles would each write from offset 0.
    let stdout = log.reopen().expect("log");
    let stderr = stdout.try_clone().expect("log");
    let scratch = tempfile::tempdir().expect("scratch folder");
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .env("CONFAB_URL", format!("http://{}", app.address))
        .env("CONFAB_API_KEY", key)
        .env("CONFAB_TENANT_ID", tenant.id.to_string())
        .env("CI", "true")
        // Playwright's artefacts, screenshots and figures, apart for each run (both
        // databases run at once; the committed screenshots are refreshed by hand with
        // e2e/run-local.sh).
        .env("E2E_OUTPUT_DIR", scratch.path().join("output"))
        .env("E2E_SCREENSHOTS_DIR", scratch.path().join("screenshots"))
        .env("E2E_RESULTS_DIR", scratch.path().join("results"))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        // Its own process group, so a timeout ends npm's and Playwright's children too.
        .process_group(0);
    let label = format!("{} {}", program.display(), args.join(" "));
    let status = tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("the suite starts");
        let deadline = Instant::now() + SUITE_LIMIT;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                let group = format!("-{}", child.id());
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .expect("the suite's waiter");
    let output = std::fs::read_to_string(log.path()).unwrap_or_default();
    println!("{output}");
    match status {
        Some(status) => assert!(status.success(), "{label} failed ({status}); output above"),
        None => panic!("{label} ran over {SUITE_LIMIT:?}; output above"),
    }
}

async fn typescript_client_suite(backend: Backend) {
    let dir = repository().join("clients/typescript");
    if missing("TypeScript client", &[dir.join("node_modules")]) {
        return;
    }
    run_suite(backend, &dir, Path::new("npm"), &["test", "--silent"]).await;
}

async fn python_client_suite(backend: Backend) {
    let dir = repository().join("clients/python");
    let python = python();
    if missing("Python client", std::slice::from_ref(&python)) {
        return;
    }
    run_suite(
        backend,
        &dir,
        &python,
        &["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
    )
    .await;
}

async fn web_app_in_chromium(backend: Backend) {
    let dir = repository().join("e2e");
    let chromium = std::env::var_os("CHROMIUM_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if std::env::var("CONFAB_TEST_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        assert!(!in_ci(), "CONFAB_TEST_SKIP_BROWSER=1 with CI=true");
        println!("browser suite NOT RUN: CONFAB_TEST_SKIP_BROWSER=1");
        return;
    }
    if missing("browser", &[dir.join("node_modules"), chromium]) {
        return;
    }
    run_suite(backend, &dir, Path::new("npx"), &["playwright", "test"]).await;
}
