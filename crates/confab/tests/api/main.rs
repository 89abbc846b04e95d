//! Integration tests: a real server over real HTTP against real databases.

mod support;
mod tenant_support;

mod accounts;
mod bad_input;
mod cli;
mod copy;
mod crash;
mod cross_site;
mod delete_last;
mod durability;
mod forwarded_proto;
mod harness;
mod isolation;
mod limits;
mod message_spelling;
mod metadata;
mod model;
mod multi_node;
mod multi_node_revocation;
mod openapi;
mod quotas;
mod raw_http;
mod redis_bus;
mod revocation;
mod schema;
mod security;
mod store;
mod store_busy;
mod streaming;
mod tenant_api;
mod tree;
mod tree_concurrency;
mod tree_migration;
mod user_api;
mod websocket;
