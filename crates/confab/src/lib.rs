//! confab: a fast, self-hostable chat-history server for AI assistants.
//!
//! Layout: `domain` (pure types and rules), `store` (the storage trait and its engines),
//! `auth` (secrets), `events` (live fan-out and presence), `revocation` (revoked
//! credentials end live sockets), `throttle` (abuse limits),
//! `http` (both APIs), `app` (boot), `cli` (the command line), `copy` (`confab copy`:
//! one database into another), `logging` (log output).
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod copy;
pub mod domain;
pub mod events;
pub mod http;
pub mod logging;
pub mod revocation;
pub mod store;
pub mod throttle;
