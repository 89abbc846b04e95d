//! Server configuration: flags and `CONFAB_*` environment variables (see `confab serve --help`).
//!
//! Every default is written once, in its flag's clap attribute; [`defaults`] reads them
//! back for code that builds a configuration without a command line (tests, tools).

pub mod lifecycle;
pub mod origin;

use clap::{Args, FromArgMatches};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://confab.db";

/// Where the data lives; shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://PATH` (created if missing) or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (the database must exist).
    #[arg(long, env = "CONFAB_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Database connections (SQLite: reader connections beside the one writer, and as
    /// many again for searches, opened when first needed; PostgreSQL: the pool size).
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
    /// Largest import file in bytes (`POST /api/v1/import` and `confab import`), and the
    /// most a ZIP's conversations may take uncompressed; larger gets 413.
    #[arg(long, env = "CONFAB_MAX_IMPORT_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub max_import_bytes: u64,
    /// Most messages in one batch post.
    #[arg(long, env = "CONFAB_MAX_BATCH_MESSAGES", default_value_t = 100)]
    pub max_batch_messages: usize,
    /// Memory for serialised message lists of unchanged chats, in MiB (0 disables).
    #[arg(long, env = "CONFAB_MESSAGE_CACHE_MIB", default_value_t = 32)]
    pub message_cache_mib: usize,
    /// Largest single message list the cache keeps, in KiB (also at most an eighth of
    /// `--message-cache-mib`). Longer lists are streamed and never cached.
    #[arg(long, env = "CONFAB_MESSAGE_CACHE_ENTRY_KIB", default_value_t = 1024)]
    pub message_cache_entry_kib: usize,
    /// Memory for serialised chat lists whose chats are unchanged, in MiB (0 disables):
    /// this much for the user API's (a user's list, per query) and as much again for
    /// pages of the tenant API's list and trash (per tenant and query). Entries are at
    /// most `--message-cache-entry-kib` and an eighth of this.
    #[arg(long, env = "CONFAB_CHAT_LIST_CACHE_MIB", default_value_t = 8)]
    pub chat_list_cache_mib: usize,
    /// Message text one page of a streamed list reads from the database at a time, in
    /// KiB: what a long list response holds in memory (plus one message).
    #[arg(long, env = "CONFAB_LIST_PAGE_KIB", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub list_page_kib: u32,
    /// Frames a WebSocket connection may have unsent before it is closed as too slow.
    #[arg(long, env = "CONFAB_WS_BUFFER_FRAMES", default_value_t = 1024)]
    pub ws_buffer_frames: usize,
    /// Seconds between WebSocket pings; a peer silent for three intervals is dropped.
    #[arg(long, env = "CONFAB_WS_PING_INTERVAL_SECONDS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub ws_ping_interval_seconds: u64,
    /// Milliseconds between checks for revoked API keys and revoked or expired sessions:
    /// WebSockets opened with one are closed (4001) within about this long, on every node.
    #[arg(long, env = "CONFAB_REVOCATION_POLL_MS", default_value_t = 250,
          value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub revocation_poll_ms: u64,
    /// Matches of each kind (messages, chat names) one search ranks together: the newest
    /// this many, then the next older ones. Larger ranks broad queries over more
    /// messages and costs more per search (see `docs/api.md`, "Search").
    #[arg(long, env = "CONFAB_SEARCH_BAND", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub search_band: u32,
    /// PostgreSQL only: the ids a search's first window spans. A band of
    /// messages is read in windows of ids, newest first, each sized by the matches the
    /// ones before it found (see `docs/architecture.md`, "Search in the store").
    #[arg(long, env = "CONFAB_SEARCH_WINDOW", default_value_t = 20_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub search_window: u32,
    /// Longest request URL (path and query) in bytes; longer ones get 414.
    #[arg(long, env = "CONFAB_MAX_URI_BYTES", default_value_t = 8 * 1024,
          value_parser = clap::value_parser!(u64).range(64..=60_000))]
    pub max_uri_bytes: u64,
    /// Most header lines in a request; more get 431.
    #[arg(long, env = "CONFAB_MAX_HEADERS", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=MAX_HEADERS_CAP as u64))]
    pub max_headers: u64,
    /// Largest request head (request line and headers) in bytes; larger ones get 431.
    #[arg(long, env = "CONFAB_MAX_HEADER_BYTES", default_value_t = 16 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..=128 * 1024))]
    pub max_header_bytes: u64,
}

/// Guards against abuse: login and sign-up throttling, per-key request rates, WebSocket
/// caps and timeouts against slow clients. Every count of `0` disables its limit.
/// Throttles and caps are kept per server node, in memory (see
/// `docs/limits-and-security.md`).
#[derive(Debug, Clone, Args)]
pub struct AbuseLimits {
    /// Take the client address from the last entry of `X-Forwarded-For` (set it only
    /// behind a proxy that appends the real client address; otherwise clients could
    /// pick their own address). Without it, the socket peer's address is used.
    #[arg(long, env = "CONFAB_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Login and sign-up attempts one client address may make per
    /// `--auth-ip-window-seconds` (all at once, then refilling evenly); over it: 429 with
    /// `Retry-After`. IPv6 clients are counted per /64. 0 disables.
    #[arg(long, env = "CONFAB_AUTH_IP_ATTEMPTS", default_value_t = 10)]
    pub auth_ip_attempts: u32,
    /// The window of `--auth-ip-attempts`, in seconds.
    #[arg(long, env = "CONFAB_AUTH_IP_WINDOW_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub auth_ip_window_seconds: u64,
    /// Reads of share links (`GET /api/shared/{id}`, no credentials) one client address
    /// may make per minute (all at once, then refilling evenly); over it: 429 with
    /// `Retry-After`. IPv6 clients are counted per /64. 0 disables.
    #[arg(long, env = "CONFAB_SHARED_IP_READS_PER_MINUTE", default_value_t = 60)]
    pub shared_ip_reads_per_minute: u32,
    /// Failed logins (and refused sign-ups) one email address may have per
    /// `--auth-account-window-seconds`, from any client; over it, every login for that
    /// address gets 429 with `Retry-After`. A successful login clears the count.
    /// 0 disables.
    #[arg(long, env = "CONFAB_AUTH_ACCOUNT_FAILURES", default_value_t = 5)]
    pub auth_account_failures: u32,
    /// The window of `--auth-account-failures`, in seconds.
    #[arg(long, env = "CONFAB_AUTH_ACCOUNT_WINDOW_SECONDS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub auth_account_window_seconds: u64,
    /// Requests per second each API key may make to `/api/v1` (sustained; bursts up to
    /// `--api-key-burst`); over it: 429 with `Retry-After`. 0 disables.
    #[arg(long, env = "CONFAB_API_KEY_RATE_PER_SECOND", default_value_t = 100)]
    pub api_key_rate_per_second: u32,
    /// Requests an idle API key may make at once before `--api-key-rate-per-second`
    /// applies.
    #[arg(long, env = "CONFAB_API_KEY_BURST", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub api_key_burst: u32,
    /// Writes (any method but GET and HEAD) each signed-in user may make to
    /// `/api/users/...` per second (sustained; bursts up to `--user-write-burst`); over
    /// it: 429 with `Retry-After`. 0 disables.
    #[arg(long, env = "CONFAB_USER_WRITE_RATE_PER_SECOND", default_value_t = 20)]
    pub user_write_rate_per_second: u32,
    /// Writes an idle user may make at once before `--user-write-rate-per-second`
    /// applies.
    #[arg(long, env = "CONFAB_USER_WRITE_BURST", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub user_write_burst: u32,
    /// Password hashes (sign-up, login) computed at once on this node, each using
    /// 19 MiB; default: the number of CPU cores. Further attempts wait for a turn.
    #[arg(long, env = "CONFAB_PASSWORD_HASH_CONCURRENCY", default_value_t = default_hash_concurrency(),
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub password_hash_concurrency: u32,
    /// Milliseconds a sign-up or login waits for a hashing turn; then 503 with
    /// `Retry-After`. 0: do not wait.
    #[arg(long, env = "CONFAB_PASSWORD_HASH_WAIT_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub password_hash_wait_ms: u64,
    /// Live WebSocket connections one chat may have (both routes together); further
    /// upgrades get 429 with `Retry-After`. 0: unlimited.
    #[arg(long, env = "CONFAB_WS_MAX_PER_CHAT", default_value_t = 100)]
    pub ws_max_per_chat: u32,
    /// Live WebSocket connections one API key may hold on this node, over all chats;
    /// further upgrades get 429 with `Retry-After`. 0: unlimited.
    #[arg(long, env = "CONFAB_WS_MAX_PER_KEY", default_value_t = 1000)]
    pub ws_max_per_key: u32,
    /// Seconds a client has to send a request's complete headers (also how long an idle
    /// keep-alive connection stays open); then the connection is closed.
    #[arg(long, env = "CONFAB_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_seconds: u64,
    /// Seconds a client has to send a request's complete body; then 408.
    #[arg(long, env = "CONFAB_BODY_READ_TIMEOUT_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_read_timeout_seconds: u64,
}

/// One password hash per CPU core: hashing is CPU-bound, more at once only adds memory.
pub fn default_hash_concurrency() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(1))
        .unwrap_or(1)
        .clamp(1, 1024)
}

/// How much one tenant, user and chat may store; a write over a quota gets 413
/// `quota_exceeded`. Checked inside the write's transaction, so concurrent writes cannot
/// both squeeze under a quota. Every `0` disables its quota.
#[derive(Debug, Clone, Copy, Args)]
pub struct StorageQuotas {
    /// Messages one chat may hold.
    #[arg(
        long,
        env = "CONFAB_MAX_MESSAGES_PER_CHAT",
        default_value_t = 1_000_000
    )]
    pub max_messages_per_chat: u64,
    /// Chats one user may own (user API, and tenant-API chats created for a user).
    #[arg(long, env = "CONFAB_MAX_CHATS_PER_USER", default_value_t = 100_000)]
    pub max_chats_per_user: u64,
    /// Bytes of message text (UTF-8) one tenant may store, over all its chats.
    #[arg(long, env = "CONFAB_MAX_TENANT_MESSAGE_BYTES", default_value_t = 10 * 1024 * 1024 * 1024)]
    pub max_tenant_message_bytes: u64,
}

impl StorageQuotas {
    /// No quotas (tools and tests that write below the API).
    pub const OFF: StorageQuotas = StorageQuotas {
        max_messages_per_chat: 0,
        max_chats_per_user: 0,
        max_tenant_message_bytes: 0,
    };
}

impl AbuseLimits {
    pub fn password_hash_wait(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.password_hash_wait_ms)
    }

    pub fn header_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.header_read_timeout_seconds.max(1))
    }

    pub fn body_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.body_read_timeout_seconds.max(1))
    }
}

/// The most headers `--max-headers` may allow (the head parser keeps a stack array of
/// this many slots).
pub const MAX_HEADERS_CAP: usize = 256;

/// What a request head may be: [`Limits`] as the connection reader applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Longest request target (path and query), in bytes: 414 over it.
    pub max_uri_bytes: usize,
    /// Most header lines: 431 over it.
    pub max_headers: usize,
    /// Largest head (request line, headers, final blank line), in bytes: 431 over it.
    pub max_head_bytes: usize,
    /// A body announced larger than this with `Expect: 100-continue` is refused (413)
    /// before it is sent.
    pub body_limit_bytes: u64,
    /// The same for `POST /api/v1/import` (`--max-import-bytes`).
    pub import_limit_bytes: u64,
}

impl Limits {
    /// How often the revocation watcher polls the database.
    pub fn revocation_poll(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.revocation_poll_ms.max(1))
    }

    /// What a request head may be, for the connection reader.
    pub fn head_limits(&self) -> HeadLimits {
        HeadLimits {
            max_uri_bytes: usize::try_from(self.max_uri_bytes).unwrap_or(usize::MAX),
            max_headers: usize::try_from(self.max_headers).unwrap_or(usize::MAX),
            max_head_bytes: usize::try_from(self.max_header_bytes).unwrap_or(usize::MAX),
            body_limit_bytes: self.body_limit_bytes as u64,
            import_limit_bytes: self.max_import_bytes,
        }
    }

    /// What one page of a streamed list may read.
    pub fn list_page_bytes(&self) -> usize {
        (self.list_page_kib.max(1) as usize).saturating_mul(1024)
    }

    /// How often a WebSocket connection is pinged.
    pub fn ws_ping_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.ws_ping_interval_seconds.max(1))
    }
}

/// The LLM provider that generates replies: any OpenAI-compatible chat completions API
/// (OpenAI, Ollama, vLLM, llama.cpp's server, LiteLLM).
#[derive(Debug, Clone, Args)]
pub struct LlmArgs {
    /// Base URL of the provider's API, before `/chat/completions`
    /// (`http://127.0.0.1:11434/v1` for Ollama, `https://api.openai.com/v1`). Unset: the
    /// generate routes answer 503 `llm_not_configured`.
    #[arg(long, env = "CONFAB_LLM_BASE_URL")]
    pub llm_base_url: Option<String>,
    /// API key sent as `Authorization: Bearer ...` (optional; Ollama needs none).
    #[arg(long, env = "CONFAB_LLM_API_KEY", hide_env_values = true)]
    pub llm_api_key: Option<String>,
    /// Model used when neither the request nor the chat names one.
    #[arg(long, env = "CONFAB_LLM_DEFAULT_MODEL")]
    pub llm_default_model: Option<String>,
    /// Tokens of history sent with a request: the oldest messages are left out to fit.
    #[arg(long, env = "CONFAB_LLM_CONTEXT_TOKENS", default_value_t = 8192,
          value_parser = clap::value_parser!(u32).range(64..=10_000_000))]
    pub llm_context_tokens: u32,
    /// Replies this node generates at once; more are refused with 429.
    #[arg(long, env = "CONFAB_LLM_MAX_CONCURRENT", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub llm_max_concurrent: u32,
    /// Seconds the provider may take to answer a request, and to send each next chunk
    /// of a reply; past it the reply ends `failed` with `llm_timeout`.
    #[arg(long, env = "CONFAB_LLM_TIMEOUT_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub llm_timeout_seconds: u64,
    /// Seconds one reply may take in all; past it the reply ends `failed` with
    /// `llm_timeout`.
    #[arg(long, env = "CONFAB_LLM_MAX_SECONDS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub llm_max_seconds: u64,
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
    /// An origin besides the server's own whose pages may call the APIs with the session
    /// cookie: CORS preflights are answered and credentials allowed for it, and its
    /// cookie-authenticated writes and WebSocket upgrades are accepted. Exact
    /// (`https://app.example.com`); repeat the flag, or separate with commas in
    /// `CONFAB_CORS_ORIGINS`. None: the server's own origin only.
    #[arg(long = "cors-origin", visible_alias = "allowed-origins",
          env = "CONFAB_CORS_ORIGINS", value_name = "ORIGIN", value_delimiter = ',',
          value_parser = origin::parse_allowed)]
    pub cors_origins: Vec<String>,
    /// How long a session lasts, in hours.
    #[arg(long, env = "CONFAB_SESSION_TTL_HOURS", default_value_t = 24 * 30)]
    pub session_ttl_hours: u32,
    /// Log format: `text` or `json`.
    #[arg(long, env = "CONFAB_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// Milliseconds a SQLite write waits for another process's lock before it is
    /// answered 503 `database_busy` with `Retry-After` (PostgreSQL: unused).
    #[arg(long, env = "CONFAB_SQLITE_BUSY_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub sqlite_busy_timeout_ms: u64,
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub abuse: AbuseLimits,
    #[command(flatten)]
    pub quotas: StorageQuotas,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub lifecycle: lifecycle::LifecycleArgs,
    /// Seconds a shutdown waits for open requests to finish before dropping them.
    #[arg(long, env = "CONFAB_SHUTDOWN_GRACE_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub shutdown_grace_seconds: u64,
}

impl Config {
    pub fn session_ttl_seconds(&self) -> i64 {
        i64::from(self.session_ttl_hours) * 3600
    }

    /// The defaults, for a given database (tests and tools build configs this way).
    pub fn with_database(database_url: impl Into<String>) -> Self {
        let mut config: Config = defaults();
        config.database.database_url = database_url.into();
        config
    }
}

/// The defaults of a group of flags, as the command line has them with no flag given and
/// no `CONFAB_*` variable set (variables are ignored here).
pub fn defaults<T: Args + FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("confab")).mut_args(|arg| arg.env(None));
    // Fixed input: it fails only if a default in the attributes above is invalid, which
    // the unit test below catches.
    let matches = command
        .try_get_matches_from(["confab"])
        .expect("the flags' defaults parse");
    T::from_arg_matches(&matches).expect("the flags' defaults fit their fields")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_flags() {
        let config = Config::with_database("sqlite://x.db");
        assert_eq!(config.database.database_url, "sqlite://x.db");
        assert_eq!(config.database.db_pool_size, 4);
        assert_eq!(config.listen, DEFAULT_LISTEN);
        assert_eq!(config.limits.body_limit_bytes, 1024 * 1024);
        assert_eq!(config.limits.max_headers, 100);
        assert_eq!(config.abuse.auth_ip_attempts, 10);
        assert_eq!(
            config.abuse.password_hash_concurrency,
            default_hash_concurrency()
        );
        assert_eq!(config.quotas.max_messages_per_chat, 1_000_000);
        assert!(config.cors_origins.is_empty());
        assert_eq!(
            defaults::<DatabaseArgs>().database_url,
            DEFAULT_DATABASE_URL
        );
    }
}
