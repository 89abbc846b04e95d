//! The one error type of both APIs, and the one place it becomes a response body.
//!
//! Handlers and extractors return [`ApiError`] without knowing which API they serve; the
//! [`render_errors`] layer writes it in the shape of the API the request was for:
//!
//! * user API: `{"statusCode": N, "statusMessage": "...", "data": {"message": "..."}}`
//! * tenant API (`/api/v1`): `{"success": false, "error": {"code": "...", "message": "..."}}`
//!
//! Those bodies are the typed shapes at the end of this file, which the OpenAPI document
//! shows too.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::borrow::Cow;
use utoipa::ToSchema;

use crate::auth::password::HashError;
use crate::chats::error::ChatError;
use crate::store::quota::QuotaExceeded;
use crate::store::StoreError;

/// `Retry-After` of a `database_busy` answer: lock contention clears in well under this.
const DATABASE_BUSY_RETRY_AFTER_SECONDS: u64 = 1;

/// `Retry-After` of a `presence_unavailable` answer: about when a node that lost Redis
/// has retried it (its reconnection backoff tops out at 5 s).
const PRESENCE_RETRY_AFTER_SECONDS: u64 = 5;

/// `Retry-After` when password hashing is saturated: a hash takes tens of milliseconds,
/// so a turn is usually free again within a second.
const HASHING_BUSY_RETRY_AFTER_SECONDS: u64 = 1;

/// `Retry-After` when every generation slot is taken: replies take seconds.
const GENERATIONS_RETRY_AFTER_SECONDS: u64 = 2;
/// How long a client refused by a busy importer waits.
const IMPORT_RETRY_AFTER_SECONDS: u64 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable snake_case code (the tenant API shows it).
    pub code: &'static str,
    pub message: Cow<'static, str>,
    /// Set for the one body seed 000 fixes: `data` is a string and `statusMessage` ends
    /// with a full stop.
    seed_000_body: bool,
    /// Seconds, for 429 and 503 answers (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            seed_000_body: false,
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        Self::bad_request("validation_error", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        )
    }

    pub fn invalid_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Invalid email or password",
        )
    }

    pub fn chat_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "chat_not_found", "Chat not found")
    }

    pub fn user_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "user_not_found", "User not found")
    }

    pub fn share_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "share_not_found", "Share not found")
    }

    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "No such route")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed for this route",
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after_seconds.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests, slow down",
            )
        }
    }

    /// Live connections cannot be counted across nodes (Redis unreachable): answered
    /// 503 rather than with a count that could be too low, so nothing is deleted on a
    /// guess. The cause is logged here.
    pub fn presence_unavailable(cause: anyhow::Error) -> Self {
        tracing::warn!(error = %format!("{cause:#}"), "cannot count live connections");
        ApiError {
            retry_after: Some(PRESENCE_RETRY_AFTER_SECONDS),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "presence_unavailable",
                "Live connections to this chat cannot be counted right now; try again later",
            )
        }
    }

    /// A write that a storage quota refuses: 413, nothing stored.
    pub fn quota_exceeded(quota: QuotaExceeded) -> Self {
        let mut message = quota.to_string();
        if let Some(first) = message.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded", message)
    }

    /// Every password hashing slot stayed busy for the whole wait: 503, try again soon.
    pub fn hashing_busy() -> Self {
        ApiError {
            retry_after: Some(HASHING_BUSY_RETRY_AFTER_SECONDS),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                "The server is busy checking passwords; try again in a moment",
            )
        }
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Request body is larger than the server accepts",
        )
    }

    /// The database stayed locked past the busy timeout: a 503 to retry, not a 500.
    pub fn database_busy() -> Self {
        tracing::warn!("database busy: answered 503");
        ApiError {
            retry_after: Some(DATABASE_BUSY_RETRY_AFTER_SECONDS),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_busy",
                "The database is busy; try again shortly",
            )
        }
    }

    /// Delete-last on an empty chat (seed 000).
    pub fn no_messages() -> Self {
        ApiError {
            seed_000_body: true,
            ..Self::bad_request("no_messages", "No messages found, for chat.")
        }
    }

    /// An internal failure: logged here with its cause, answered as an opaque 500.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error",
        )
    }

    /// The body in the tenant API's shape or the user API's. Made through a `Value`,
    /// whose keys are sorted: the byte order these bodies have always been sent in.
    fn body(&self, tenant_api: bool) -> serde_json::Value {
        let status_code = self.status.as_u16();
        let reason = self.status.canonical_reason().unwrap_or("Error");
        let message = &*self.message;
        let body = if tenant_api {
            serde_json::to_value(TenantError {
                success: false,
                error: TenantErrorDetail {
                    code: self.code,
                    message,
                },
            })
        } else if self.seed_000_body {
            serde_json::to_value(DeleteLastError {
                statusCode: status_code,
                statusMessage: &format!("{reason}."),
                data: DeleteLastErrorData::Text(message),
            })
        } else {
            serde_json::to_value(UserError {
                statusCode: status_code,
                statusMessage: reason,
                data: UserErrorData { message },
            })
        };
        // Strings and a number: serialising them cannot fail.
        body.unwrap_or_default()
    }

    /// The response in the tenant API's shape or the user API's (the default for
    /// every path outside `/api/v1`).
    pub fn render_for(&self, tenant_api: bool) -> Response {
        let mut response = (self.status, axum::Json(self.body(tenant_api))).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::chat_not_found(),
            StoreError::MessageNotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "message_not_found",
                "Message not found",
            ),
            StoreError::NotInChat(field) => ApiError::bad_request(
                match field {
                    "parent_id" => "invalid_parent_id",
                    _ => "invalid_message_id",
                },
                format!("{field} is not a message of this chat"),
            ),
            StoreError::NotAUserMessage => ApiError::bad_request(
                "invalid_parent_id",
                "a reply without a new message answers a user message: the current leaf is \
                 not one (name parent_id, or send message)",
            ),
            StoreError::Conflict(what) => ApiError::conflict("conflict", what),
            StoreError::QuotaExceeded(quota) => ApiError::quota_exceeded(quota),
            StoreError::Busy => ApiError::database_busy(),
            StoreError::TimedOut => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "search_timeout",
                "The search took longer than the server allows; narrow it (more or longer words)",
            ),
            StoreError::Other(cause) => ApiError::internal(&format!("{cause:#}")),
        }
    }
}

impl From<ChatError> for ApiError {
    fn from(error: ChatError) -> Self {
        match error {
            ChatError::Invalid(message) => ApiError::validation(message),
            ChatError::InvalidMetadata(message) => {
                ApiError::bad_request("invalid_metadata", message)
            }
            ChatError::InvalidQuery(error) => {
                ApiError::bad_request("invalid_query", error.to_string())
            }
            ChatError::InvalidUserId => {
                ApiError::bad_request("invalid_user_id", "user_id must be a positive integer")
            }
            ChatError::UserNotFound => ApiError::user_not_found(),
            ChatError::NoMessages => ApiError::no_messages(),
            ChatError::Watched(live) => ApiError::conflict(
                "chat_has_active_connections",
                format!(
                    "Chat has {live} active connection(s) (WebSockets, or a reply being generated); close them, or delete with ?force=true (tenant API) or without ?check_connections (user API)"
                ),
            ),
            ChatError::PresenceUnavailable(cause) => ApiError::presence_unavailable(cause),
            ChatError::LlmNotConfigured => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "llm_not_configured",
                "No LLM provider is configured on this server (--llm-base-url)",
            ),
            ChatError::TooManyGenerations => ApiError {
                retry_after: Some(GENERATIONS_RETRY_AFTER_SECONDS),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_generations",
                    "This server is generating as many replies as it may; try again shortly",
                )
            },
            ChatError::TooManyShares => ApiError::conflict(
                "too_many_shares",
                format!(
                    "This chat has the most share links allowed ({}); revoke one first",
                    crate::store::MAX_SHARES_PER_CHAT
                ),
            ),
            ChatError::ShareNotFound => ApiError::share_not_found(),
            ChatError::ShareTooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "share_too_large",
                format!(
                    "The chat's active path is over {} MiB as a share; share a shorter branch",
                    crate::chats::shares::MAX_SHARE_BYTES / (1024 * 1024)
                ),
            ),
            ChatError::WrongPassword => ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_password",
                "The password is not this account's",
            ),
            ChatError::ImportBusy => ApiError {
                retry_after: Some(IMPORT_RETRY_AFTER_SECONDS),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "import_busy",
                    "This server is running as many imports as it may; try again shortly",
                )
            },
            ChatError::ImportRefused(error) => {
                use crate::portability::reader::ReadError;
                let code = match &error {
                    ReadError::NotJson(_) => "invalid_json",
                    ReadError::WrongFormat(_) => "wrong_format",
                    ReadError::TooLarge(_) => "import_too_large",
                    ReadError::BadZip(_) => "invalid_zip",
                    ReadError::Io(_) => return ApiError::internal(&error),
                };
                let status = match error {
                    ReadError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                    _ => StatusCode::BAD_REQUEST,
                };
                ApiError::new(status, code, error.to_string())
            }
            ChatError::Store(error) => error.into(),
        }
    }
}

impl From<HashError> for ApiError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => ApiError::hashing_busy(),
            HashError::Failed(cause) => ApiError::internal(&format!("{cause:#}")),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(cause: anyhow::Error) -> Self {
        ApiError::internal(&format!("{cause:#}"))
    }
}

impl IntoResponse for ApiError {
    /// The body is written by [`render_errors`], which knows the request's API.
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

pub fn is_tenant_api(uri: &Uri) -> bool {
    let path = uri.path();
    path == "/api/v1" || path.starts_with("/api/v1/")
}

/// Layer: renders any [`ApiError`] in the response in the shape of the request's API.
pub async fn render_errors(uri: Uri, mut response: Response) -> Response {
    match response.extensions_mut().remove::<ApiError>() {
        Some(error) => error.render_for(is_tenant_api(&uri)),
        None => response,
    }
}

/// Fallback for known routes called with a method they do not have.
pub async fn method_not_allowed(_request: Request) -> ApiError {
    ApiError::method_not_allowed()
}

/// Error body of the user API.
#[derive(Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct UserError<'a> {
    statusCode: u16,
    statusMessage: &'a str,
    data: UserErrorData<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct UserErrorData<'a> {
    message: &'a str,
}

/// Delete-last's errors: seed 000's body for an empty chat (`data` is a string), the
/// usual shape otherwise.
#[derive(Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct DeleteLastError<'a> {
    statusCode: u16,
    statusMessage: &'a str,
    data: DeleteLastErrorData<'a>,
}

/// `data` of a delete-last error: seed 000's plain string, or `{"message"}`.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum DeleteLastErrorData<'a> {
    Text(&'a str),
    Detail(UserErrorData<'a>),
}

/// Error body of the tenant API.
#[derive(Serialize, ToSchema)]
pub struct TenantError<'a> {
    success: bool,
    error: TenantErrorDetail<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct TenantErrorDetail<'a> {
    /// Stable snake_case code, e.g. `chat_not_found`.
    code: &'a str,
    message: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_shape_and_the_seed_000_exception() {
        assert_eq!(
            ApiError::chat_not_found().body(false),
            json!({"statusCode":404,"statusMessage":"Not Found","data":{"message":"Chat not found"}})
        );
        assert_eq!(
            ApiError::no_messages().body(false),
            json!({"statusCode":400,"statusMessage":"Bad Request.","data":"No messages found, for chat."})
        );
    }

    #[test]
    fn presence_unavailable_is_a_503_with_retry_after() {
        let response =
            ApiError::presence_unavailable(anyhow::anyhow!("redis down")).render_for(true);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from(PRESENCE_RETRY_AFTER_SECONDS))
        );
        assert_eq!(
            ApiError::presence_unavailable(anyhow::anyhow!("redis down")).code,
            "presence_unavailable"
        );
    }

    #[test]
    fn quota_errors_are_413_with_a_stable_code() {
        let error = ApiError::from(StoreError::QuotaExceeded(QuotaExceeded::MessagesPerChat(5)));
        assert_eq!(
            error.body(true),
            json!({"success":false,"error":{"code":"quota_exceeded","message":"This chat already holds the most messages allowed (5)"}})
        );
        assert_eq!(error.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn tenant_shape() {
        assert_eq!(
            ApiError::chat_not_found().body(true),
            json!({"success":false,"error":{"code":"chat_not_found","message":"Chat not found"}})
        );
    }
}
