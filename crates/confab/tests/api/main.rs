//! Integration tests: a real server over real HTTP against real databases.

mod support;

mod bad_input;
mod cli;
mod delete_last;
mod durability;
mod isolation;
mod openapi;
mod store;
mod user_api;
