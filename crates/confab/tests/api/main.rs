//! Integration tests: a real server over real HTTP against real databases.

mod support;

mod copy;
mod multi_node;
mod redis_bus;
mod store;
mod user_api;
