//! confab: a fast, self-hostable chat-history server for AI assistants.
//!
//! Layout, each layer importing only those below it: `app` (boot), `cli` (the command
//! line), `copy` (`confab copy`), `logging` (log output); `http` (both APIs); `chats` (the use cases: validate,
//! change the store, publish the event); `views` (the JSON shapes and live frames
//! rendered from store records); `events` (live fan-out and presence), `revocation`
//! (revoked credentials end live sockets), `throttle` (abuse limits), `auth` (secrets);
//! `store` (the storage trait and its engines); `config` (flags); `domain` (pure types
//! and rules). See `docs/architecture.md`.

pub mod app;
pub mod auth;
pub mod chats;
pub mod cli;
pub mod config;
pub mod copy;
pub mod domain;
pub mod events;
pub mod http;
pub mod llm;
pub mod logging;
pub mod portability;
pub mod revocation;
pub mod store;
pub mod throttle;
pub mod views;
