//! Server configuration: flags and `CONFAB_*` environment variables (see `confab serve --help`).

use clap::Args;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://confab.db";

/// Where the data lives; shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://PATH` (created if missing) or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (the database must exist).
    #[arg(long, env = "CONFAB_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Database connections (SQLite: reader connections beside the one writer;
    /// PostgreSQL: the pool size).
    #[arg(long, env = "CONFAB_DB_POOL_SIZE", default_value_t = 4)]
    pub db_pool_size: u32,
}

/// Sizes the API refuses to exceed.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Largest request body in bytes; larger bodies get 413.
    #[arg(long, env = "CONFAB_BODY_LIMIT_BYTES", default_value_t = 1024 * 1024)]
    pub body_limit_bytes: usize,
    /// Largest single message text in bytes.
    #[arg(long, env = "CONFAB_MAX_MESSAGE_BYTES", default_value_t = 512 * 1024)]
    pub max_message_bytes: usize,
    /// Most messages in one batch post.
    #[arg(long, env = "CONFAB_MAX_BATCH_MESSAGES", default_value_t = 100)]
    pub max_batch_messages: usize,
    /// Memory for serialised message lists of unchanged chats, in MiB (0 disables).
    #[arg(long, env = "CONFAB_MESSAGE_CACHE_MIB", default_value_t = 32)]
    pub message_cache_mib: usize,
    /// Frames a WebSocket connection may have unsent before it is closed as too slow.
    #[arg(long, env = "CONFAB_WS_BUFFER_FRAMES", default_value_t = 1024)]
    pub ws_buffer_frames: usize,
    /// Seconds between WebSocket pings; a peer silent for three intervals is dropped.
    #[arg(long, env = "CONFAB_WS_PING_INTERVAL_SECONDS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub ws_ping_interval_seconds: u64,
}

impl Limits {
    /// How often a WebSocket connection is pinged.
    pub fn ws_ping_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.ws_ping_interval_seconds.max(1))
    }
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "CONFAB_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Redis URL for several server nodes (`redis://HOST:PORT`); unset: single node.
    #[arg(long, env = "CONFAB_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel, so installations can share one Redis.
    #[arg(long, env = "CONFAB_REDIS_PREFIX", default_value = "confab")]
    pub redis_prefix: String,
    /// Seconds a node's connection counts outlive its last heartbeat in Redis (at most
    /// 60): a node that dies stops counting within this time. Heartbeats run every
    /// third of it.
    #[arg(long, env = "CONFAB_PRESENCE_TTL_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=60))]
    pub presence_ttl_seconds: u64,
    /// Mark the session cookie `Secure` (set it when clients reach confab over HTTPS).
    #[arg(long, env = "CONFAB_COOKIE_SECURE")]
    pub cookie_secure: bool,
    /// How long a session lasts, in hours.
    #[arg(long, env = "CONFAB_SESSION_TTL_HOURS", default_value_t = 24 * 30)]
    pub session_ttl_hours: u32,
    /// Log format: `text` or `json`.
    #[arg(long, env = "CONFAB_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    #[command(flatten)]
    pub limits: Limits,
}

impl Config {
    pub fn session_ttl_seconds(&self) -> i64 {
        i64::from(self.session_ttl_hours) * 3600
    }

    /// The defaults, for a given database (tests and tools build configs this way).
    pub fn with_database(database_url: impl Into<String>) -> Self {
        Config {
            listen: DEFAULT_LISTEN.to_owned(),
            database: DatabaseArgs {
                database_url: database_url.into(),
                db_pool_size: 4,
            },
            redis_url: None,
            redis_prefix: "confab".to_owned(),
            presence_ttl_seconds: 30,
            cookie_secure: false,
            session_ttl_hours: 24 * 30,
            log_format: "text".to_owned(),
            limits: Limits {
                body_limit_bytes: 1024 * 1024,
                max_message_bytes: 512 * 1024,
                max_batch_messages: 100,
                message_cache_mib: 32,
                ws_buffer_frames: 1024,
                ws_ping_interval_seconds: 20,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        config: Config,
    }

    /// The hand-written defaults agree with the command line's.
    #[test]
    fn defaults_match_the_command_line() {
        let parsed = Probe::parse_from(["confab"]).config;
        let built = Config::with_database(parsed.database.database_url.clone());
        assert_eq!(format!("{parsed:?}"), format!("{built:?}"));
    }
}
