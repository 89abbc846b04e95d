//! Integration tests: a real server over real HTTP against real databases.

mod support;
mod tenant_support;

mod bad_input;
mod cli;
mod copy;
mod crash;
mod delete_last;
mod durability;
mod isolation;
mod limits;
mod model;
mod multi_node;
mod openapi;
mod redis_bus;
mod security;
mod store;
mod streaming;
mod tenant_api;
mod user_api;
mod websocket;
