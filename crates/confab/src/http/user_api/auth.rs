//! Sign-up, login, logout and the session check.

use axum::extract::{FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::session;
use crate::domain::{Email, Password, Timestamp};
use crate::http::error::ApiError;
use crate::http::extract::{cookie_secure, session_token_hash, SessionUser, ValidJson};
use crate::http::origin::{NotForged, SameSite};
use crate::http::state::AppState;
use crate::http::throttle::{account_attempt, account_succeeded, AuthAttempt};
use crate::revocation::Credential;
use crate::store::{NewSession, StoreError, UserRecord};
use crate::views::UserView;

/// Login: any password within the size limit may be tried.
#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    #[schema(format = Email)]
    email: String,
    /// At most 1024 bytes.
    password: String,
    /// The tenant the account belongs to; omitted: the default tenant.
    #[serde(default)]
    tenant_id: Option<Uuid>,
}

/// Sign-up: the same fields, with the rules for a new password.
#[derive(Deserialize, ToSchema)]
pub struct NewAccount {
    #[schema(format = Email)]
    email: String,
    /// At least 8 characters (not only whitespace), at most 1024 bytes.
    #[schema(min_length = 8)]
    password: String,
    /// The tenant to create the account in; omitted: the default tenant.
    #[serde(default)]
    tenant_id: Option<Uuid>,
}

/// The tenant a sign-up or login names: `tenant_id` if given, else the default tenant.
/// A given id is not looked up here: the user lookup is already scoped to it.
async fn tenant_of(state: &AppState, tenant_id: Option<Uuid>) -> Result<Uuid, ApiError> {
    match tenant_id {
        Some(id) => Ok(id),
        None => Ok(state.store.default_tenant().await?.id),
    }
}

/// `{"user": {...}}`
#[derive(serde::Serialize, ToSchema)]
pub struct UserEnvelope<'a> {
    user: UserView<'a>,
}

async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    user: &UserRecord,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let (token, token_hash) = session::new_token();
    let ttl = state.config.session_ttl_seconds();
    state
        .store
        .create_session(NewSession {
            token_hash,
            user_id: user.id,
            expires_at: Timestamp::now().plus_seconds(ttl),
        })
        .await?;
    let cookie = session::set_cookie(&token, ttl, cookie_secure(state, headers));
    Ok((
        status,
        [(header::SET_COOKIE, cookie)],
        Json(UserEnvelope {
            user: UserView::from(user),
        }),
    )
        .into_response())
}

/// Create an account and sign in.
#[utoipa::path(post, path = "/api/auth/sign-up", tag = "user auth",
    request_body = NewAccount,
    responses(
        (status = 201, description = "Account created; the session cookie is set", body = UserEnvelope),
        (status = 400, description = "Invalid email, weak password or unknown `tenant_id`", body = crate::http::error::UserError),
        (status = 409, description = "Email already registered", body = crate::http::error::UserError),
        (status = 429, description = "Too many attempts from this client or for this email; see `Retry-After`", body = crate::http::error::UserError),
        (status = 503, description = "Password hashing is saturated; see `Retry-After`", body = crate::http::error::UserError),
        (status = 413, body = crate::http::error::UserError), (status = 415, body = crate::http::error::UserError),
    ))]
pub async fn sign_up(
    State(state): State<AppState>,
    _same_site: SameSite,
    _attempt: AuthAttempt,
    headers: HeaderMap,
    ValidJson(body): ValidJson<NewAccount>,
) -> Result<Response, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::validation(e.0))?;
    let password = Password::parse_new(&body.password).map_err(|e| ApiError::validation(e.0))?;
    let tenant_id = match body.tenant_id {
        Some(id) => match state.store.get_tenant(id).await {
            Ok(tenant) => tenant.id,
            Err(StoreError::NotFound) => {
                return Err(ApiError::validation("tenant_id names no tenant"))
            }
            Err(other) => return Err(other.into()),
        },
        None => tenant_of(&state, None).await?,
    };
    // A sign-up for a taken address counts as a failure of that account (it probes
    // which addresses are registered); one that succeeds clears the count.
    let account = account_attempt(&state, tenant_id, &email)?;
    let hash = state.hashing.hash(password).await?;
    let user = match state.store.create_user(tenant_id, &email, &hash).await {
        Ok(user) => user,
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::conflict(
                "email_taken",
                "Email is already registered",
            ))
        }
        Err(other) => return Err(other.into()),
    };
    account_succeeded(&state, &account);
    tracing::info!(user_id = user.id, "user signed up");
    start_session(&state, &headers, &user, StatusCode::CREATED).await
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/auth/login", tag = "user auth",
    request_body = Credentials,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = UserEnvelope),
        (status = 400, description = "Malformed body", body = crate::http::error::UserError),
        (status = 401, description = "Wrong email or password (the same answer for both)", body = crate::http::error::UserError),
        (status = 429, description = "Too many attempts from this client or failures for this email; see `Retry-After`", body = crate::http::error::UserError),
        (status = 503, description = "Password hashing is saturated; see `Retry-After`", body = crate::http::error::UserError),
        (status = 413, body = crate::http::error::UserError), (status = 415, body = crate::http::error::UserError),
    ))]
pub async fn login(
    State(state): State<AppState>,
    _same_site: SameSite,
    _attempt: AuthAttempt,
    headers: HeaderMap,
    ValidJson(body): ValidJson<Credentials>,
) -> Result<Response, ApiError> {
    let password =
        Password::parse_existing(&body.password).map_err(|e| ApiError::validation(e.0))?;
    let email = Email::parse(&body.email).ok();
    let tenant_id = tenant_of(&state, body.tenant_id).await?;
    // Counted before any password work; only a success clears it. (An address that
    // cannot exist has no account to protect; the client address limit still applies.)
    let account = email
        .as_ref()
        .map(|email| account_attempt(&state, tenant_id, email))
        .transpose()?;
    // An address that cannot exist, or a tenant that does not, is checked like an
    // unknown address: same work, same answer.
    let credentials = match &email {
        Some(email) => state.store.user_credentials(tenant_id, email).await?,
        None => None,
    };
    let (user, stored_hash) = match credentials {
        Some(found) => (Some(found.user), Some(found.password_hash)),
        None => (None, None),
    };
    let verified = state.hashing.verify(password, stored_hash).await?;
    match user {
        Some(user) if verified => {
            if let Some(account) = &account {
                account_succeeded(&state, account);
            }
            start_session(&state, &headers, &user, StatusCode::OK).await
        }
        _ => Err(ApiError::invalid_credentials()),
    }
}

/// Sign out: revokes the session server-side and clears the cookie. Always answers `true`.
///
/// The session's WebSockets are closed (4001). Refused when sent from another site's
/// page: an `Origin` other than the server's own (or `--allowed-origins`), or a body that
/// is not JSON.
#[utoipa::path(post, path = "/api/auth/logout", tag = "user auth",
    responses(
        (status = 200, description = "Signed out", body = bool, content_type = "application/json", example = json!(true)),
        (status = 403, description = "`Origin` is not this server's, nor allowed by `--allowed-origins`", body = crate::http::error::UserError),
        (status = 415, description = "A `Content-Type` other than `application/json`", body = crate::http::error::UserError),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    _same_site: NotForged,
    headers: HeaderMap,
    parts: SessionCookie,
) -> Result<Response, ApiError> {
    if let Some(token_hash) = parts.0 {
        state
            .store
            .revoke_session(&token_hash, Timestamp::now())
            .await?;
        // Other nodes' sockets close when their revocation watcher sees it.
        state
            .live_credentials
            .close(&Credential::Session(token_hash));
    }
    let cookie = session::clear_cookie(cookie_secure(&state, &headers));
    Ok(([(header::SET_COOKIE, cookie)], Json(json!(true))).into_response())
}

/// The hash of the session cookie's token, if the request has one (valid or not).
pub struct SessionCookie(Option<Vec<u8>>);

impl<S: Send + Sync> FromRequestParts<S> for SessionCookie {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(SessionCookie(session_token_hash(&parts.headers)))
    }
}

/// 200 with a valid session, 401 without.
#[utoipa::path(head, path = "/api/auth/check", tag = "user auth",
    security(("session" = [])),
    responses((status = 200, description = "The session is valid"), (status = 401, description = "No valid session")))]
pub async fn check(_session: SessionUser) -> StatusCode {
    StatusCode::OK
}
