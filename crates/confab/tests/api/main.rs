//! Integration tests: a real server over real HTTP against real databases.

mod support;
mod tenant_support;

mod tenant_api;
mod user_api;
mod websocket;
