//! Search as confab defines it, independent of any engine: how text becomes words
//! ([`text`]), what a query means ([`query`]), and what a hit shows ([`snippet`]). The
//! store turns the same words into each engine's index and query syntax.

pub mod query;
pub mod snippet;
pub mod text;

pub use query::{Query, QueryError, Term};
pub use snippet::{snippet, Snippet};
