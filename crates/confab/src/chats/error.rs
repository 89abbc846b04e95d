//! Why a use case refused or failed. `http::error` turns each into a status and a stable
//! code, in the shape of the API that asked.

use std::borrow::Cow;

use crate::domain::ValueError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// An input value is invalid: a name, a model, a message, a batch, a list of ids.
    #[error("{0}")]
    Invalid(Cow<'static, str>),
    /// `metadata` is not a small JSON object.
    #[error("{0}")]
    InvalidMetadata(String),
    /// A search query that cannot be run.
    #[error("{0}")]
    InvalidQuery(crate::domain::search::QueryError),
    /// A `user_id` that is not a positive integer.
    #[error("user_id must be a positive integer")]
    InvalidUserId,
    /// The `user_id` names no user of the chat's tenant.
    #[error("user not found")]
    UserNotFound,
    /// Delete-last on a chat without messages.
    #[error("the chat has no messages")]
    NoMessages,
    /// Deleting a chat that has this many live connections, without closing them.
    #[error("the chat has {0} live connection(s)")]
    Watched(u64),
    /// Live connections cannot be counted across nodes (Redis unreachable): nothing is
    /// decided on a count that could be too low.
    #[error("live connections cannot be counted: {0:#}")]
    PresenceUnavailable(anyhow::Error),
    /// No LLM provider is configured (`--llm-base-url`).
    #[error("no LLM provider is configured")]
    LlmNotConfigured,
    /// This node generates as many replies as it may (`--llm-max-concurrent`).
    #[error("too many replies are being generated")]
    TooManyGenerations,
    /// The chat has as many share links as it may.
    #[error("the chat has the most share links allowed")]
    TooManyShares,
    /// The chat's active path is too large to share (its snapshot would be over the cap).
    #[error("the chat is too large to share")]
    ShareTooLarge,
    /// No such share link (of this chat).
    #[error("share not found")]
    ShareNotFound,
    /// Erasing oneself with a password that is not the account's.
    #[error("wrong password")]
    WrongPassword,
    #[error("too many imports are running")]
    ImportBusy,
    /// A whole import file refused before anything was stored.
    #[error("{0}")]
    ImportRefused(#[from] crate::portability::reader::ReadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ChatError {
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        ChatError::Invalid(message.into())
    }
}

impl From<ValueError> for ChatError {
    fn from(error: ValueError) -> Self {
        ChatError::Invalid(error.0.into())
    }
}
