//! Scenario 12: the chat lists an app loads first, each beside its ceiling (the same
//! response bytes served from memory on the same HTTP stack, as scenario 2 does for a
//! chat's messages): the user API's list of a user's 20 chats, and the tenant API's first
//! page of 20 (`GET /api/v1/chats?limit=20`) of a tenant holding 20 chats.

use anyhow::Context as _;
use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::load::{request, request_as, Connection};
use crate::scenarios::{ceiling, measured, tenant, Setup};
use crate::seed::Client;
use crate::{Options, Row};

/// Chats in each list.
const CHATS: usize = 20;
/// Connections of each load, as scenario 1's.
const CONNECTIONS: usize = 32;

pub async fn run(options: &Options, setup: &Setup) -> anyhow::Result<Vec<Row>> {
    eprintln!("scenario 12: chat lists and their ceilings");
    let mut rows = Vec::new();

    let mut client = Client::sign_up(setup.server.address, "lister@bench.test").await?;
    for n in 0..CHATS {
        client
            .create_chat(&format!("chat {n} about sorting"))
            .await?;
    }
    let path = format!("/api/users/{}/chats", client.user_id);
    let cookie = client.cookie.clone();
    let (status, body) = client
        .connection
        .send(request("GET", &path, Some(&cookie), None))
        .await?;
    let listed = |body: &Bytes, field: &str| -> anyhow::Result<usize> {
        let parsed: Value = serde_json::from_slice(body)?;
        parsed[field].as_array().map(Vec::len).context("no list")
    };
    anyhow::ensure!(status == StatusCode::OK, "GET chats answered {status}");
    anyhow::ensure!(
        listed(&body, "chats")? == CHATS,
        "the user list is not {CHATS} chats"
    );
    rows.extend(
        beside_ceiling(
            options,
            setup,
            [
                "12a GET chat list, user API (20 chats, 32 conns)",
                "12b ceiling of 12a",
            ],
            body,
            Arc::new(move |_, _| request("GET", &path, Some(&cookie), None)),
        )
        .await?,
    );

    let (_, key) = tenant(setup, "lists")?;
    let mut connection = Connection::open(setup.server.address).await?;
    for n in 0..CHATS {
        let create = json!({"name": format!("chat {n} about sorting"), "model": "gpt-4o"});
        let (status, _) = connection
            .send(request_as(
                "POST",
                "/api/v1/chats",
                Some(("x-api-key", &key)),
                Some(&create),
            ))
            .await?;
        anyhow::ensure!(
            status == StatusCode::CREATED,
            "tenant chat create answered {status}"
        );
    }
    let path = "/api/v1/chats?limit=20";
    let (status, body) = connection
        .send(request_as("GET", path, Some(("x-api-key", &key)), None))
        .await?;
    anyhow::ensure!(
        status == StatusCode::OK,
        "GET /api/v1/chats answered {status}"
    );
    anyhow::ensure!(
        listed(&body, "data")? == CHATS,
        "the tenant page is not {CHATS} chats"
    );
    rows.extend(
        beside_ceiling(
            options,
            setup,
            [
                "12c GET /api/v1/chats?limit=20 (20 chats, 32 conns)",
                "12d ceiling of 12c",
            ],
            body,
            Arc::new(move |_, _| request_as("GET", path, Some(("x-api-key", &key)), None)),
        )
        .await?,
    );
    Ok(rows)
}

/// The load of `make` (every answer a 200 of `body`'s length), then its ceiling; the
/// first row's note has the ratio.
async fn beside_ceiling(
    options: &Options,
    setup: &Setup,
    [label, ceiling_label]: [&str; 2],
    body: Bytes,
    make: crate::load::MakeRequest,
) -> anyhow::Result<[Row; 2]> {
    let expected_len = body.len();
    let mut row = measured(
        label,
        &setup.server,
        CONNECTIONS,
        options.duration,
        make,
        Arc::new(move |status, body: &Bytes| {
            status == StatusCode::OK && body.len() == expected_len
        }),
        |_| String::new(),
    )
    .await?;
    let ceiling = ceiling(options, &body, ceiling_label).await?;
    row.note = format!(
        "{:.2} of the ceiling",
        row.per_second / ceiling.per_second.max(1e-9)
    );
    Ok([row, ceiling])
}
