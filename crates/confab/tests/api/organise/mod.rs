//! Organise and lifecycle (SPEC §9) over real HTTP on both engines: archive, pin and
//! tags (`flags.rs`), share links (`shares.rs`), the trash and the sweeper (`trash.rs`),
//! erasing a user (`erase.rs`).

mod erase;
mod flags;
mod shares;
mod trash;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Auth, TestApp, TestUser};

use erase::{each_way_to_erase_checks_who_asks, erasing_a_user_leaves_nothing_of_theirs};
use flags::{
    archive_pin_and_tags_filter_and_order_lists, bad_patches_are_refused_in_each_apis_shape,
};
use shares::{
    a_share_is_a_public_snapshot_until_revoked, share_reads_are_rate_limited_per_client,
    shares_are_bounded_in_number_and_size,
};
use trash::{
    deleted_chats_wait_in_the_trash_and_come_back_whole,
    the_sweeper_purges_old_trash_and_idle_chats_in_batches,
    without_the_trash_deletes_stay_permanent,
};

crate::per_backend!(
    archive_pin_and_tags_filter_and_order_lists,
    bad_patches_are_refused_in_each_apis_shape,
    a_share_is_a_public_snapshot_until_revoked,
    share_reads_are_rate_limited_per_client,
    shares_are_bounded_in_number_and_size,
    deleted_chats_wait_in_the_trash_and_come_back_whole,
    without_the_trash_deletes_stay_permanent,
    the_sweeper_purges_old_trash_and_idle_chats_in_batches,
    erasing_a_user_leaves_nothing_of_theirs,
    each_way_to_erase_checks_who_asks,
);

/// `PATCH` of a user's chat; the answer's chat.
pub(super) async fn patch_user_chat(
    app: &TestApp,
    user: &TestUser,
    chat: i64,
    body: Value,
) -> (StatusCode, Value) {
    app.call(
        Method::PATCH,
        &format!("/api/users/{}/chats/{chat}", user.id),
        &user.auth,
        Some(body),
    )
    .await
}

/// The ids of a user's chat list at `query`.
pub(super) async fn listed_ids(app: &TestApp, user: &TestUser, query: &str) -> Vec<i64> {
    let (status, body) = app
        .get(&format!("/api/users/{}/chats{query}", user.id), &user.auth)
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect()
}

/// The uuids of a tenant list page (`/api/v1/chats` or `/api/v1/trash`).
pub(super) async fn listed_uuids(app: &TestApp, key: &Auth, path: &str) -> Vec<String> {
    let (status, body) = app.get(path, key).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["id"].as_str().expect("uuid").to_owned())
        .collect()
}

/// The user-API search hits for `q`.
pub(super) async fn search_hits(app: &TestApp, user: &TestUser, q: &str) -> usize {
    let (status, body) = app
        .get(&format!("/api/users/{}/search?q={q}", user.id), &user.auth)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"].as_array().expect("results").len()
}
