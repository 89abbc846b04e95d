//! `bench`: builds confab in release mode, starts it on a fresh database, seeds data over
//! the API, runs each scenario with a closed-loop load generator over loopback, and prints
//! one table (also written to `bench/results/*.json`).
//!
//! ```text
//! cargo run --release -p confab-bench -- [--database URL] [--duration SECONDS] [--only 1,3]
//! ```

mod big_reads;
mod corpus;
mod generation;
mod lists;
mod load;
mod retention;
mod scenarios;
mod search;
mod search_costs;
mod seed;
mod server;
mod tree;
mod writes;

use anyhow::Context as _;
use std::path::PathBuf;
use std::time::Duration;

/// Options of a run.
pub struct Options {
    /// `sqlite` (a fresh file) or a `postgres://` URL of a server where fresh databases
    /// can be created.
    pub database: String,
    pub duration: Duration,
    pub only: Option<Vec<u32>>,
    pub workspace: PathBuf,
    /// A confab binary to run instead of building one (e.g. another commit's).
    pub binary: Option<PathBuf>,
    /// Size of scenario 7's chat, in MiB.
    pub big_chat_mib: u64,
    /// Messages scenario 9 seeds (100 per chat).
    pub search_messages: usize,
    /// A confab binary without search, for scenario 9's write-overhead comparison.
    pub baseline_binary: Option<PathBuf>,
}

/// One row of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub server_peak_rss_mib: f64,
    pub server_cpu_s: f64,
    pub generator_cpu_s: f64,
    pub note: String,
}

impl Row {
    /// A row with only a name and a note (a figure that is not a rate, or a rate set
    /// with struct update syntax).
    pub fn noted(scenario: &str, note: String) -> Row {
        Row {
            scenario: scenario.to_owned(),
            per_second: 0.0,
            p50_ms: 0.0,
            p95_ms: 0.0,
            p99_ms: 0.0,
            max_ms: 0.0,
            errors: 0,
            server_peak_rss_mib: 0.0,
            server_cpu_s: 0.0,
            generator_cpu_s: 0.0,
            note,
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "scenario": self.scenario,
            "per_second": round(self.per_second, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "max_ms": round(self.max_ms, 3),
            "errors": self.errors,
            "server_peak_rss_mib": round(self.server_peak_rss_mib, 1),
            "server_cpu_s": round(self.server_cpu_s, 2),
            "generator_cpu_s": round(self.generator_cpu_s, 2),
            "note": self.note,
        })
    }
}

fn round(value: f64, digits: i32) -> f64 {
    let factor = 10f64.powi(digits);
    (value * factor).round() / factor
}

fn usage() -> ! {
    eprintln!(
        "usage: bench [--database sqlite|postgres://USER@HOST/DB] [--duration SECONDS] [--only 1,2,...]\n\
         \x20            [--binary PATH] [--big-chat-mib N] [--search-messages N]\n\
         \x20            [--baseline-binary PATH] [--keep-data]\n\
         Scenarios: 1 GET messages, 2 ceiling, 3 POST messages, 4 delete-last and delete chat,\n\
         5 tenant chat pages, 6 WebSocket fan-out and idle sockets,\n\
         7 eight parallel reads of a 500 MiB chat (only with --only 7; --big-chat-mib sizes it),\n\
         8 a 10,000-message tree: GET of its 500-deep active path, branch switches,\n\
         9 search over 1,000,000 messages in 10,000 chats (only with --only 9; --search-messages\n\
         \x20 sizes it; --baseline-binary adds POST throughput of that build vs this one, A B A B),\n\
         10 generation: 200 replies streamed from the in-process LLM double at 50 chunks/s, each\n\
         \x20 chat watched by 5 sockets; resumes (only with --only 10; its own server).\n\
         11 retention: 3a's POST load while the sweeper deletes 100,000 old chats, against the\n\
         \x20 same load with it idle (only with --only 11; its own server).\n\
         12 chat lists (user API, 20 chats; tenant API, a page of 20), each beside its ceiling.\n\
         --binary runs that confab instead of building this workspace's release binary.\n\
         --keep-data leaves each run's SQLite files and PostgreSQL databases for inspection."
    );
    std::process::exit(2)
}

fn parse_options() -> anyhow::Result<Options> {
    let mut options = Options {
        database: "sqlite".to_owned(),
        duration: Duration::from_secs(10),
        only: None,
        binary: None,
        big_chat_mib: 500,
        search_messages: 1_000_000,
        baseline_binary: None,
        workspace: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--database" => options.database = args.next().unwrap_or_else(|| usage()),
            "--duration" => {
                let seconds: u64 = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| usage());
                options.duration = Duration::from_secs(seconds.max(1));
            }
            "--only" => {
                let list = args.next().unwrap_or_else(|| usage());
                options.only = Some(
                    list.split(',')
                        .filter_map(|s| s.trim().parse().ok())
                        .collect(),
                );
            }
            "--binary" => {
                options.binary = Some(PathBuf::from(args.next().unwrap_or_else(|| usage())))
            }
            "--big-chat-mib" => {
                options.big_chat_mib = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| usage());
            }
            "--search-messages" => {
                options.search_messages = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| usage());
            }
            "--baseline-binary" => {
                options.baseline_binary =
                    Some(PathBuf::from(args.next().unwrap_or_else(|| usage())))
            }
            "--keep-data" => scenarios::KEEP_DATA.store(true, std::sync::atomic::Ordering::Relaxed),
            "--help" | "-h" => usage(),
            _ => usage(),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    // Internal mode: the ceiling server, started by the bench itself.
    if args.next().as_deref() == Some("--ceiling-server") {
        let address = args.next().context("address")?.parse()?;
        let body = PathBuf::from(args.next().context("body file")?);
        return server::run_ceiling_server(address, &body).await;
    }
    let options = parse_options()?;
    let rows = scenarios::run_all(&options).await?;
    print_table(&options, &rows);
    write_results(&options, &rows)?;
    Ok(())
}

fn print_table(options: &Options, rows: &[Row]) {
    println!();
    println!(
        "confab bench — database: {}, {} s per load scenario, {} cores",
        options.database,
        options.duration.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| {:<44} | {:>10} | {:>8} | {:>8} | {:>8} | {:>8} | {:>6} | {:>9} | {:>7} | {:>7} | note",
        "scenario",
        "per second",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "errors",
        "peak RSS",
        "srv CPU",
        "gen CPU",
    );
    println!(
        "|{:-<46}|{:-<12}|{:-<10}|{:-<10}|{:-<10}|{:-<10}|{:-<8}|{:-<11}|{:-<9}|{:-<9}|{:-<6}",
        "", "", "", "", "", "", "", "", "", "", ""
    );
    for row in rows {
        println!(
            "| {:<44} | {:>10.0} | {:>8.2} | {:>8.2} | {:>8.2} | {:>8.2} | {:>6} | {:>6.1} MiB | {:>6.1}s | {:>6.1}s | {}",
            row.scenario,
            row.per_second,
            row.p50_ms,
            row.p95_ms,
            row.p99_ms,
            row.max_ms,
            row.errors,
            row.server_peak_rss_mib,
            row.server_cpu_s,
            row.generator_cpu_s,
            row.note
        );
    }
}

fn write_results(options: &Options, rows: &[Row]) -> anyhow::Result<()> {
    let directory = options.workspace.join("bench/results");
    std::fs::create_dir_all(&directory)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let engine = if options.database.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    let path = directory.join(format!("{stamp}-{engine}.json"));
    let document = serde_json::json!({
        "database": engine,
        "duration_s": options.duration.as_secs(),
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "rows": rows.iter().map(Row::json).collect::<Vec<_>>(),
    });
    std::fs::write(&path, serde_json::to_string_pretty(&document)? + "\n")?;
    println!("\nresults written to {}", path.display());
    Ok(())
}
