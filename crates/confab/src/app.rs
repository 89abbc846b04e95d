//! Boot: `serve` runs the server on a bound listener until `shutdown` resolves, so tests
//! can bind port 0 and stop the server deterministically. `main` only parses flags.

use anyhow::Context as _;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

use crate::auth::password::Hashing;
use crate::chats::sweeper::SweepReason;
use crate::chats::Chats;
use crate::config::Config;
use crate::events::local::LocalHub;
use crate::events::redis::{RedisBus, RedisOptions};
use crate::events::EventBus;
use crate::http::response_cache::ResponseCache;
use crate::http::state::Shared;
use crate::http::{self, AppState};
use crate::llm::LlmClient;
use crate::revocation;
use crate::store;
use crate::throttle::Throttles;

/// Builds the shared state: opens (and migrates) the database, sets up live events
/// (in-process, or through Redis when `redis_url` is set).
pub async fn state(config: Config) -> anyhow::Result<AppState> {
    let store = store::open(
        &config.database.database_url,
        config.database.db_pool_size,
        config.quotas,
        Duration::from_millis(config.sqlite_busy_timeout_ms),
    )
    .await?;
    let hub = Arc::new(LocalHub::new(config.limits.ws_buffer_frames));
    let events: Arc<dyn EventBus> = match &config.redis_url {
        Some(url) => Arc::new(
            RedisBus::connect(
                RedisOptions {
                    url: url.clone(),
                    prefix: config.redis_prefix.clone(),
                    presence_ttl: Duration::from_secs(config.presence_ttl_seconds),
                },
                hub,
            )
            .await?,
        ),
        None => hub,
    };
    let llm = LlmClient::from_args(&config.llm)?.map(Arc::new);
    if llm.is_some() {
        tokio::task::spawn_blocking(crate::llm::tokens::warm_up);
    }
    let chats = Chats::new(store.clone(), events.clone(), config.limits.clone())
        .with_llm(llm)
        .with_trash(config.lifecycle.trash_enabled());
    // Replies left `generating` by nodes that are gone (alone: by this node's last run).
    match chats.sweep_orphaned_replies().await {
        Ok(0) => {}
        Ok(ended) => tracing::info!(ended, "marked interrupted the replies of stopped nodes"),
        Err(error) => tracing::warn!("looking for interrupted replies failed: {error}"),
    }
    let limits = &config.limits;
    Ok(AppState::new(Shared {
        chats,
        store,
        events,
        message_cache: response_cache(limits.message_cache_mib, limits.message_cache_entry_kib),
        chat_list_cache: response_cache(limits.chat_list_cache_mib, limits.message_cache_entry_kib),
        // As much again as the user lists get (docs/limits-and-security.md).
        tenant_list_cache: response_cache(
            limits.chat_list_cache_mib,
            limits.message_cache_entry_kib,
        ),
        metrics: Arc::default(),
        key_touches: Arc::default(),
        throttles: Arc::new(Throttles::new(&config.abuse)),
        hashing: Arc::new(Hashing::new(
            config.abuse.password_hash_concurrency as usize,
            config.abuse.password_hash_wait(),
        )),
        live_credentials: Arc::default(),
        config: Arc::new(config),
    }))
}

/// A response cache of `mib` MiB, storing bodies up to `entry_kib` KiB each.
fn response_cache<K: std::hash::Hash + Eq + Clone, S: crate::http::response_cache::Stamp>(
    mib: usize,
    entry_kib: usize,
) -> Arc<ResponseCache<K, S>> {
    Arc::new(ResponseCache::new(
        mib.saturating_mul(1024 * 1024),
        entry_kib.saturating_mul(1024),
    ))
}

/// Serves until `shutdown` resolves; then stops accepting, closes WebSockets with a close
/// frame and lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_state(listener, state(config).await?, shutdown).await
}

/// [`serve`] with state built by the caller (tests keep a handle on the store).
pub async fn serve_state(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let events = state.events.clone();
    let watcher = AbortOnDrop(revocation::watcher::spawn(
        state.store.clone(),
        &state.live_credentials,
        state.config.limits.revocation_poll(),
        {
            let events = events.clone();
            Box::new(move |chats| {
                for chat in chats {
                    events.deliver_here(crate::views::frames::chat_erased(chat));
                }
            })
        },
    ));
    let sweeper = AbortOnDrop(spawn_reply_sweeper(
        state.chats.clone(),
        Duration::from_millis(state.config.presence_ttl_seconds.max(1) * 1000 / 3),
    ));
    let lifecycle_sweeper = AbortOnDrop(spawn_lifecycle_sweeper(state.clone()));
    let address = listener.local_addr().context("listener has no address")?;
    tracing::info!(
        %address,
        database = state.store.engine(),
        events = events.health().0,
        "confab listening"
    );
    let options = http::server::ConnectionOptions {
        header_read_timeout: state.config.abuse.header_read_timeout(),
        shutdown_grace: Duration::from_secs(state.config.shutdown_grace_seconds.max(1)),
        head_limits: state.config.limits.head_limits(),
    };
    let app = http::router(state);
    http::server::serve(listener, app, options, async move {
        shutdown.await;
        tracing::info!("shutting down: closing live connections, finishing requests");
        events.close_all();
        // Reply streams are open requests: they end once their replies do.
        end_replies_at_shutdown(&*events).await;
    })
    .await;
    drop(watcher);
    drop(sweeper);
    drop(lifecycle_sweeper);
    tracing::info!("stopped");
    Ok(())
}

/// Ends the replies this node is generating as `interrupted` with the text they have,
/// rather than leaving them for another node (or the next start) to find.
async fn end_replies_at_shutdown(events: &dyn crate::events::EventBus) {
    let streams = events.streams();
    let told = streams.stop_all(crate::events::streams::StopReason::Shutdown);
    if told == 0 {
        return;
    }
    tracing::info!(
        replies = told,
        "shutting down: ending the replies being generated"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while streams.producing() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every `every`, marks `interrupted` the replies of nodes that stopped heartbeating
/// (every third of the presence TTL: a dead node's key expires within one TTL of its last
/// heartbeat, so its replies end within about 1⅓ TTL of its death).
fn spawn_reply_sweeper(chats: Chats, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match chats.sweep_orphaned_replies().await {
                Ok(0) => {}
                Ok(ended) => tracing::info!(ended, "marked interrupted the replies of lost nodes"),
                Err(error) => tracing::warn!("looking for interrupted replies failed: {error}"),
            }
        }
    })
}

/// Every `--sweep-interval-seconds` (and once at start), purges old trash and deletes
/// chats past their retention; counts them for `/metrics` batch by batch.
fn spawn_lifecycle_sweeper(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let lifecycle = state.config.lifecycle.clone();
        let mut ticks = tokio::time::interval(lifecycle.sweep_interval());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let metrics = state.metrics.clone();
        let counted = move |reason, chats| {
            let counter = match reason {
                SweepReason::Trash => &metrics.swept_trash,
                SweepReason::Retention => &metrics.swept_retention,
            };
            counter.fetch_add(chats, std::sync::atomic::Ordering::Relaxed);
        };
        loop {
            ticks.tick().await;
            match state.chats.sweep(&lifecycle, &counted).await {
                Ok(swept) => {
                    if swept.trash + swept.retention > 0 {
                        tracing::info!(
                            trash = swept.trash,
                            retention = swept.retention,
                            "swept old chats"
                        );
                    }
                }
                Err(error) => tracing::warn!("sweeping old chats failed: {error}"),
            }
        }
    })
}

/// Stops a background task when the server stops (or its future is dropped).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
