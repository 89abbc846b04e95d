//! The OpenAPI document is generated from the code; a snapshot makes every change to it
//! visible in review. Refresh with `CONFAB_UPDATE_SNAPSHOTS=1 cargo nextest run openapi`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Auth, Backend, TestApp};

#[tokio::test]
async fn openapi_document_is_3_1_covers_every_route_and_matches_the_snapshot() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, document) = app.get("/api/openapi.json", &Auth::None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        document["openapi"]
    );
    let paths = document["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/auth/sign-up", "post"),
        ("/api/auth/login", "post"),
        ("/api/auth/logout", "post"),
        ("/api/auth/check", "head"),
        ("/api/users/{user_id}/chats", "get"),
        ("/api/users/{user_id}/chats", "post"),
        ("/api/users/{user_id}/chats", "delete"),
        ("/api/users/{user_id}/chats/{chat_id}", "patch"),
        ("/api/users/{user_id}/chats/{chat_id}", "delete"),
        ("/api/users/{user_id}/chats/{chat_id}/messages", "get"),
        ("/api/users/{user_id}/chats/{chat_id}/messages", "post"),
        (
            "/api/users/{user_id}/chats/{chat_id}/messages/last",
            "delete",
        ),
        ("/api/users/{user_id}/chats/{chat_id}/files", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is documented"
        );
    }

    // Clients generated from the document (clients/typescript) name each call by it.
    let mut operation_ids = std::collections::BTreeSet::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                !id.is_empty() && operation_ids.insert(id.to_owned()),
                "{method} {path}: operationId {id:?} is missing or not unique"
            );
        }
    }

    let snapshot_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/snapshots/openapi.json"
    );
    let rendered = serde_json::to_string_pretty(&document).expect("json") + "\n";
    if std::env::var_os("CONFAB_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(snapshot_path, &rendered).expect("write snapshot");
    }
    let stored = std::fs::read_to_string(snapshot_path).unwrap_or_default();
    let stored: Value = serde_json::from_str(&stored).unwrap_or(Value::Null);
    assert!(
        stored == document,
        "the OpenAPI document changed; review it and refresh the snapshot with CONFAB_UPDATE_SNAPSHOTS=1"
    );
}

/// What a client generator relies on: every `in: path` parameter is a `{name}` of its
/// route's template and is required, every template variable is declared as one, and
/// every other parameter is `in: query` (or a header) and required only when it must be.
#[tokio::test]
async fn openapi_parameters_sit_where_the_routes_take_them() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, document) = app.get("/api/openapi.json", &Auth::None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = document["paths"].as_object().expect("paths");
    // Query parameters every route takes as optional.
    let optional_query = ["order_by", "limit", "cursor", "after", "force", "format"];
    let mut problems = Vec::new();
    let mut query_seen = Vec::new();
    for (template, operations) in paths {
        let variables: Vec<&str> = template
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, operation) in operations.as_object().expect("operations") {
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut declared = Vec::new();
            for parameter in &parameters {
                let name = parameter["name"].as_str().unwrap_or_default();
                let required = parameter["required"].as_bool().unwrap_or(false);
                match parameter["in"].as_str() {
                    Some("path") => {
                        declared.push(name);
                        if !variables.contains(&name) {
                            problems.push(format!(
                                "{method} {template}: path parameter {name} is not in the template"
                            ));
                        }
                        if !required {
                            problems.push(format!(
                                "{method} {template}: path parameter {name} is not required"
                            ));
                        }
                    }
                    Some("query") => {
                        query_seen.push(name.to_owned());
                        if required && optional_query.contains(&name) {
                            problems.push(format!(
                                "{method} {template}: query parameter {name} is required"
                            ));
                        }
                    }
                    Some("header") | Some("cookie") => {}
                    other => problems.push(format!("{method} {template}: {name} is in {other:?}")),
                }
            }
            for variable in &variables {
                if !declared.contains(variable) {
                    problems.push(format!(
                        "{method} {template}: {{{variable}}} is not declared"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    for name in optional_query {
        assert!(
            query_seen.iter().any(|seen| seen == name),
            "{name} is declared as a query parameter somewhere"
        );
    }
}
