//! Real processes for multi-node tests: `confab serve` nodes and a private Redis.
//!
//! A [`Node`] is the release-like binary (`CARGO_BIN_EXE_confab`) on its own port; it
//! is killed with SIGKILL (`kill9`, or on drop), which is how a crashed node looks to
//! the others. Logs go to the test's stderr.

use serde_json::Value;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nobody listens on right now (the OS picks it; it is free again at return).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// How a node is started.
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    pub database_url: String,
    pub redis_url: Option<String>,
    pub redis_prefix: Option<String>,
    pub presence_ttl_seconds: Option<u64>,
    /// Further `--flag value` pairs.
    pub extra_args: Vec<String>,
}

/// A `confab serve` process.
pub struct Node {
    pub name: String,
    pub address: SocketAddr,
    pub client: reqwest::Client,
    child: Option<Child>,
}

impl Node {
    /// Starts the process (it does not wait: see [`Node::wait_healthy`]).
    pub fn spawn(name: &str, options: &NodeOptions) -> Node {
        let port = free_port();
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let mut command = Command::new(env!("CARGO_BIN_EXE_confab"));
        command
            .arg("serve")
            .arg("--listen")
            .arg(address.to_string())
            .arg("--database-url")
            .arg(&options.database_url);
        if let Some(url) = &options.redis_url {
            command.arg("--redis-url").arg(url);
        }
        if let Some(prefix) = &options.redis_prefix {
            command.arg("--redis-prefix").arg(prefix);
        }
        if let Some(ttl) = options.presence_ttl_seconds {
            command.arg("--presence-ttl-seconds").arg(ttl.to_string());
        }
        command
            .args(&options.extra_args)
            .env("CONFAB_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node {name}: {e}"));
        Node {
            name: name.to_owned(),
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
            child: Some(child),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// `GET /healthz` as JSON, or `None` while the node does not answer.
    pub async fn health(&self) -> Option<Value> {
        let response = self.client.get(self.url("/healthz")).send().await.ok()?;
        response.json().await.ok()
    }

    /// Waits until `/healthz` satisfies `ready` (panics after `timeout`, or at once if
    /// the process exits); returns that health document.
    pub async fn wait_until(&mut self, timeout: Duration, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("node {} exited during start-up: {status}", self.name);
                }
            }
            if let Some(health) = self.health().await {
                if ready(&health) {
                    return health;
                }
                last = Some(health);
            }
            assert!(
                Instant::now() < deadline,
                "node {} not ready within {timeout:?}; last /healthz: {last:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the node answers `/healthz` with its database and events healthy.
    pub async fn wait_healthy(&mut self) -> Value {
        self.wait_until(Duration::from_secs(60), |health| {
            health["database"]["ok"] == true && health["events"]["ok"] == true
        })
        .await
    }

    /// Kills the process with SIGKILL, as a crash would, and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A private `redis-server` on its own port, for tests that stop and restart Redis.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` (from `PATH`) without persistence and waits until it
    /// accepts connections.
    pub async fn start(port: u16) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server (is it installed?): {e}"));
        let server = RedisServer {
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Starts a node on `database_url` (no Redis) and waits until it is healthy.
pub async fn start_node(name: &str, database_url: &str) -> Node {
    start_node_with(name, database_url, &[]).await
}

/// [`start_node`] with further `serve` flags.
pub async fn start_node_with(name: &str, database_url: &str, extra_args: &[&str]) -> Node {
    let mut node = Node::spawn(
        name,
        &NodeOptions {
            database_url: database_url.to_owned(),
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
            ..NodeOptions::default()
        },
    );
    node.wait_healthy().await;
    node
}

/// Runs a `confab` subcommand; returns (success, stdout, stderr).
pub fn run_cli(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(args)
        .env("CONFAB_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn confab");
    if let Some(mut pipe) = child.stdin.take() {
        if let Some(input) = stdin {
            pipe.write_all(input.as_bytes()).expect("stdin");
        }
    }
    let output = child.wait_with_output().expect("confab output");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
