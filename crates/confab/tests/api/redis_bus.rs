//! The Redis event bus, with two "nodes" (two `RedisBus` instances) in one process.
//! Each test uses its own key prefix, so tests share one Redis without seeing each
//! other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use confab::events::local::LocalHub;
use confab::events::redis::{RedisBus, RedisOptions};
use confab::events::{ChatEvent, EventBus, Flavor, Subscription};

use crate::support::database::{redis_url, REDIS_URL_VAR};
use crate::support::process::{free_port, RedisServer};

fn options(url: &str, prefix: &str, ttl: Duration) -> RedisOptions {
    RedisOptions {
        url: url.to_owned(),
        prefix: prefix.to_owned(),
        presence_ttl: ttl,
    }
}

fn unique_prefix() -> String {
    format!("confab-test-{}", uuid::Uuid::new_v4().simple())
}

/// A node on `url`; its Redis must be up (use [`RedisBus::connect`] directly otherwise).
async fn node(url: &str, prefix: &str, ttl: Duration) -> RedisBus {
    let bus = unchecked_node(url, prefix, ttl).await;
    assert!(
        bus.health().1,
        "Redis at {url} is unreachable (is {REDIS_URL_VAR} right and Redis running?)"
    );
    bus
}

async fn unchecked_node(url: &str, prefix: &str, ttl: Duration) -> RedisBus {
    RedisBus::connect(options(url, prefix, ttl), Arc::new(LocalHub::new(64)))
        .await
        .expect("bus connects")
}

fn event(chat_id: i64, seq: i64, text: &str) -> ChatEvent {
    ChatEvent {
        chat_id,
        seq,
        user_frames: vec![format!("user:{text}")],
        tenant_frames: vec![format!("tenant:{text}")],
        closes: false,
        stream: None,
    }
}

async fn next_frame(subscription: &mut Subscription) -> String {
    tokio::time::timeout(Duration::from_secs(5), subscription.frames.recv())
        .await
        .expect("a frame within 5 s")
        .expect("subscription open")
        .to_string()
}

/// Polls `count` until it returns `expected`, for at most `within`.
async fn eventually_counts(bus: &RedisBus, chat_id: i64, expected: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let count = bus.active_connections(chat_id).await.expect("count");
        if count == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "chat {chat_id}: {count} connections, expected {expected} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_on_one_node_reach_the_other_in_order() {
    let Some(url) = redis_url("events_published_on_one_node_reach_the_other_in_order") else {
        return;
    };
    let prefix = unique_prefix();
    let a = node(&url, &prefix, Duration::from_secs(30)).await;
    let b = node(&url, &prefix, Duration::from_secs(30)).await;
    assert_eq!(a.health(), ("redis", true));
    assert_ne!(a.node_id(), b.node_id());

    let mut user = a.subscribe(1, Flavor::User, 10).await;
    let mut tenant = a.subscribe(1, Flavor::Tenant, 10).await;
    // Published out of order on B, plus a stale one: A delivers 11, 12, 13 in order.
    b.publish(event(1, 13, "c")).await;
    b.publish(event(1, 11, "a")).await;
    b.publish(event(1, 9, "stale")).await;
    b.publish(event(1, 12, "b")).await;
    for expected in ["a", "b", "c"] {
        assert_eq!(next_frame(&mut user).await, format!("user:{expected}"));
        assert_eq!(next_frame(&mut tenant).await, format!("tenant:{expected}"));
    }
    // A's own event reaches its connection once, even though Redis echoes it back.
    a.publish(event(1, 14, "d")).await;
    assert_eq!(next_frame(&mut user).await, "user:d");
    // Other chats' events do not reach this connection.
    b.publish(event(2, 1, "elsewhere")).await;
    b.publish(event(1, 15, "e")).await;
    assert_eq!(next_frame(&mut user).await, "user:e");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        user.frames.try_recv().is_err(),
        "no duplicates, nothing else"
    );

    // A deletion closes the connection on the other node too.
    let mut closing = event(1, 16, "gone");
    closing.closes = true;
    b.publish(closing).await;
    assert_eq!(next_frame(&mut user).await, "user:gone");
    let reason = tokio::time::timeout(Duration::from_secs(5), &mut user.closed)
        .await
        .expect("closed in time");
    assert_eq!(reason.ok(), Some(confab::events::CloseReason::ChatDeleted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_counted_across_nodes_and_falls_when_connections_close() {
    let Some(url) = redis_url("presence_is_counted_across_nodes_and_falls_when_connections_close")
    else {
        return;
    };
    let prefix = unique_prefix();
    let a = node(&url, &prefix, Duration::from_secs(30)).await;
    let b = node(&url, &prefix, Duration::from_secs(30)).await;

    assert_eq!(b.active_connections(7).await.expect("count"), 0);
    let on_a = a.subscribe(7, Flavor::Tenant, 0).await;
    // Written before subscribe returned: visible on B at once, not after a heartbeat.
    assert_eq!(b.active_connections(7).await.expect("count"), 1);
    let on_b = b.subscribe(7, Flavor::User, 0).await;
    let second_on_a = a.subscribe(7, Flavor::User, 0).await;
    assert_eq!(a.active_connections(7).await.expect("count"), 3);
    assert_eq!(b.active_connections(7).await.expect("count"), 3);
    assert_eq!(b.active_connections(8).await.expect("count"), 0, "per chat");

    drop(on_a);
    eventually_counts(&b, 7, 2, Duration::from_secs(2)).await;
    drop(second_on_a);
    eventually_counts(&b, 7, 1, Duration::from_secs(2)).await;
    drop(on_b);
    eventually_counts(&a, 7, 0, Duration::from_secs(2)).await;
    eventually_counts(&b, 7, 0, Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_heartbeating_stops_counting_within_the_ttl() {
    let Some(url) = redis_url("a_node_that_stops_heartbeating_stops_counting_within_the_ttl")
    else {
        return;
    };
    let prefix = unique_prefix();
    let ttl = Duration::from_secs(2);
    let a = node(&url, &prefix, ttl).await;
    let b = node(&url, &prefix, ttl).await;
    let connection = a.subscribe(3, Flavor::User, 0).await;
    assert_eq!(b.active_connections(3).await.expect("count"), 1);
    // Heartbeats keep the count alive past the TTL.
    tokio::time::sleep(ttl + Duration::from_millis(500)).await;
    assert_eq!(b.active_connections(3).await.expect("count"), 1);

    // A stops as if killed: its tasks end, nothing cleans up, the connection is never
    // closed properly.
    drop(a);
    let stopped = Instant::now();
    assert_eq!(
        b.active_connections(3).await.expect("count"),
        1,
        "the count lives on until it expires"
    );
    eventually_counts(&b, 3, 0, ttl + Duration::from_secs(1)).await;
    assert!(stopped.elapsed() <= ttl + Duration::from_secs(1));
    drop(connection);
}

/// Needs no Redis at all: a node whose Redis is down still starts, delivers locally,
/// answers quickly and says what is wrong; a malformed URL stops start-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_node_keeps_working_locally_and_reports_it() {
    let invalid = RedisBus::connect(
        options("http://not-redis", "x", Duration::from_secs(30)),
        Arc::new(LocalHub::new(8)),
    )
    .await
    .err()
    .map(|e| format!("{e:#}"));
    assert!(
        invalid
            .as_deref()
            .is_some_and(|e| e.contains("invalid Redis URL")),
        "{invalid:?}"
    );

    let started = Instant::now();
    let down = format!("redis://127.0.0.1:{}", free_port());
    let bus = unchecked_node(&down, &unique_prefix(), Duration::from_secs(3)).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "start-up is not held up"
    );
    assert_eq!(bus.health(), ("redis", false));

    let started = Instant::now();
    let mut subscription = bus.subscribe(5, Flavor::User, 0).await;
    bus.publish(event(5, 1, "local")).await;
    assert_eq!(next_frame(&mut subscription).await, "user:local");
    assert!(
        bus.active_connections(5).await.is_err(),
        "cannot count other nodes"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "every Redis call gives up quickly"
    );
}

/// Redis goes away and comes back: the node reports the outage, reconnects with
/// backoff, and events flow between nodes again. Runs its own `redis-server`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_reconnect_after_redis_restarts() {
    // Runs where the Redis tests run (CI installs redis-server for them).
    if redis_url("nodes_reconnect_after_redis_restarts").is_none() {
        return;
    }
    let port = free_port();
    let mut server = RedisServer::start(port).await;
    let prefix = unique_prefix();
    let ttl = Duration::from_secs(3);
    let a = node(&server.url(), &prefix, ttl).await;
    let b = node(&server.url(), &prefix, ttl).await;
    assert_eq!(a.health(), ("redis", true));
    let mut subscription = a.subscribe(9, Flavor::User, 0).await;

    server.kill9();
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.health().1 {
        assert!(Instant::now() < deadline, "the outage shows in health()");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Meanwhile publishing does not hang and local delivery goes on.
    b.publish(event(9, 1, "lost")).await;
    a.publish(event(9, 2, "local")).await;
    assert_eq!(next_frame(&mut subscription).await, "user:local");

    let _server = RedisServer::start(port).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(a.health().1 && b.health().1) {
        assert!(Instant::now() < deadline, "reconnected after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.publish(event(9, 3, "back")).await;
    assert_eq!(next_frame(&mut subscription).await, "user:back");
    // Presence is rewritten by the heartbeat (the restarted Redis lost it).
    eventually_counts(&b, 9, 1, ttl).await;
}
