//! The session cookie: who is signed in, and the user-API routes' own user and chat.

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap, Method};

use super::path::{path_id, MessageId};
use crate::auth::session;
use crate::domain::Timestamp;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::http::throttle::user_write;
use crate::http::{forwarded, origin};
use crate::store::{
    AfterSession, ChatRef, ChatVersion, ChatsFingerprint, ReadAfterSession, StoreResult, UserRecord,
};

/// Whether the session cookie must carry `Secure`: configured, or a trusted
/// TLS-terminating proxy says the client used HTTPS.
pub fn cookie_secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.cookie_secure
        || forwarded::client_used_https(headers, state.config.abuse.trust_forwarded_for)
}

/// The signed-in user of a valid, unexpired, unrevoked session cookie; else 401. A write
/// (any method but GET and HEAD) from another site's page is refused first: 403
/// `forbidden_origin` (`origin.rs`).
pub struct SessionUser {
    pub user: UserRecord,
    pub token_hash: Vec<u8>,
}

/// The session token hash from the request's cookies, if one is present.
pub fn session_token_hash(headers: &HeaderMap) -> Option<Vec<u8>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(session::token_from_cookie_header)
        // Our tokens are 43 characters; anything far longer is not one of ours.
        .filter(|token| token.len() <= 128)
        .map(session::hash_token)
}

impl FromRequestParts<AppState> for SessionUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token_hash = session_token_hash(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            origin::check(&parts.headers, state)?;
        }
        let user = state
            .store
            .session_user(&token_hash, Timestamp::now())
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        Ok(SessionUser { user, token_hash })
    }
}

/// `/api/users/{user_id}/...` for the signed-in user's own id: 401 without a session,
/// 400 for an id that is not a positive integer, 404 for anyone else's id. A write (any
/// method but GET and HEAD) also spends one of the user's writes: 429 over the rate.
pub struct OwnUser(pub UserRecord);

impl FromRequestParts<AppState> for OwnUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (user, _) = own_user_and(parts, state, None).await?;
        Ok(OwnUser(user))
    }
}

/// [`OwnUser`]'s checks, in its order, with what `then` asks of the user read in the
/// session's snapshot (see [`Store::session_user_and`](crate::store::Store)).
async fn own_user_and(
    parts: &mut Parts,
    state: &AppState,
    then: Option<AfterSession>,
) -> Result<(UserRecord, Option<ReadAfterSession>), ApiError> {
    let token_hash = session_token_hash(&parts.headers).ok_or_else(ApiError::unauthorized)?;
    let write = !matches!(parts.method, Method::GET | Method::HEAD);
    if write {
        origin::check(&parts.headers, state)?;
    }
    let now = Timestamp::now();
    let (user, read) = match then {
        Some(then) => {
            let (user, read) = state
                .store
                .session_user_and(&token_hash, now, then)
                .await?
                .ok_or_else(ApiError::unauthorized)?;
            (user, Some(read))
        }
        None => {
            let user = state.store.session_user(&token_hash, now).await?;
            (user.ok_or_else(ApiError::unauthorized)?, None)
        }
    };
    let user_id = path_id(parts, state, "user_id").await?;
    if user_id != user.id {
        return Err(ApiError::user_not_found());
    }
    if write {
        user_write(state, user.id)?;
    }
    Ok((user, read))
}

/// [`OwnUser`] with the user's chats fingerprint, read in one snapshot with the session:
/// what a cached chat list is checked against.
pub struct OwnUserFingerprint {
    pub user: UserRecord,
    pub fingerprint: ChatsFingerprint,
}

impl FromRequestParts<AppState> for OwnUserFingerprint {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (user, read) = own_user_and(parts, state, Some(AfterSession::ChatsFingerprint)).await?;
        let fingerprint = match read {
            Some(ReadAfterSession::ChatsFingerprint(fingerprint)) => fingerprint,
            _ => state.store.chats_fingerprint(user.id).await?,
        };
        Ok(OwnUserFingerprint { user, fingerprint })
    }
}

/// `/api/users/{user_id}/chats/{chat_id}/...`: [`OwnUser`] plus a valid chat id. Whether
/// the chat is the user's is decided by the store, in the same transaction as the work.
pub struct OwnChat {
    pub user: UserRecord,
    pub chat: ChatRef,
}

impl FromRequestParts<AppState> for OwnChat {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let OwnUser(user) = OwnUser::from_request_parts(parts, state).await?;
        let chat_id = path_id(parts, state, "chat_id").await?;
        Ok(OwnChat {
            chat: ChatRef::User {
                user_id: user.id,
                chat_id,
            },
            user,
        })
    }
}

/// [`OwnChat`] with the chat's version, read in one snapshot with the session: what a
/// cached message list is checked against.
pub struct OwnChatVersion {
    pub chat: ChatRef,
    /// The version, or the store's answer for a chat that is not the user's (not found).
    pub version: StoreResult<ChatVersion>,
}

impl FromRequestParts<AppState> for OwnChatVersion {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Read first, reported after the user's checks, as `OwnChat` orders them.
        let chat_id = path_id(parts, state, "chat_id").await;
        let then = chat_id
            .as_ref()
            .ok()
            .map(|id| AfterSession::ChatVersion(*id));
        let (user, read) = own_user_and(parts, state, then).await?;
        let chat = ChatRef::User {
            user_id: user.id,
            chat_id: chat_id?,
        };
        let version = match read {
            Some(ReadAfterSession::ChatVersion(version)) => version,
            _ => state.store.chat_version(&chat).await,
        };
        Ok(OwnChatVersion { chat, version })
    }
}

/// `/api/users/{user_id}/chats/{chat_id}/messages/{message_id}/...` of a reply: [`OwnChat`]
/// and a valid message id, with whether that message of the user's chat is being
/// generated, read in one snapshot with the session (a resumer's whole check when this
/// node's log of the reply holds what it asks for).
pub struct OwnChatReply {
    pub chat: ChatRef,
    pub message_id: i64,
    /// `false` also when the chat or message is not the user's.
    pub running: bool,
}

impl FromRequestParts<AppState> for OwnChatReply {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Read first, reported in `OwnChat`'s order, then `MessageId`'s.
        let chat_id = path_id(parts, state, "chat_id").await;
        let message_id = MessageId::from_request_parts(parts, state).await;
        let then = match (&chat_id, &message_id) {
            (Ok(chat_id), Ok(MessageId(message_id))) => Some(AfterSession::ReplyRunning {
                chat_id: *chat_id,
                message_id: *message_id,
            }),
            _ => None,
        };
        let (user, read) = own_user_and(parts, state, then).await?;
        let chat = ChatRef::User {
            user_id: user.id,
            chat_id: chat_id?,
        };
        let MessageId(message_id) = message_id?;
        let running = match read {
            Some(ReadAfterSession::ReplyRunning(running)) => running,
            _ => state.store.reply_running(&chat, message_id).await?,
        };
        Ok(OwnChatReply {
            chat,
            message_id,
            running,
        })
    }
}
