//! The processes under test: confab itself, and the ceiling server.

use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// Builds confab in release mode and returns the binary's path.
pub fn build_release(workspace: &Path) -> anyhow::Result<PathBuf> {
    // The rustup proxy on PATH, not the toolchain binary: it pins the toolchain for the
    // whole build (a dependency may ship its own rust-toolchain file).
    let status = std::process::Command::new("cargo")
        .args(["build", "--release", "-p", "confab", "--bin", "confab"])
        .current_dir(workspace)
        .status()
        .context("cannot run cargo build")?;
    anyhow::ensure!(status.success(), "cargo build --release failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    Ok(target.join("release").join("confab"))
}

pub fn free_address() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// A server process; killed on drop.
pub struct Process {
    pub child: Child,
    pub address: SocketAddr,
}

impl Process {
    pub async fn spawn(
        program: &Path,
        args: &[String],
        address: SocketAddr,
    ) -> anyhow::Result<Self> {
        let child = Command::new(program)
            .args(args)
            .env("CONFAB_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let process = Process { child, address };
        process.wait_listening().await?;
        Ok(process)
    }

    async fn wait_listening(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if tokio::net::TcpStream::connect(self.address).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        anyhow::bail!("server at {} did not start listening", self.address)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Peak resident memory so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// Resident memory now (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// CPU seconds used so far (user + system).
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(&format!("/proc/{}/stat", self.pid()))
    }
}

/// Resident memory of process `pid` now (VmRSS), in KiB.
pub fn rss_kib_of(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds of a process from a `/proc/.../stat` file.
pub fn cpu_seconds_of(stat_path: &str) -> f64 {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    std::fs::read_to_string(stat_path)
        .ok()
        .and_then(|stat| {
            // Fields after the command name (which may contain spaces) start after ')'.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            Some((user + system) / ticks_per_second)
        })
        .unwrap_or(0.0)
}

/// The ceiling: the same HTTP stack (axum on hyper and tokio, same runtime settings)
/// answering every request with fixed bytes from memory.
pub async fn run_ceiling_server(address: SocketAddr, body_file: &Path) -> anyhow::Result<()> {
    let body = bytes::Bytes::from(std::fs::read(body_file)?);
    // Reads the request's body, as a real handler must (3c sends POSTs).
    let app = axum::Router::new().fallback(move |_request: bytes::Bytes| {
        let body = body.clone();
        async move {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
