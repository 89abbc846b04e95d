//! Export everything and import files (SPEC §10), tenant API.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::TryStreamExt as _;
use serde::Deserialize;
use tokio::io::AsyncWriteExt as _;
use utoipa::IntoParams;

use crate::chats::error::ChatError;
use crate::chats::import::{ImportReport, ImportTarget};
use crate::http::error::{ApiError, TenantError};
use crate::http::export_all::{ndjson_export, ExportAllQuery, ExportPages};
use crate::http::extract::{parse_positive_id, TenantKey, ValidQuery};
use crate::http::state::AppState;
use crate::portability::ImportFormat;
use crate::store::ExportPage;

/// What an import body may be sent as (its bytes decide how it is read).
const IMPORT_CONTENT_TYPES: [&str; 4] = [
    "application/json",
    "application/zip",
    "application/x-ndjson",
    "application/octet-stream",
];

/// Every live chat of the tenant (or of one user), one per line, with its whole tree.
#[utoipa::path(operation_id = "tenant_export_all", get, path = "/api/v1/export", tag = "tenant chats",
    params(ExportAllQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "NDJSON, one chat per line: `{\"chat\", \"source_id\", \"messages\"}` (see docs/api.md)", content_type = "application/x-ndjson", body = String),
        (status = 400, description = "Bad `user_id` (`invalid_user_id`) or `since` (`invalid_since`)", body = TenantError),
        (status = 401, body = TenantError),
        (status = 404, description = "No such user in the tenant (`user_not_found`)", body = TenantError),
        (status = 429, body = TenantError),
    ))]
pub async fn export_all(
    State(state): State<AppState>,
    key: TenantKey,
    ValidQuery(query): ValidQuery<ExportAllQuery>,
) -> Result<Response, ApiError> {
    let since = query.since()?;
    let user_id = named_user(&state, &key, query.user_id.as_deref()).await?;
    Ok(ndjson_export(ExportPages::new(
        state.store.clone(),
        ExportPage {
            tenant_id: key.tenant_id,
            user_id,
            since,
            after: 0,
            limit: 0,
        },
    )))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `chatgpt`, `openwebui` or `confab`.
    format: Option<String>,
    /// The user who owns the imported chats (tenant chats without one when absent).
    user_id: Option<String>,
    /// `true`: store nothing, answer what would be imported.
    dry_run: Option<String>,
}

/// Import a ChatGPT export (`conversations.json` or the ZIP), an Open WebUI export or a
/// confab export. Each conversation is stored whole or not at all; one already
/// imported is skipped; a malformed one is listed in `errors`.
#[utoipa::path(operation_id = "tenant_import", post, path = "/api/v1/import", tag = "tenant chats",
    params(ImportQuery),
    security(("api_key" = [])),
    request_body(content = String, description = "The export file", content_type = "application/octet-stream"),
    responses(
        (status = 200, body = ImportReport),
        (status = 400, description = "Bad `format` (`invalid_format`), `user_id`, `dry_run`; a file that is not JSON (`invalid_json`), of another format (`wrong_format`), or a broken ZIP (`invalid_zip`): nothing is stored", body = TenantError),
        (status = 401, body = TenantError),
        (status = 404, description = "No such user in the tenant (`user_not_found`)", body = TenantError),
        (status = 413, description = "Over `--max-import-bytes`, sent or unzipped (`import_too_large`)", body = TenantError),
        (status = 415, description = "A Content-Type other than JSON, ZIP, NDJSON or octet-stream (`unsupported_media_type`)", body = TenantError),
        (status = 503, description = "This node runs as many imports as it may (`import_busy`); see `Retry-After`", body = TenantError),
    ))]
pub async fn import(
    State(state): State<AppState>,
    key: TenantKey,
    ValidQuery(query): ValidQuery<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let format = query
        .format
        .as_deref()
        .and_then(ImportFormat::parse)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_format",
                "format must be chatgpt, openwebui or confab",
            )
        })?;
    let dry_run = match query.dry_run.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_dry_run",
                "dry_run must be true or false",
            ))
        }
    };
    check_content_type(&headers)?;
    let user_id = named_user(&state, &key, query.user_id.as_deref()).await?;
    let slot = state.chats.import_slot()?;
    let file = spool(body, state.config.limits.max_import_bytes).await?;
    let target = ImportTarget {
        tenant_id: key.tenant_id,
        user_id,
        dry_run,
    };
    let report = state.chats.import_file(file, format, target, slot).await?;
    tracing::info!(
        tenant = %key.tenant_id,
        format = format.as_str(),
        dry_run,
        chats = report.chats_imported,
        duplicates = report.skipped_duplicates,
        errors = report.errors.len(),
        "import"
    );
    Ok(Json(report).into_response())
}

/// The tenant's user a `user_id` query parameter names, if it names one.
async fn named_user(
    state: &AppState,
    key: &TenantKey,
    user_id: Option<&str>,
) -> Result<Option<i64>, ApiError> {
    let Some(text) = user_id else {
        return Ok(None);
    };
    let id = parse_positive_id(text).ok_or(ChatError::InvalidUserId)?;
    Ok(Some(state.chats.tenant_user(key.tenant_id, id).await?))
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    match essence {
        Some(essence) if IMPORT_CONTENT_TYPES.contains(&essence.as_str()) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the file as application/json, application/zip, application/x-ndjson or application/octet-stream",
        )),
    }
}

/// Writes the body to an unnamed temporary file (gone when closed), refusing it past
/// `max_bytes`: memory holds one chunk whatever the file's size.
async fn spool(body: Body, max_bytes: u64) -> Result<std::fs::File, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "import_too_large",
            format!("the import is more than {max_bytes} bytes (--max-import-bytes)"),
        )
    };
    let file = tempfile::tempfile().map_err(|e| ApiError::internal(&e))?;
    let mut writer =
        tokio::fs::File::from_std(file.try_clone().map_err(|e| ApiError::internal(&e))?);
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|_| ApiError::bad_request("invalid_body", "the request body could not be read"))?
    {
        written += chunk.len() as u64;
        if written > max_bytes {
            return Err(too_large());
        }
        writer
            .write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal(&e))?;
    }
    writer.flush().await.map_err(|e| ApiError::internal(&e))?;
    Ok(file)
}
