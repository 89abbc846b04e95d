//! Revocations reach every node: two `confab serve` processes on one PostgreSQL database
//! and one Redis. A key revoked by `confab key revoke` (which only writes the database)
//! and a logout on one node close the sockets opened with them on the other, with 4001.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::multi_node::{call, count_on, sign_up, start_nodes, two, wait_for_count};
use crate::tenant_support::{
    close_ws, next_seen, revoke_with_cli, two_keys, ws_at, Seen, Ws, PATIENCE,
};

/// Waits for the socket's 4001 close; prints how long it took.
async fn closed_as_revoked(socket: &mut Ws, what: &str) {
    let started = std::time::Instant::now();
    assert_eq!(
        next_seen(socket).await,
        Seen::Close(4001, "credential revoked".to_owned())
    );
    println!("{what} {:?} after the revocation", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_close_sockets_on_every_node() {
    let Some((database, nodes)) = start_nodes("revocations_close_sockets_on_every_node", 2).await
    else {
        return;
    };
    let (a, b) = two(nodes);
    let store = confab::store::connect(&database.url, 1)
        .await
        .expect("store");
    let tenant = store.default_tenant().await.expect("default tenant");
    let [(doomed_id, doomed), (_, kept)] = two_keys(store.as_ref(), tenant.id).await;
    let (user_id, cookie) = sign_up(&a, "ann@example.com").await;
    let (status, created) = call(
        &a,
        Method::POST,
        &format!("/api/users/{user_id}/chats"),
        &cookie,
        Some(json!({"name": "live", "model": "m"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let chat_id = created["chat"]["id"].as_i64().expect("chat id");
    let uuid = created["chat"]["uuid"].as_str().expect("uuid").to_owned();

    // Opened on B; the key is revoked by the CLI; B closes it.
    let mut by_key = ws_at(b.address, &format!("/api/v1/chats/{uuid}/ws"), &doomed).await;
    // Opened on A; the session logs out on B; A closes it.
    let user_route = format!("/api/users/{user_id}/chats/{chat_id}/ws");
    let mut by_cookie = ws_at(a.address, &user_route, &cookie).await;
    let kept_socket = ws_at(a.address, &format!("/api/v1/chats/{uuid}/ws"), &kept).await;
    assert_eq!(count_on(&a, &kept, &uuid).await, 3);

    revoke_with_cli(&database.url, doomed_id).await;
    closed_as_revoked(&mut by_key, "B closed the key's socket").await;

    let (status, body) = call(&b, Method::POST, "/api/auth/logout", &cookie, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!(true)));
    closed_as_revoked(&mut by_cookie, "A closed the session's socket").await;

    // Only the kept key's socket counts, on both nodes.
    wait_for_count(&b, &kept, &uuid, 1, PATIENCE).await;
    assert_eq!(count_on(&a, &kept, &uuid).await, 1);
    close_ws(kept_socket).await;
    wait_for_count(&b, &kept, &uuid, 0, PATIENCE).await;
}
